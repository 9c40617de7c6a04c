/**
 * The PostgreSQL server the tests of both PostgreSQL packages run against: MDM_TEST_POSTGRES_URL
 * (default postgresql://root@127.0.0.1:5432/postgres). Each test file takes its own database prefix
 * and drops every database and schema of it afterwards. Without a server the tests skip with a printed
 * reason; with CI=true that is a failure.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { defaultConfig, postgresConfigFromUrl, quoteIdentifier, type PostgresqlConfig } from "@mdm/storage-core";

export const TEST_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";

/** The server settings of the URL on top of the defaults, with sslmode disable unless the URL says otherwise. */
export function serverConfig(overrides: Partial<PostgresqlConfig> = {}): PostgresqlConfig {
  const fromUrl = postgresConfigFromUrl(TEST_URL);
  return { ...defaultConfig().database.postgresql, sslmode: "disable", ...fromUrl, ...overrides };
}

async function probe(): Promise<string | undefined> {
  const c = serverConfig();
  const client = new pg.Client({ host: c.host, port: c.port, user: c.user ?? undefined, password: c.password ?? undefined, database: c.database ?? "postgres", connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return `no PostgreSQL server at ${c.host}:${c.port} (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const reason = await probe();
if (reason !== undefined) {
  if (process.env.CI === "true") throw new Error(`PostgreSQL tests cannot be skipped under CI=true: ${reason}`);
  console.warn(`Skipping PostgreSQL tests: ${reason}`);
}
/** True when the server answered; use with describe.skipIf(!serverAvailable). */
export const serverAvailable = reason === undefined;

/** A fresh database prefix `mdmt{hex}_` for one test file (short, so dataset names keep room). */
export function uniquePrefix(): string {
  return `mdmt${randomBytes(3).toString("hex")}_`;
}

/** A client on the maintenance database for test setup. */
export async function adminClient(database?: string): Promise<pg.Client> {
  const c = serverConfig();
  const client = new pg.Client({ host: c.host, port: c.port, user: c.user ?? undefined, password: c.password ?? undefined, database: database ?? c.database ?? "postgres" });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** Drop every database whose name starts with the prefix (other sessions terminated first). */
export async function dropPrefixedDatabases(prefix: string): Promise<void> {
  const client = await adminClient();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", [prefix]);
    for (const { datname } of rows) {
      await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [datname]);
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)}`);
    }
  } finally {
    await client.end();
  }
}

/** Create a database for schema-per-dataset tests; returns its name. */
export async function createScratchDatabase(prefix: string, suffix = "schemas"): Promise<string> {
  const name = `${prefix}${suffix}`;
  const client = await adminClient();
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return name;
}

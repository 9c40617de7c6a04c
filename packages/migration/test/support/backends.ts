/**
 * Real backends for the migration tests: SQLite and DuckDB in a temp MDM home, PostgreSQL on the server
 * of MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres) under a database prefix of
 * this test file, dropped afterwards. Without a server the PostgreSQL cases skip with a printed reason;
 * under CI=true that is a failure.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { defaultConfig, postgresConfigFromUrl, quoteIdentifier, type BackendType, type IStorageBackend, type Implementation, type PostgresqlConfig } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { LegacySqliteStorageBackend } from "@mdm/storage-sqlite-legacy";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { LegacyDuckdbStorageBackend } from "@mdm/storage-duckdb-legacy";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";
import { LegacyPostgresqlStorageBackend } from "@mdm/storage-postgresql-legacy";

export const TEST_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";

export function pgConfig(overrides: Partial<PostgresqlConfig> = {}): PostgresqlConfig {
  return { ...defaultConfig().database.postgresql, sslmode: "disable", ...postgresConfigFromUrl(TEST_URL), ...overrides };
}

export async function adminClient(): Promise<pg.Client> {
  const c = pgConfig();
  const client = new pg.Client({ host: c.host, port: c.port, user: c.user ?? undefined, password: c.password ?? undefined, database: c.database ?? "postgres", connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

async function probe(): Promise<string | undefined> {
  try {
    const client = await adminClient();
    await client.end();
    return undefined;
  } catch (error) {
    return `no PostgreSQL server (${(error as Error).message})`;
  }
}

const reason = await probe();
if (reason !== undefined) {
  if (process.env.CI === "true") throw new Error(`PostgreSQL tests cannot be skipped under CI=true: ${reason}`);
  console.warn(`Skipping PostgreSQL migration tests: ${reason}`);
}
export const postgresAvailable = reason === undefined;

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

export interface Env {
  home: string;
  prefix: string;
  make(type: BackendType, implementation: Implementation): IStorageBackend;
  cleanup(): Promise<void>;
}

/** A temp MDM home and a PostgreSQL prefix shared by every backend of one test. */
export function environment(): Env {
  const home = mkdtempSync(join(tmpdir(), "mdm-migration-test-"));
  const prefix = `mdmm${randomBytes(3).toString("hex")}_`;
  const made: IStorageBackend[] = [];
  return {
    home,
    prefix,
    make(type, implementation) {
      let backend: IStorageBackend;
      if (type === "sqlite") backend = implementation === "new" ? new SqliteStorageBackend({ homeDir: home }) : new LegacySqliteStorageBackend({ homeDir: home });
      else if (type === "duckdb") backend = implementation === "new" ? new DuckdbStorageBackend({ homeDir: home, duckdb: { memoryLimit: "1GB", threads: 2 } }) : new LegacyDuckdbStorageBackend({ homeDir: home, duckdb: { memoryLimit: "1GB", threads: 2 } });
      else {
        const config = pgConfig({ database_prefix: prefix });
        backend = implementation === "new" ? new PostgresqlStorageBackend({ config }) : new LegacyPostgresqlStorageBackend({ config });
      }
      made.push(backend);
      return backend;
    },
    async cleanup() {
      for (const backend of made) await backend.close().catch(() => undefined);
      if (postgresAvailable) await dropPrefixedDatabases(prefix).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

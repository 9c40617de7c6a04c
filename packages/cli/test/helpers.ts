import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TableChecksum, isSqlDate, isSqlTimestamp, type IStorageBackend } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";

export const MDM_BIN = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "dist", "bin.js");
export const EXAMPLE_DATASET = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "data", "example-dataset");

if (!existsSync(MDM_BIN)) throw new Error(`${MDM_BIN} is missing: build @mdm/cli first (pnpm --filter @mdm/cli build)`);

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child `mdm`: a temp MDM home, no MDM_* settings of the caller. */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MDM_")) env[k] = v;
  return { ...env, MDM_HOME_DIR: home, NO_COLOR: "1", ...extra };
}

/** Run the built `mdm` as a user would (a child process). */
export function mdm(args: string[], env: NodeJS.ProcessEnv, options: { onStderr?: (text: string, child: ReturnType<typeof spawn>) => void; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MDM_BIN, ...args], { env, cwd: options.cwd ?? tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      options.onStderr?.(stderr, child);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mdm-cli-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Order-independent checksum of every table of a dataset, by table name. */
export async function datasetChecksums(backend: IStorageBackend, name: string): Promise<Record<string, { count: number; hash: string; columns: string }>> {
  const engine = await backend.getDatasetEngine(name);
  const out: Record<string, { count: number; hash: string; columns: string }> = {};
  for (const table of await backend.listTables(name)) {
    const info = await backend.getTableInfo(table, engine);
    const sum = new TableChecksum(info.columns);
    for await (const batch of backend.readBatches(table, { engine, columns: info.columns.map((c) => c.name) })) sum.addAll(batch.rows);
    out[table] = { ...sum.toJSON(), columns: info.columns.map((c) => `${c.name}:${c.type}`).join(",") };
  }
  return out;
}

// --- PostgreSQL -----------------------------------------------------------------------------------

export const POSTGRES_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";

/** MDM_DATABASE_POSTGRESQL_* settings for the test server and a database prefix unique to the caller. */
export function postgresEnv(): { env: Record<string, string>; prefix: string; config: { host: string; port: number; user: string | null; password: string | null; database_prefix: string; sslmode: "disable" } } {
  const url = new URL(POSTGRES_URL);
  const prefix = `mdmcli_${randomBytes(3).toString("hex")}_`;
  const env: Record<string, string> = {
    MDM_DATABASE_POSTGRESQL_HOST: url.hostname,
    MDM_DATABASE_POSTGRESQL_PORT: url.port || "5432",
    MDM_DATABASE_POSTGRESQL_DATABASE_PREFIX: prefix,
    MDM_DATABASE_POSTGRESQL_SSLMODE: "disable",
  };
  if (url.username) env.MDM_DATABASE_POSTGRESQL_USER = decodeURIComponent(url.username);
  if (url.password) env.MDM_DATABASE_POSTGRESQL_PASSWORD = decodeURIComponent(url.password);
  return {
    env,
    prefix,
    config: {
      host: url.hostname,
      port: Number(url.port || 5432),
      user: url.username ? decodeURIComponent(url.username) : null,
      password: url.password ? decodeURIComponent(url.password) : null,
      database_prefix: prefix,
      sslmode: "disable",
    },
  };
}

/** A new backend of that type reading the datasets of `home` (PostgreSQL: the test server's, under `config`'s prefix). */
export async function backendOfType(type: string, home: string, config: ReturnType<typeof postgresEnv>["config"]): Promise<IStorageBackend> {
  if (type === "sqlite") return new SqliteStorageBackend({ homeDir: home });
  if (type === "duckdb") return new DuckdbStorageBackend({ homeDir: home });
  const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
  return new PostgresqlStorageBackend({ config });
}

/** Whether the test server accepts TCP connections; the reason when not. Under CI=true its absence is an error. */
export async function postgresAvailable(): Promise<string | undefined> {
  const url = new URL(POSTGRES_URL);
  const reason = await new Promise<string | undefined>((done) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5432) });
    const timer = setTimeout(() => {
      socket.destroy();
      done(`no PostgreSQL server answered at ${url.hostname}:${url.port || 5432} within 3 s`);
    }, 3000);
    socket.on("connect", () => {
      clearTimeout(timer);
      socket.end();
      done(undefined);
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      done(`no PostgreSQL server at ${url.hostname}:${url.port || 5432} (${e.message}); set MDM_TEST_POSTGRES_URL`);
    });
  });
  if (reason && process.env.CI === "true") throw new Error(`CI=true and PostgreSQL tests cannot run: ${reason}`);
  if (reason) console.warn(`[@mdm/cli] skipping PostgreSQL tests: ${reason}`);
  return reason;
}

/** Drop every database whose name starts with the prefix (datasets and staging of one test file). */
export async function dropPostgresDatabases(config: ReturnType<typeof postgresEnv>["config"]): Promise<void> {
  const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
  const backend = new PostgresqlStorageBackend({ config });
  try {
    await backend.init();
    const pool = (await backend.getConnection(await backend.getEngine("postgres"))) as { query(sql: string, params?: unknown[]): Promise<{ rows: Array<{ datname: string }> }> };
    const { rows } = await pool.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [config.database_prefix]);
    await backend.closeConnections();
    for (const { datname } of rows) await backend.dropDatabase(datname).catch(() => undefined);
  } finally {
    await backend.close();
  }
}

/** A value as comparable text that keeps its type: 1n and 1 and "1" differ, -0 is not 0. */
export function shown(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "bigint") return `int:${v}`;
  if (typeof v === "number") return `num:${Object.is(v, -0) ? "-0" : String(v)}`;
  if (typeof v === "boolean") return `bool:${v}`;
  if (isSqlDate(v)) return `date:${v.toString()}`;
  if (isSqlTimestamp(v)) return `ts:${v.toString()}`;
  if (typeof v === "string") return `text:${JSON.stringify(v)}`;
  return `other:${JSON.stringify(v)}`;
}


// Helpers shared by the CLI's benchmark scripts (register.mjs, export.mjs): child processes timed with
// /usr/bin/time -v, DuckDB statements in a child node process, psql, and the mdm.yaml of a temp MDM home.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";

const SCRIPT = fileURLToPath(import.meta.url);
export const MDM_BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
export const PG_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";
export const TIME_BIN = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

export const fmt = (n) => Math.round(n).toLocaleString("en-US");
export const mb = (kb) => (kb === undefined ? "?" : `${(kb / 1024).toFixed(0)} MB`);
export const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
export const ok = (good) => (good ? "met" : "MISSED");

/** The environment of an mdm child: this one without MDM_* variables, plus `extra`. */
export function mdmEnv(home, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MDM_")) env[k] = v;
  return Object.assign(env, { MDM_HOME_DIR: home, MDM_PRINT_MAX_RSS: "1", NO_COLOR: "1" }, extra);
}

export async function run(command, args, { env = process.env, cwd } = {}) {
  const started = performance.now();
  const child = spawn(TIME_BIN ?? command, TIME_BIN ? ["-v", command, ...args] : args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = await once(child, "close");
  const seconds = (performance.now() - started) / 1000;
  const timeRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  const selfRss = /max_rss_kb=(\d+)/.exec(stderr)?.[1];
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
  const own = stderr.replace(/\n?\s*Command being timed:[\s\S]*$/, "");
  return { code, seconds, rssKb: timeRss ? Number(timeRss) : selfRss ? Number(selfRss) : undefined, selfRssKb: selfRss ? Number(selfRss) : undefined, cpu: user + sys, stdout, stderr: own };
}

export function failure(what, result) {
  return new Error(`${what} exited with ${result.code}:\n${(result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n")}`);
}

/** Child mode: run SQL statements in DuckDB (@duckdb/node-api of packages/storage-duckdb), print the last result's first value. */
export async function duckdbChild(spec) {
  const require = createRequire(new URL("../../storage-duckdb/package.json", import.meta.url));
  const { DuckDBInstance } = await import(pathToFileURL(require.resolve("@duckdb/node-api")).href);
  const instance = await DuckDBInstance.create(spec.db);
  const connection = await instance.connect();
  let last;
  for (const sql of spec.sql) last = await connection.runAndReadAll(sql);
  const value = last?.getRows()[0]?.[0];
  connection.closeSync();
  instance.closeSync();
  process.stdout.write(`${JSON.stringify({ value: value === undefined ? null : String(value) })}\n`);
}

export async function duckdb(db, sql) {
  const result = await run(process.execPath, [SCRIPT, "--duckdb-child", JSON.stringify({ db, sql })]);
  if (result.code !== 0) throw failure("DuckDB", result);
  return { ...result, value: JSON.parse(result.stdout.trim().split("\n").pop()).value };
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL

export const pgUrl = (database) => {
  const url = new URL(PG_URL);
  if (database) url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
};

export async function psql(sql, database) {
  const result = await run("psql", [pgUrl(database), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]);
  if (result.code !== 0) throw failure(`psql -c ${JSON.stringify(sql.slice(0, 80))}`, result);
  return result;
}

export async function dropDatabases(prefix) {
  const { stdout } = await psql(`SELECT datname FROM pg_database WHERE starts_with(datname, '${prefix}')`);
  for (const name of stdout.split("\n").filter(Boolean)) await psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

export function mdmYaml(prefix) {
  const url = new URL(PG_URL);
  const lines = ["database:", "  postgresql:", `    host: ${JSON.stringify(url.hostname)}`, `    port: ${Number(url.port || 5432)}`];
  if (url.username) lines.push(`    user: ${JSON.stringify(decodeURIComponent(url.username))}`);
  if (url.password) lines.push(`    password: ${JSON.stringify(decodeURIComponent(url.password))}`);
  lines.push(`    database_prefix: ${JSON.stringify(prefix)}`, '    sslmode: "disable"');
  return `${lines.join("\n")}\n`;
}


if (process.argv[1] === SCRIPT && process.argv[2] === "--duckdb-child") await duckdbChild(JSON.parse(process.argv[3]));

// Migration benchmark (a script, not a test). One run of everything per invocation, on the same machine
// load, printed beside the figures:
//
//   pnpm --filter @mdm/migration build        (the backends' dist must exist too)
//   node packages/migration/bench/migrate.mjs [--rows N] [--pairs sqlite-duckdb,...] [--skip-pgloader] [--big] [--source-sqlite JSON]
//
// A table of N rows (default 1,000,000) x 11 columns (int64 id, four float64, decimal(18,4), two text,
// boolean, date, timestamp; a few NULLs) is written once into a SQLite, a DuckDB and a PostgreSQL
// dataset (not timed). Then, for each pair, each in its own child process so peak RSS
// (process.resourceUsage().maxRSS at the end of the child) belongs to that run alone:
//   - plain: a hand-written read-then-write loop (better-sqlite3 keyset pages with all() and safeIntegers / DuckDB
//     streaming chunks / pg COPY TO STDOUT for reading; DuckDB data-chunk Appender / pg COPY FROM STDIN for
//     writing; no staging, no verification);
//   - ours, verify "none" and verify "checksum": StorageMigrator.migrateDataset with the new backends.
// Times are wall clock from the first connection to the last close (DuckDB's checkpoint included) in both.
// SQLite→PostgreSQL also runs pgloader on the same SQLite file (wall time of the process, peak RSS from
// /usr/bin/time) and compares a sample of doubles read back from PostgreSQL with the source's.
// --big adds SQLite→DuckDB at 5x the rows, to show that peak RSS does not grow with the table.
// SQLite→DuckDB and SQLite→PostgreSQL also run the built `mdm migrate` (packages/cli/dist/bin.js) with no
// feature flag set ("default flags"), in a child process on a temp MDM home whose registry points at a copy
// of the same SQLite dataset: wall time of the whole process, peak RSS and CPU from /usr/bin/time (--no-cli skips it;
// --cli-legacy adds a run with --copy-with flags, the legacy implementations the flags choose).
// PostgreSQL: MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres); every database
// the script creates starts with a random prefix and is dropped at the end.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath, pathToFileURL } from "node:url";

const SCRIPT = fileURLToPath(import.meta.url);
const PG_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";
const DATASET = "bench";
const TABLE = "data";
/** Rows per batch of ours (the migrator's default, 2,048); --batch-size changes it. */
let BATCH_SIZE = 2048;
/** DuckDB settings of every DuckDB instance here (ours and the plain loop's). */
/**
 * SQLite settings of ours' source backend (--source-sqlite '<json>', e.g. '{"mmap_size":0,"cache_size":-2000}',
 * which is how the plain loop's better-sqlite3 reads: no memory map, a 2 MB page cache). Default: MDM's
 * (mmap_size 256 MB, cache_size 64 MB), whose mapped pages count in RSS.
 */
let SOURCE_SQLITE = {};
const DUCKDB_SETTINGS = { threads: 2, ...(process.env.BENCH_DUCKDB_MEMORY_LIMIT ? { memoryLimit: process.env.BENCH_DUCKDB_MEMORY_LIMIT } : {}) };
const CHUNK = 2048;
const ALL_PAIRS = ["sqlite-duckdb", "sqlite-postgresql", "duckdb-postgresql", "postgresql-duckdb"];
/** Pairs also run through the built `mdm migrate` with the default flags (issue 18). */
const CLI_PAIRS = ["sqlite-duckdb", "sqlite-postgresql"];
const MDM_BIN = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url));

const COLUMNS = [
  { name: "id", type: "int64", nullable: false },
  { name: "x1", type: "float64" },
  { name: "x2", type: "float64" },
  { name: "x3", type: "float64" },
  { name: "x4", type: "float64" },
  { name: "price", type: "decimal", precision: 18, scale: 4 },
  { name: "label", type: "text" },
  { name: "category", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
];
const DUCKDB_DDL = `CREATE TABLE ${TABLE} (id BIGINT NOT NULL, x1 DOUBLE, x2 DOUBLE, x3 DOUBLE, x4 DOUBLE, price DECIMAL(18,4), label VARCHAR, category VARCHAR, flag BOOLEAN, day DATE, ts TIMESTAMP)`;
const PG_DDL = `CREATE TABLE ${TABLE} (id bigint NOT NULL, x1 double precision, x2 double precision, x3 double precision, x4 double precision, price numeric(18,4), label text, category text, flag boolean, day date, ts timestamp(6))`;

// Packages the migration package does not depend on (drivers of the plain loops) are loaded from the
// backend packages that do.
const requireFrom = (pkg) => createRequire(new URL(`../../${pkg}/package.json`, import.meta.url));
const importFrom = async (pkg, name) => import(pathToFileURL(requireFrom(pkg).resolve(name)).href);

const fmt = (n) => Math.round(n).toLocaleString("en-US");

/**
 * CPU seconds the whole machine has spent so far, every process (the run's child, the PostgreSQL server,
 * pgloader) and the kernel: user + nice + system + irq + softirq of /proc/stat's first line. Steal (time the
 * hypervisor gave elsewhere) and idle are left out. Undefined where there is no /proc/stat.
 */
// Read by the child over the same span as its wall clock, and around pgloader's process by the parent.
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function machineCpuSeconds() {
  try {
    const [user, nice, system, , , irq, softirq] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const cpuOfMachine = (seconds) => (Number.isFinite(seconds) ? `${seconds.toFixed(1)} s of the whole machine` : "machine CPU not known");
const mb = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

async function pgConfig(prefix) {
  const { defaultConfig, postgresConfigFromUrl } = await import("@mdm/storage-core");
  return { ...defaultConfig().database.postgresql, sslmode: "disable", ...postgresConfigFromUrl(PG_URL), database_prefix: prefix };
}

/** A pg client on the server of PG_URL, in `database` (default: the URL's). No @mdm import: see runChild. */
async function pgClient(database) {
  const { default: pg } = await import("pg");
  const url = new URL(PG_URL);
  if (database) url.pathname = `/${encodeURIComponent(database)}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

/** A new backend of a type: file backends in `home`, PostgreSQL under `prefix`. */
async function makeBackend(type, where) {
  if (type === "sqlite") {
    const { SqliteStorageBackend } = await import("@mdm/storage-sqlite");
    return new SqliteStorageBackend({ homeDir: where.home, sqlite: where.sqlite });
  }
  if (type === "duckdb") {
    const { DuckdbStorageBackend } = await import("@mdm/storage-duckdb");
    return new DuckdbStorageBackend({ homeDir: where.home, duckdb: DUCKDB_SETTINGS });
  }
  const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
  return new PostgresqlStorageBackend({ config: await pgConfig(where.prefix) });
}

// ------------------------------------------------------------------------------------------------
// The table

/** Row i in the value model. Doubles with 15-17 significant digits; NULLs every 101st row in x4 and label. */
function makeRow(i, SqlDate, SqlTimestamp) {
  return [
    BigInt(i),
    Math.sin(i) * 1000,
    i / 7,
    Math.sqrt(i) + 0.1,
    i % 101 === 0 ? null : Math.exp((i % 700) / 100) - 1 / 3,
    `${(i * 37) % 100_000_000}.${String(i % 10_000).padStart(4, "0")}`,
    i % 101 === 0 ? null : `label-${i}`,
    ["train", "test", "validation"][i % 3],
    i % 2 === 0,
    new SqlDate((i % 20_000) - 1_000),
    new SqlTimestamp(BigInt(i) * 1_000_001n - 100_000_000_000n),
  ];
}

async function* rowBatches(rows) {
  const { SqlDate, SqlTimestamp } = await import("@mdm/storage-core");
  for (let start = 0; start < rows; start += 50_000) {
    const batch = [];
    for (let i = start; i < Math.min(rows, start + 50_000); i++) batch.push(makeRow(i, SqlDate, SqlTimestamp));
    yield batch;
  }
}

/** Write the table once into a dataset of `type` (not timed). Returns where the plain loops find it. */
async function prepareSource(type, where, rows) {
  const backend = await makeBackend(type, where);
  try {
    await backend.createDataset(DATASET);
    const engine = await backend.getDatasetEngine(DATASET);
    const written = await backend.writeBatches(TABLE, COLUMNS, rowBatches(rows), { engine });
    if (written !== rows) throw new Error(`source ${type}: wrote ${written} rows`);
    return { ...where, path: backend.getDatabasePath(DATASET) };
  } finally {
    await backend.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Plain loops (run in a child)

const PAD4 = "0000";
/** "123.45" (any scale) as the unscaled bigint of a DECIMAL(18,4). */
function unscaled(text) {
  const dot = text.indexOf(".");
  if (dot < 0) return BigInt(text) * 10_000n;
  const fraction = text.slice(dot + 1);
  return BigInt(text.slice(0, dot) + fraction + PAD4.slice(fraction.length));
}

const dayCache = new Map();
/** "YYYY-MM-DD" → days since 1970-01-01. */
function daysOf(text) {
  let days = dayCache.get(text);
  if (days === undefined) {
    days = Date.UTC(Number(text.slice(0, 4)), Number(text.slice(5, 7)) - 1, Number(text.slice(8, 10))) / 86_400_000;
    dayCache.set(text, days);
  }
  return days;
}

/** "YYYY-MM-DD HH:MM:SS[.ffffff]" → microseconds since the epoch. */
function microsOf(text) {
  const seconds = daysOf(text.slice(0, 10)) * 86_400 + Number(text.slice(11, 13)) * 3600 + Number(text.slice(14, 16)) * 60 + Number(text.slice(17, 19));
  const fraction = text.length > 20 ? Number((text.slice(20) + "000000").slice(0, 6)) : 0;
  return BigInt(seconds) * 1_000_000n + BigInt(fraction);
}

/** COPY text escaping of a string. */
function esc(s) {
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}
function unesc(s) {
  if (s === "\\N") return null;
  if (!s.includes("\\")) return s;
  return s.replace(/\\(.)/g, (_, c) => ({ t: "\t", n: "\n", r: "\r", "\\": "\\" })[c] ?? c);
}

/**
 * Rows of a SQLite table as better-sqlite3 gives them: raw arrays, INTEGER as bigint (and the rowid
 * last, which the loops do not look at). Read in keyset pages of CHUNK rows with all(), the fastest
 * plain read we know (faster than iterate(); see the SQLite README's benchmark).
 */
function* sqliteRows(path) {
  const Database = requireFrom("storage-sqlite")("better-sqlite3");
  const db = new Database(path, { readonly: true });
  try {
    const page = db.prepare(`SELECT *, rowid FROM "${TABLE}" WHERE rowid > ? ORDER BY rowid LIMIT ${CHUNK}`).raw(true).safeIntegers(true);
    let last = -(2n ** 63n);
    for (;;) {
      const rows = page.all(last);
      yield* rows;
      if (rows.length < CHUNK) return;
      last = rows[rows.length - 1][11];
    }
  } finally {
    db.close();
  }
}

/** Rows of a DuckDB table, streamed chunk by chunk, as @duckdb/node-api's JS values. */
async function* duckdbRows(path) {
  const { DuckDBInstance } = await importFrom("storage-duckdb", "@duckdb/node-api");
  const { instanceOptions } = await import("@mdm/storage-duckdb");
  const instance = await DuckDBInstance.create(path, { ...instanceOptions(DUCKDB_SETTINGS), access_mode: "READ_ONLY" });
  const connection = await instance.connect();
  try {
    const result = await connection.stream(`SELECT * FROM ${TABLE}`);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const columns = [];
      for (let c = 0; c < chunk.columnCount; c++) columns.push(chunk.getColumnValues(c));
      for (let r = 0; r < chunk.rowCount; r++) yield columns.map((values) => values[r]);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Rows of a PostgreSQL table from COPY TO STDOUT (text format), split into fields (NULL as null). */
async function* postgresqlRows(database) {
  const { to } = requireFrom("storage-postgresql")("pg-copy-streams");
  const client = await pgClient(database);
  try {
    const stream = client.query(to(`COPY ${TABLE} TO STDOUT`));
    const decoder = new StringDecoder("utf8");
    let rest = "";
    for await (const buffer of stream) {
      const text = rest + decoder.write(buffer);
      let start = 0;
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
        yield text.slice(start, end).split("\t").map(unesc);
        start = end + 1;
      }
      rest = text.slice(start);
    }
  } finally {
    await client.end();
  }
}

/** Converters of the plain loops, per source, to DuckDB Appender values and to COPY text fields. */
const toDuckdb = {
  sqlite: [(v) => v, (v) => v, (v) => v, (v) => v, (v) => v, (v, d) => v === null ? null : new d.DuckDBDecimalValue(unscaled(v), 18, 4), (v) => v, (v) => v, (v) => (v === null ? null : v !== 0n), (v, d) => (v === null ? null : new d.DuckDBDateValue(daysOf(v))), (v, d) => (v === null ? null : new d.DuckDBTimestampValue(microsOf(v)))],
  postgresql: [
    (v) => BigInt(v),
    (v) => (v === null ? null : Number(v)),
    (v) => (v === null ? null : Number(v)),
    (v) => (v === null ? null : Number(v)),
    (v) => (v === null ? null : Number(v)),
    (v, d) => (v === null ? null : new d.DuckDBDecimalValue(unscaled(v), 18, 4)),
    (v) => v,
    (v) => v,
    (v) => (v === null ? null : v === "t"),
    (v, d) => (v === null ? null : new d.DuckDBDateValue(daysOf(v))),
    (v, d) => (v === null ? null : new d.DuckDBTimestampValue(microsOf(v))),
  ],
};
const text = (v) => (v === null ? "\\N" : String(v));
const toCopy = {
  sqlite: [text, text, text, text, text, text, (v) => (v === null ? "\\N" : esc(v)), (v) => (v === null ? "\\N" : esc(v)), (v) => (v === null ? "\\N" : v !== 0n ? "t" : "f"), text, text],
  duckdb: [text, text, text, text, text, text, (v) => (v === null ? "\\N" : esc(v)), (v) => (v === null ? "\\N" : esc(v)), (v) => (v === null ? "\\N" : v ? "t" : "f"), text, text],
};

function sourceRows(source) {
  if (source.type === "sqlite") return sqliteRows(source.path);
  if (source.type === "duckdb") return duckdbRows(source.path);
  return postgresqlRows(source.path);
}

/** Plain loop into DuckDB: data chunks of 2048 rows through one Appender, then close (checkpoint). */
async function plainToDuckdb(source, targetPath) {
  const d = await importFrom("storage-duckdb", "@duckdb/node-api");
  const { instanceOptions } = await import("@mdm/storage-duckdb");
  const instance = await d.DuckDBInstance.create(targetPath, instanceOptions(DUCKDB_SETTINGS));
  const connection = await instance.connect();
  await connection.run(DUCKDB_DDL);
  const types = [d.BIGINT, d.DOUBLE, d.DOUBLE, d.DOUBLE, d.DOUBLE, d.DECIMAL(18, 4), d.VARCHAR, d.VARCHAR, d.BOOLEAN, d.DATE, d.TIMESTAMP];
  const convert = toDuckdb[source.type];
  const appender = await connection.createAppender(TABLE);
  let columns = types.map(() => new Array(CHUNK));
  let filled = 0;
  let rows = 0;
  const flush = () => {
    const chunk = d.DuckDBDataChunk.create(types, filled);
    for (let c = 0; c < types.length; c++) chunk.setColumnValues(c, filled === CHUNK ? columns[c] : columns[c].slice(0, filled));
    appender.appendDataChunk(chunk);
    rows += filled;
    filled = 0;
    columns = types.map(() => new Array(CHUNK));
  };
  for await (const row of sourceRows(source)) {
    for (let c = 0; c < types.length; c++) columns[c][filled] = convert[c](row[c], d);
    if (++filled === CHUNK) flush();
  }
  if (filled > 0) flush();
  appender.flushSync();
  appender.closeSync();
  connection.closeSync();
  instance.closeSync();
  return rows;
}

/** Plain loop into PostgreSQL: one COPY FROM STDIN (text) in one transaction. */
async function plainToPostgresql(source, database) {
  const { from } = requireFrom("storage-postgresql")("pg-copy-streams");
  const client = await pgClient(database);
  try {
    await client.query("BEGIN");
    await client.query(PG_DDL);
    const convert = toCopy[source.type];
    const stream = client.query(from(`COPY ${TABLE} FROM STDIN`));
    async function* lines() {
      let out = "";
      for await (const row of sourceRows(source)) {
        for (let c = 0; c < convert.length; c++) out += (c === 0 ? "" : "\t") + convert[c](row[c]);
        out += "\n";
        if (out.length > 1 << 18) {
          yield out;
          out = "";
        }
      }
      if (out) yield out;
    }
    await pipeline(Readable.from(lines()), stream);
    await client.query("COMMIT");
    return stream.rowCount;
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------------------------------------
// One measured run (child process)

/** Peak anonymous and file-backed resident memory, sampled from /proc/self/status (Linux) every 100 ms. */
function sampleMemory() {
  const peak = { anon: 0, file: 0 };
  const read = () => {
    try {
      const status = readFileSync("/proc/self/status", "utf8");
      peak.anon = Math.max(peak.anon, Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
      peak.file = Math.max(peak.file, Number(/RssFile:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // not Linux: only maxRSS is reported
    }
  };
  const timer = setInterval(read, 100);
  timer.unref();
  return () => {
    clearInterval(timer);
    read();
    return peak;
  };
}

async function child(spec) {
  const stopSampling = sampleMemory();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const machineStart = machineCpuSeconds();
  let rows;
  let extra = {};
  if (spec.kind === "prepare") {
    const prepared = await prepareSource(spec.source.type, spec.source, spec.rows);
    rows = spec.rows;
    extra.path = prepared.path;
  } else if (spec.kind === "plain") {
    rows = spec.target.type === "duckdb" ? await plainToDuckdb(spec.source, spec.target.path) : await plainToPostgresql(spec.source, spec.target.path);
  } else {
    const { StorageMigrator } = await import("../dist/index.js");
    const source = await makeBackend(spec.source.type, { ...spec.source, sqlite: spec.sourceSqlite });
    const target = await makeBackend(spec.target.type, spec.target);
    try {
      const migrator = new StorageMigrator({ source, target, home: null, lockDir: spec.lockDir });
      const phases = {};
      let phase;
      let since = performance.now();
      const onProgress = (e) => {
        if (e.phase === phase) return;
        const now = performance.now();
        if (phase) phases[phase] = (phases[phase] ?? 0) + (now - since) / 1000;
        phase = e.phase;
        since = now;
      };
      const result = await migrator.migrateDataset(DATASET, { verify: spec.verify, batchSize: spec.batchSize, onProgress });
      extra.phases = Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
      if (!result.success) throw new Error(`migration failed: ${result.error?.code} ${result.error?.message}`);
      rows = result.verification?.checks.find((c) => c.table === TABLE && c.check === "row_count")?.target ?? spec.rows;
      extra = { ...extra, verification: result.verification ? `${result.verification.mode} ${result.verification.passed ? "passed" : "FAILED"} (${result.verification.checks.length} checks)` : "none", tables: result.tablesMigrated.length };
    } finally {
      await source.close();
      await target.close();
    }
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpuStart);
  extra.cpu = (used.user + used.system) / 1e6;
  extra.machineCpu = machineCpuSeconds() - machineStart;
  const memory = process.memoryUsage();
  const peak = stopSampling();
  process.stdout.write(`${JSON.stringify({ rows: Number(rows), ms, maxRSS: process.resourceUsage().maxRSS * 1024, heapTotal: memory.heapTotal, anon: peak.anon, file: peak.file, ...extra })}\n`);
}

/**
 * Run one measurement in a child process. Other people rebuild packages on this machine: when a child
 * fails because a package's dist is missing for a moment, it is run again (up to 3 times, 10 s apart).
 */
async function runChild(spec) {
  for (let attempt = 1; ; attempt++) {
    const { code, out, err } = await new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : []), SCRIPT, "--child", JSON.stringify(spec)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      proc.stdout.on("data", (d) => (out += d));
      proc.stderr.on("data", (d) => {
        err += d;
        process.stderr.write(d);
      });
      proc.on("error", reject);
      proc.on("close", (code) => resolve({ code, out, err }));
    });
    const line = out.trim().split("\n").pop();
    if (code === 0 && line) return JSON.parse(line);
    if (attempt < 3 && /ERR_MODULE_NOT_FOUND|Cannot find module/.test(err) && /\/dist\//.test(err)) {
      console.log(`  (a package's dist was missing, someone is rebuilding: run again in 10 s)`);
      await new Promise((r) => setTimeout(r, 10_000));
      continue;
    }
    throw new Error(`child exited with ${code}: ${out}`);
  }
}

// ------------------------------------------------------------------------------------------------
// The run (parent)

function parseArgs(argv) {
  const args = { rows: 1_000_000, pairs: ALL_PAIRS, skipPgloader: false, big: false, bigRows: null, cli: true, cliLegacy: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--rows") args.rows = Number(argv[++i]);
    else if (a === "--pairs") args.pairs = argv[++i].split(",").map((p) => p.trim());
    else if (a === "--skip-pgloader") args.skipPgloader = true;
    else if (a === "--big") args.big = true;
    else if (a === "--big-rows") args.bigRows = Number(argv[++i]);
    else if (a === "--batch-size") BATCH_SIZE = Number(argv[++i]);
    else if (a === "--source-sqlite") SOURCE_SQLITE = JSON.parse(argv[++i]);
    else if (a === "--no-cli") args.cli = false;
    else if (a === "--cli-legacy") args.cliLegacy = true;
    else throw new Error(`unknown argument ${a}; use --rows N, --pairs ${ALL_PAIRS.join(",")}, --skip-pgloader, --big [--big-rows N], --batch-size N, --source-sqlite JSON, --no-cli, --cli-legacy`);
  }
  if (!Number.isSafeInteger(args.rows) || args.rows < 1) throw new Error("--rows must be a positive integer");
  for (const p of args.pairs) if (!ALL_PAIRS.includes(p)) throw new Error(`unknown pair ${p}; pairs: ${ALL_PAIRS.join(", ")}`);
  args.bigRows ??= args.rows * 5;
  if (args.cli && args.pairs.some((p) => CLI_PAIRS.includes(p)) && !existsSync(MDM_BIN)) throw new Error(`${MDM_BIN} is missing: build it (pnpm --filter @mdm/cli build), or pass --no-cli`);
  return args;
}

/** A sample of doubles (ids spread over the table) from the SQLite source. */
function sourceDoubles(path, rows) {
  const Database = requireFrom("storage-sqlite")("better-sqlite3");
  const db = new Database(path, { readonly: true });
  const step = Math.max(1, Math.floor(rows / 1000));
  const sample = db.prepare(`SELECT id, x1, x2, x3, x4 FROM "${TABLE}" WHERE id % ? = 0`).raw(true).all(step);
  db.close();
  return sample;
}

/** How many of the sampled doubles PostgreSQL gives back exactly (float8 text output is shortest-exact). */
async function doublesExact(database, sample, schema = "public") {
  const client = await pgClient(database);
  try {
    const types = await client.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position", [schema, TABLE]);
    const { rows } = await client.query({ text: `SELECT id::text, x1::float8::text, x2::float8::text, x3::float8::text, x4::float8::text FROM ${schema}.${TABLE} WHERE id = ANY($1::bigint[])`, values: [sample.map((r) => String(r[0]))], rowMode: "array" });
    const byId = new Map(rows.map((r) => [r[0], r]));
    let exact = 0;
    let total = 0;
    let example;
    for (const s of sample) {
      const r = byId.get(String(s[0]));
      for (let c = 1; c <= 4; c++) {
        if (s[c] === null) continue;
        total++;
        const back = r?.[c] == null ? null : Number(r[c]);
        if (Object.is(back, s[c])) exact++;
        else example ??= `id ${s[0]} x${c}: source ${s[c]} → pg ${r?.[c]}`;
      }
    }
    return { exact, total, example, types: types.rows.map((t) => `${t.column_name} ${t.data_type}`).join(", ") };
  } finally {
    await client.end();
  }
}

async function dropDatabases(admin, prefix) {
  const { rows } = await admin.query("SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", [prefix]);
  for (const { datname } of rows) {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [datname]);
    await admin.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}"`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const usesPg = args.pairs.some((p) => p.includes("postgresql"));
  const withPgloader = args.pairs.includes("sqlite-postgresql") && !args.skipPgloader;
  const work = mkdtempSync(join(os.tmpdir(), "mdm-migrate-bench-"));
  const prefix = `mdmmb${randomBytes(3).toString("hex")}_`;
  const versions = { node: process.version };
  try {
    versions.pgloader = withPgloader ? execFileSync("pgloader", ["--version"], { encoding: "utf8" }).split("\n")[0] : "not run";
  } catch {
    throw new Error("pgloader is not installed (apt-get install -y pgloader), or pass --skip-pgloader");
  }
  console.log(`# Migration benchmark, ${new Date().toISOString()}`);
  console.log(`rows=${fmt(args.rows)} columns=${COLUMNS.length} (${COLUMNS.map((c) => `${c.name} ${c.type}${c.precision ? `(${c.precision},${c.scale})` : ""}`).join(", ")})`);
  console.log(`pairs=${args.pairs.join(",")} big=${args.big ? `SQLite→DuckDB at ${fmt(args.bigRows)} rows` : "no"} pgloader=${withPgloader ? "yes" : "no"}`);
  console.log(`batchSize=${BATCH_SIZE} (ours) duckdb=${JSON.stringify(DUCKDB_SETTINGS)} ours' SQLite source=${JSON.stringify(SOURCE_SQLITE)} (MDM's defaults where empty) plain DuckDB chunks=${CHUNK} rows, one child process per run, work dir ${work}`);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${mb(os.totalmem())} RAM, ${versions.pgloader}${usesPg ? `, PostgreSQL ${PG_URL.replace(/:[^:@/]*@/, ":***@")} prefix ${prefix}` : ""}`);
  console.log(`loadavg at start: ${load()}`);

  const admin = usesPg ? await pgClient() : undefined;
  const results = [];
  try {
    // --- sources (not timed) ---
    const sources = {};
    const need = new Set(args.pairs.map((p) => p.split("-")[0]));
    for (const type of ["sqlite", "duckdb", "postgresql"]) {
      if (!need.has(type)) continue;
      const t0 = performance.now();
      const where = type === "postgresql" ? { type, prefix: `${prefix}src_` } : { type, home: join(work, `source-${type}`) };
      sources[type] = { ...where, path: (await runChild({ kind: "prepare", source: where, rows: args.rows })).path };
      console.log(`source ${type}: ${fmt(args.rows)} rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s (${sources[type].path})`);
    }
    if (args.big) {
      const t0 = performance.now();
      const where = { type: "sqlite", home: join(work, "source-sqlite-big") };
      sources.sqliteBig = { ...where, path: (await runChild({ kind: "prepare", source: where, rows: args.bigRows })).path };
      console.log(`source sqlite (big): ${fmt(args.bigRows)} rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const sample = sources.sqlite && args.pairs.includes("sqlite-postgresql") ? sourceDoubles(sources.sqlite.path, args.rows) : undefined;
    console.log("");

    let n = 0;
    const measure = async (pair, kind, verify, source, rows) => {
      const [, targetType] = pair.split("-");
      const run = ++n;
      const target = targetType === "duckdb" ? { type: "duckdb", home: join(work, `run-${run}`) } : { type: "postgresql", prefix: `${prefix}r${run}_` };
      if (kind === "plain") {
        if (targetType === "duckdb") {
          mkdirSync(target.home, { recursive: true });
          target.path = join(target.home, "plain.duckdb");
        } else {
          target.path = `${target.prefix}plain`;
          await admin.query(`CREATE DATABASE "${target.path}"`);
        }
      }
      const before = load();
      const r = await runChild({ kind, verify, source, target, rows, batchSize: BATCH_SIZE, sourceSqlite: SOURCE_SQLITE, lockDir: join(work, "locks") });
      const machineCpu = r.machineCpu;
      if (r.rows !== rows) throw new Error(`${pair} ${kind}: ${r.rows} rows instead of ${rows}`);
      const entry = { pair, kind: kind === "plain" ? "plain loop" : `ours, verify ${verify}`, rows, seconds: r.ms / 1000, cpu: r.cpu, machineCpu, rate: (rows / r.ms) * 1000, rss: r.maxRSS, load: before, verification: r.verification };
      if (sample && pair === "sqlite-postgresql" && rows === args.rows) {
        const database = kind === "plain" ? target.path : `${target.prefix}${DATASET}`;
        entry.doubles = await doublesExact(database, sample);
      }
      results.push(entry);
      console.log(`${pair.padEnd(18)} ${entry.kind.padEnd(24)} ${fmt(rows).padStart(9)} rows ${entry.seconds.toFixed(2).padStart(7)} s ${fmt(entry.rate).padStart(9)} rows/s  peak RSS ${mb(r.maxRSS).padStart(7)}  ${entry.doubles ? `doubles exact ${entry.doubles.exact}/${entry.doubles.total}  ` : ""}loadavg before ${before}`);
      console.log(`${"".padEnd(19)}(CPU ${r.cpu.toFixed(1)} s of this process, ${cpuOfMachine(machineCpu)}; sampled peaks: anonymous ${mb(r.anon)}, file-backed ${mb(r.file)}; V8 heap at end ${mb(r.heapTotal)}${r.phases ? `; phases: ${r.phases}` : ""})`);
      if (targetType === "duckdb") rmSync(target.home, { recursive: true, force: true });
      else await dropDatabases(admin, target.prefix);
      return entry;
    };

    for (const pair of args.pairs) {
      const source = sources[pair.split("-")[0]];
      await measure(pair, "plain", "none", source, args.rows);
      await measure(pair, "ours", "none", source, args.rows);
      await measure(pair, "ours", "checksum", source, args.rows);
      if (args.cli && CLI_PAIRS.includes(pair)) {
        for (const verify of ["none", "checksum"]) results.push(await measureCli(pair, verify, source, args.rows, { work, prefix, admin, sample, run: ++n }));
        if (args.cliLegacy) results.push(await measureCli(pair, "checksum", source, args.rows, { work, prefix, admin, sample, run: ++n, copyWithFlags: true }));
      }
      if (pair === "sqlite-postgresql" && withPgloader) for (const variant of PGLOADER_VARIANTS) results.push(await runPgloader(admin, prefix, work, source, args.rows, sample, variant));
    }
    if (args.big) {
      // The plain loop (what the engines need by themselves) and ours without verification: peak RSS does
      // not depend on the verify mode (compare the two at N rows), and the checksum run at 5N would double
      // the time of the whole benchmark.
      await measure("sqlite-duckdb", "plain", "none", sources.sqliteBig, args.bigRows);
      await measure("sqlite-duckdb", "ours", "none", sources.sqliteBig, args.bigRows);
    }
    report(args, results);
  } finally {
    if (admin) {
      await dropDatabases(admin, prefix).catch((e) => console.error(`cleanup: ${e.message}`));
      await admin.end();
    }
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`loadavg at end: ${load()}`);
}

/**
 * The built `mdm migrate` with no feature flag set, as a user runs it: a child process (`/usr/bin/time` around
 * it) on a temp MDM home whose registry entry points at a copy of the benchmark's SQLite dataset (copied, not
 * timed). Wall time is the whole process (start-up included). The home's settings match the other runs: DuckDB
 * `threads` as DUCKDB_SETTINGS, PostgreSQL from MDM_TEST_POSTGRES_URL under a prefix of this run; every
 * MDM_* variable of the caller (MDM_FEATURE_* included) is left out.
 */
async function measureCli(pair, verify, source, rows, { work, prefix, admin, sample, run, copyWithFlags = false }) {
  const { DatasetRegistry, MdmHome } = await import("@mdm/storage-core");
  const [, targetType] = pair.split("-");
  const home = join(work, `cli-${run}`);
  const datasetDir = join(home, "datasets", DATASET);
  mkdirSync(datasetDir, { recursive: true });
  const sqlitePath = join(datasetDir, `${DATASET}.sqlite`);
  copyFileSync(source.path, sqlitePath);
  new DatasetRegistry(new MdmHome(home)).write({ name: DATASET, database: { backend: "sqlite", path: sqlitePath }, tables: { [TABLE]: TABLE } });
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MDM_")) env[k] = v;
  Object.assign(env, { MDM_HOME_DIR: home, NO_COLOR: "1", MDM_PRINT_MAX_RSS: "1", MDM_DATABASE_DUCKDB_THREADS: String(DUCKDB_SETTINGS.threads) });
  if (DUCKDB_SETTINGS.memoryLimit) env.MDM_DATABASE_DUCKDB_MEMORY_LIMIT = DUCKDB_SETTINGS.memoryLimit;
  const targetPrefix = `${prefix}c${run}_`;
  if (targetType === "postgresql") {
    const c = await pgConfig(targetPrefix);
    Object.assign(env, { MDM_DATABASE_POSTGRESQL_HOST: c.host, MDM_DATABASE_POSTGRESQL_PORT: String(c.port), MDM_DATABASE_POSTGRESQL_DATABASE_PREFIX: targetPrefix, MDM_DATABASE_POSTGRESQL_SSLMODE: "disable" });
    if (c.user) env.MDM_DATABASE_POSTGRESQL_USER = c.user;
    if (c.password) env.MDM_DATABASE_POSTGRESQL_PASSWORD = c.password;
  }
  const args = [MDM_BIN, "migrate", DATASET, "--to", targetType, "--verify", verify, "--json", ...(copyWithFlags ? ["--copy-with", "flags"] : []), ...(BATCH_SIZE === 2048 ? [] : ["--batch-size", String(BATCH_SIZE)])];
  const before = load();
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  const child = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KB=%M USER_S=%U SYS_S=%S", process.execPath, ...args], { env, cwd: work, encoding: "utf8", maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  const machineCpu = machineCpuSeconds() - machineBefore;
  let result;
  try {
    [result] = JSON.parse(child.stdout);
  } catch {
    throw new Error(`mdm migrate (${pair}, verify ${verify}) exited ${child.status}:\n${child.stdout}\n${child.stderr}`);
  }
  if (child.status !== 0 || !result?.success) throw new Error(`mdm migrate (${pair}, verify ${verify}) failed (exit ${child.status}): ${result?.error?.code} ${result?.error?.message}\n${child.stderr}`);
  const rss = Number(/MAXRSS_KB=(\d+)/.exec(child.stderr)?.[1] ?? 0) * 1024;
  const cpu = Number(/USER_S=([\d.]+)/.exec(child.stderr)?.[1] ?? NaN) + Number(/SYS_S=([\d.]+)/.exec(child.stderr)?.[1] ?? NaN);
  const copied = `${result.source.type}:${result.source.implementation} → ${result.target.type}:${result.target.implementation}`;
  const entry = { pair, kind: `mdm migrate (default flags${copyWithFlags ? ", --copy-with flags" : ""}), verify ${verify}`, rows: result.rowsMigrated, seconds, cpu, machineCpu, rate: result.rowsMigrated / seconds, rss, load: before, copied };
  if (result.rowsMigrated !== rows) throw new Error(`${pair} ${entry.kind}: ${result.rowsMigrated} rows instead of ${rows}`);
  if (verify !== "none" && !result.verification?.passed) throw new Error(`${pair} ${entry.kind}: verification did not pass`);
  if (sample && pair === "sqlite-postgresql") entry.doubles = await doublesExact(`${targetPrefix}${DATASET}`, sample);
  console.log(`${pair.padEnd(18)} ${entry.kind.padEnd(24)} ${fmt(rows).padStart(9)} rows ${seconds.toFixed(2).padStart(7)} s ${fmt(entry.rate).padStart(9)} rows/s  peak RSS ${mb(rss).padStart(7)}  ${entry.doubles ? `doubles exact ${entry.doubles.exact}/${entry.doubles.total}  ` : ""}loadavg before ${before}`);
  console.log(`${"".padEnd(19)}(copied by ${copied}, served by ${result.servedBy.type}:${result.servedBy.implementation}; the migration itself ${(result.durationMs / 1000).toFixed(2)} s, the rest is the process's start and exit; CPU ${cpu.toFixed(1)} s of the mdm process, ${cpuOfMachine(machineCpu)}; verification ${result.verification ? `${result.verification.mode} ${result.verification.passed ? "passed" : "FAILED"}` : "none"})`);
  rmSync(home, { recursive: true, force: true });
  if (targetType === "postgresql") await dropDatabases(admin, targetPrefix);
  return entry;
}

/**
 * pgloader on the same SQLite file, into a fresh database: wall time of the process, peak RSS (from
 * /usr/bin/time), doubles read back. Its defaults cannot load our file at all (it creates the column type
 * "decimal_text(18,4)" in PostgreSQL and stops), so the run named "defaults" adds only the cast that makes it
 * load (decimal_text → numeric) and keeps every other default, including SQLite REAL → PostgreSQL real
 * (float4); the run "REAL as double precision" also casts REAL to double precision, so doubles can arrive
 * exact and the throughput comparison is like for like.
 */
async function runPgloader(admin, prefix, work, source, rows, sample, variant) {
  const database = `${prefix}pgloader_${variant.key}`;
  await admin.query(`CREATE DATABASE "${database}"`);
  const target = new URL(PG_URL);
  target.pathname = `/${database}`;
  const url = target.toString();
  const loadFile = join(work, `pgloader-${variant.key}.load`);
  writeFileSync(loadFile, `LOAD DATABASE\n  FROM sqlite://${source.path}\n  INTO ${url}\n  CAST ${variant.casts.join(",\n       ")};\n`);
  const before = load();
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  const run = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KB=%M USER_S=%U SYS_S=%S", "pgloader", loadFile], { encoding: "utf8", maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  const machineCpu = machineCpuSeconds() - machineBefore;
  const rss = Number(/MAXRSS_KB=(\d+)/.exec(run.stderr)?.[1] ?? 0) * 1024;
  const output = `${run.stdout}\n${run.stderr}`;
  const cpu = Number(/USER_S=([\d.]+)/.exec(run.stderr)?.[1] ?? NaN) + Number(/SYS_S=([\d.]+)/.exec(run.stderr)?.[1] ?? NaN);
  let count;
  try {
    const client = await pgClient(database);
    try {
      count = Number((await client.query(`SELECT count(*) FROM ${TABLE}`)).rows[0].count);
    } finally {
      await client.end();
    }
  } catch (error) {
    throw new Error(`pgloader (${variant.name}) did not load the table (exit ${run.status}, ${error.message}):\n${output}`);
  }
  const doubles = await doublesExact(database, sample);
  const entry = { pair: "sqlite-postgresql", kind: `pgloader (${variant.name})`, rows: count, seconds, cpu, machineCpu, rate: count / seconds, rss, load: before, doubles };
  console.log(`${entry.pair.padEnd(18)} ${entry.kind.padEnd(24)} ${fmt(count).padStart(9)} rows ${seconds.toFixed(2).padStart(7)} s ${fmt(entry.rate).padStart(9)} rows/s  peak RSS ${mb(rss).padStart(7)}  doubles exact ${doubles.exact}/${doubles.total}  loadavg before ${before}`);
  console.log(`${"".padEnd(19)}(CPU ${cpu.toFixed(1)} s of the pgloader process, ${cpuOfMachine(machineCpu)})`);
  console.log(`  CAST ${variant.casts.join(", ")}; column types created: ${doubles.types}`);
  if (doubles.example) console.log(`  first inexact double: ${doubles.example}`);
  for (const line of output.split("\n").filter((l) => (/^\s*(data|Total import time)\b/.test(l) || /\b(ERROR|FATAL|WARNING)\b/.test(l)) && !/MAXRSS_KB/.test(l)).slice(0, 8)) console.log(`  pgloader: ${line.trim()}`);
  if (count !== rows) console.log(`  pgloader loaded ${count} rows of ${rows}`);
  await dropDatabases(admin, database);
  return entry;
}

const PGLOADER_VARIANTS = [
  { key: "defaults", name: "defaults", casts: ["type decimal_text to numeric drop typemod"] },
  { key: "double", name: "REAL as double precision", casts: ["type decimal_text to numeric drop typemod", 'type real to "double precision" drop typemod using float-to-string'] },
];

function report(args, results) {
  const pct = (a, b) => `${((a / b) * 100).toFixed(0)}%`;
  console.log("\n| pair | run | rows | wall s | rows/s | CPU s | machine CPU s | peak RSS | doubles exact | loadavg before |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---|---|");
  for (const r of results) {
    console.log(`| ${r.pair.replace("-", " → ")} | ${r.kind} | ${fmt(r.rows)} | ${r.seconds.toFixed(2)} | ${fmt(r.rate)} | ${r.cpu === undefined ? "" : r.cpu.toFixed(1)} | ${Number.isFinite(r.machineCpu) ? r.machineCpu.toFixed(1) : ""} | ${mb(r.rss)} | ${r.doubles ? `${r.doubles.exact}/${r.doubles.total}` : ""} | ${r.load} |`);
  }
  console.log("\nTargets (figures of this run):");
  const find = (pair, kind, rows = args.rows) => results.find((r) => r.pair === pair && r.kind === kind && r.rows === rows);
  for (const pair of args.pairs) {
    const plain = find(pair, "plain loop");
    const none = find(pair, "ours, verify none");
    const sum = find(pair, "ours, verify checksum");
    const ok = (v, t) => (v >= t ? "met" : "MISSED");
    console.log(`  ${pair}: verify none ${pct(none.rate, plain.rate)} of plain (target >= 80%: ${ok(none.rate / plain.rate, 0.8)}); verify checksum ${pct(sum.rate, plain.rate)} of plain (target >= 60%: ${ok(sum.rate / plain.rate, 0.6)}); peak RSS ${mb(none.rss)} / ${mb(sum.rss)} (target < 300 MB: ${ok(300 * 1048576, Math.max(none.rss, sum.rss))})`);
  }
  for (const pair of args.pairs.filter((p) => CLI_PAIRS.includes(p))) {
    const plain = find(pair, "plain loop");
    const none = find(pair, "mdm migrate (default flags), verify none");
    const sum = find(pair, "mdm migrate (default flags), verify checksum");
    if (!plain || !none || !sum) continue;
    const ok = (v, t) => (v >= t ? "met" : "MISSED");
    console.log(`  ${pair} mdm migrate with the default flags (copied by ${none.copied}): verify none ${(none.rate / plain.rate).toFixed(2)}x the plain loop (target >= 0.8x: ${ok(none.rate / plain.rate, 0.8)}); verify checksum ${(sum.rate / plain.rate).toFixed(2)}x (target >= 0.6x: ${ok(sum.rate / plain.rate, 0.6)}); peak RSS ${mb(none.rss)} / ${mb(sum.rss)}`);
  }
  const ours = find("sqlite-postgresql", "ours, verify checksum");
  const oursNone = find("sqlite-postgresql", "ours, verify none");
  for (const loader of results.filter((r) => r.kind.startsWith("pgloader"))) {
    console.log(`  sqlite-postgresql vs ${loader.kind}: ours (checksum) ${(ours.rate / loader.rate).toFixed(2)}x, ours (none) ${(oursNone.rate / loader.rate).toFixed(2)}x its rows/s (target >= 2.5x); doubles exact: ours ${ours.doubles.exact}/${ours.doubles.total}, pgloader ${loader.doubles.exact}/${loader.doubles.total}`);
  }
  // What the machine's cores allow: a run that keeps the machine busy for C CPU seconds (its own process and
  // the PostgreSQL server) cannot take less than C / cores of wall time, however its work is spread.
  const cores = os.cpus().length;
  const fastestLoader = results.filter((r) => r.kind.startsWith("pgloader")).sort((a, b) => a.seconds - b.seconds)[0];
  for (const run of [oursNone, ours]) {
    if (!fastestLoader || !run || !Number.isFinite(run.machineCpu)) continue;
    const floor = run.machineCpu / cores;
    const needed = (fastestLoader.seconds * fastestLoader.rows) / run.rows / 2.5;
    console.log(`  sqlite-postgresql ${run.kind}: ${run.machineCpu.toFixed(1)} s of machine CPU over ${run.seconds.toFixed(2)} s (${(run.machineCpu / run.seconds).toFixed(2)} of ${cores} cores busy); the same work on ${cores} cores takes at least ${floor.toFixed(2)} s; 2.5x the faster pgloader needs at most ${needed.toFixed(2)} s`);
  }
  if (args.big) {
    for (const kind of ["ours, verify none", "ours, verify checksum", "plain loop"]) {
      const small = find("sqlite-duckdb", kind);
      const big = find("sqlite-duckdb", kind, args.bigRows);
      if (!small || !big) continue;
      const growth = big.rss / small.rss - 1;
      console.log(`  sqlite-duckdb ${kind}: peak RSS ${mb(small.rss)} at ${fmt(small.rows)} rows, ${mb(big.rss)} at ${fmt(big.rows)} rows: ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(0)}%${kind.startsWith("ours") ? ` (target within 20% and < 300 MB: ${Math.abs(growth) <= 0.2 && big.rss < 300 * 1048576 ? "met" : "MISSED"})` : ""}`);
    }
  }
}

if (process.argv[2] === "--child") await child(JSON.parse(process.argv[3]));
else await main();

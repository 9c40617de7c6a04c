#!/usr/bin/env node
// Registration benchmark (a script run on demand, not a test, not in CI): `mdm dataset register` beside each
// engine's own loader, on the same file, in one run on the same machine load (printed beside the figures).
//
//   pnpm build                                   (packages/cli/dist/bin.js and the backends' dist must exist)
//   node packages/cli/bench/register.mjs [--rows N] [--engines sqlite,duckdb,postgresql] [--format csv|parquet|json]
//                                        [--flags new,default] [--rss-scaling [--big-rows N]] [--seed N] [--keep]
//
// The file (deterministic, seeded PRNG; --seed): 12 columns, id (int64), x1..x4 (doubles printed with 17
// significant digits; x2 and x4 have NULLs, an empty field), n1, n2 (ints), cat1, cat2 (categorical text),
// flag (true/false), day (YYYY-MM-DD), ts (YYYY-MM-DD HH:MM:SS.ffffff, 1950-2030, so some before 1970).
// Each double is the shortest text that reads back as its double and has 17 significant digits (a double
// whose shortest text is shorter is moved up by one ulp until it has 17): the CLI's lossless inference
// takes a column as float64 only when every value is its double's shortest text, so Number.toPrecision(17)
// of arbitrary doubles ("0.10000000000000001") would make the four columns text.
//
//   --format csv      (default) N = 500,000 rows. Loaders: DuckDB CREATE TABLE t AS SELECT * FROM read_csv(file)
//                     into a DuckDB file (@duckdb/node-api of packages/storage-duckdb, a child node process);
//                     sqlite3 db ".import --csv file t" (/usr/bin/sqlite3; every column TEXT, as .import makes
//                     them); psql -c "\copy t from 'file' csv header" into a pre-created typed table.
//   --format parquet  N = 3,000,000 rows: the CSV converted with DuckDB COPY ... TO (FORMAT parquet) (not timed).
//                     Loader: DuckDB CREATE TABLE AS SELECT * FROM read_parquet, the baseline of every engine.
//   --format json     N = 200,000 records in one JSON array. Loader: DuckDB read_json, the baseline of every engine.
//   --rss-scaling     ours only (no loaders), at --rows (500,000) and --big-rows (5,000,000) rows for each engine of
//                     --engines (one is enough), with the flags of --flags (default: new): peak RSS of both, growth.
//
// Ours: `node packages/cli/dist/bin.js dataset register <name> <file> --backend <engine>` in a child process with a
// fresh temp MDM home, once with no feature flag set ("default", i.e. what the flags choose: legacy) and once with
// MDM_FEATURE_USE_NEW_STORAGE=true ("new"). Every time is the wall clock of a whole child process (node's start
// included, for ours and for the DuckDB loader alike), taken by this script; peak RSS from /usr/bin/time -v when
// present, else mdm's own process.resourceUsage().maxRSS (MDM_PRINT_MAX_RSS=1, printed by bin.ts). PostgreSQL's
// server work is in the wall time but not in any RSS. After each of ours, `mdm dataset info <name> --json` must
// give N rows and the types int64, float64 x4, int64 x2, text x2, boolean, date, timestamp (a WARNING line if not).
// Ratio = loader seconds / ours seconds. Targets: >= 0.5 new, >= 0.25 default; peak RSS < 300 MB; RSS growth
// from 500,000 to 5,000,000 rows within 20%.
//
// PostgreSQL: MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres). The MDM home gets an
// mdm.yaml pointing database.postgresql at that server with a random database_prefix; every database the run
// creates starts with that prefix and is dropped after each run and at the end. --keep keeps the temp directory.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { MDM_BIN, PG_URL, TIME_BIN, dropDatabases, duckdb, failure, fmt, load, mb, mdmEnv, mdmYaml, ok, pgUrl, psql, run } from "./bench-support.mjs";

const SQLITE_BIN = existsSync("/usr/bin/sqlite3") ? "/usr/bin/sqlite3" : "sqlite3";
const ENGINES = ["sqlite", "duckdb", "postgresql"];
const FORMATS = { csv: { rows: 500_000, ext: "csv" }, parquet: { rows: 3_000_000, ext: "parquet" }, json: { rows: 200_000, ext: "json" } };
const EXPECTED_TYPES = ["int64", "float64", "float64", "float64", "float64", "int64", "int64", "text", "text", "boolean", "date", "timestamp"];
const HEADER = ["id", "x1", "x2", "x3", "x4", "n1", "n2", "cat1", "cat2", "flag", "day", "ts"];
const PG_DDL = "CREATE TABLE t (id bigint, x1 double precision, x2 double precision, x3 double precision, x4 double precision, n1 integer, n2 integer, cat1 text, cat2 text, flag boolean, day date, ts timestamp)";
const TARGET = { new: 0.5, default: 0.25, rssMb: 300, growth: 0.2 };


// ------------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const value = (name) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
    return argv[i + 1];
  };
  const count = (name, fallback) => {
    const text = value(name);
    const n = text === undefined ? fallback : Number(text.replace(/_/g, ""));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
    return n;
  };
  const format = value("format") ?? "csv";
  if (!FORMATS[format]) throw new Error(`--format must be one of ${Object.keys(FORMATS).join(", ")}, got ${format}`);
  const list = (name, allowed, fallback) => {
    const items = (value(name) ?? fallback).split(",").map((s) => s.trim()).filter(Boolean);
    for (const item of items) if (!allowed.includes(item)) throw new Error(`--${name}: ${item} is not one of ${allowed.join(", ")}`);
    return items;
  };
  const rssScaling = argv.includes("--rss-scaling");
  return {
    format,
    rows: count("rows", rssScaling ? 500_000 : FORMATS[format].rows),
    bigRows: count("big-rows", 5_000_000),
    engines: list("engines", ENGINES, ENGINES.join(",")),
    flags: list("flags", ["new", "default"], rssScaling ? "new" : "new,default"),
    seed: count("seed", 20_241_126),
    rssScaling,
    keep: argv.includes("--keep"),
  };
}

// ------------------------------------------------------------------------------------------------
// The data

/** mulberry32: a small seeded PRNG, uniform in [0, 1) with 32 bits. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/**
 * The text of a double with 17 significant digits that is also the shortest text reading back as it: the
 * double m x 10^e (m in [1, 4), where most doubles need all 17 digits) is moved up by ulps until its shortest
 * text has 17 digits (a step or two on average). In [8, 10) x 10^k a double's ulp is coarser than a step of
 * the 16th digit, so 16 digits always do there: uniform draws over a wide range would take many tries.
 */
function double17(m, e, negative) {
  f64[0] = (negative ? -m : m) * 10 ** e;
  for (let step = 0; step < 1000; step++) {
    const x = f64[0];
    const s = String(x);
    const digits = s.replace(/^-/, "").replace(".", "").replace(/^0+/, "");
    if (digits.length === 17 && !s.includes("e") && x.toPrecision(17) === s) return s;
    i64[0] += 1n;
  }
  throw new Error(`no double with 17 significant digits near ${m}e${e}`);
}

const CAT1 = ["red", "green", "blue", "yellow", "black"];
const CAT2 = Array.from({ length: 40 }, (_, k) => `city_${String(k).padStart(2, "0")}`);
const DAY_MIN = -7305; // 1950-01-01
const DAY_SPAN = 29220; // to 2030
const pad = (n, w) => String(n).padStart(w, "0");

/** Rows as arrays of field texts (null: NULL), deterministic for a seed. */
function* rowsOf(n, seed) {
  const rnd = prng(seed);
  const r53 = () => rnd() + rnd() / 4294967296;
  for (let i = 0; i < n; i++) {
    const x1 = double17(1 + 3 * r53(), Math.floor(rnd() * 3), rnd() < 0.5);
    const x2 = rnd() < 0.05 ? null : double17(1 + 3 * r53(), 1, false);
    const x3 = double17(1 + 3 * r53(), Math.floor(rnd() * 9) - 3, false);
    const x4 = rnd() < 0.1 ? null : double17(1 + 3 * r53(), -1, rnd() < 0.2);
    const n1 = Math.floor(rnd() * 1000);
    const n2 = Math.floor(rnd() * 2_000_001) - 1_000_000;
    const day = new Date((DAY_MIN + Math.floor(rnd() * DAY_SPAN)) * 86_400_000).toISOString().slice(0, 10);
    const micros = (DAY_MIN + rnd() * DAY_SPAN) * 86_400e6;
    const seconds = Math.floor(micros / 1e6);
    const fraction = Math.floor(micros - seconds * 1e6);
    const ts = `${new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ")}.${pad(fraction, 6)}`;
    yield [String(10_000_000_000 + i), x1, x2, x3, x4, String(n1), String(n2), CAT1[Math.floor(rnd() * CAT1.length)], CAT2[Math.floor(rnd() * CAT2.length)], rnd() < 0.5 ? "true" : "false", day, ts];
  }
}

/** Fields that JSON writes as strings (the rest are numbers, booleans or null). */
const JSON_STRING = HEADER.map((name) => ["cat1", "cat2", "day", "ts"].includes(name));

async function writeData(file, n, seed, format) {
  const out = createWriteStream(file);
  const json = format === "json";
  let chunk = json ? "[\n" : `${HEADER.join(",")}\n`;
  let i = 0;
  for (const row of rowsOf(n, seed)) {
    if (json) {
      chunk += `${i === 0 ? "" : ",\n"}{${row.map((v, c) => `"${HEADER[c]}":${v === null ? "null" : JSON_STRING[c] ? `"${v}"` : v}`).join(",")}}`;
    } else {
      chunk += `${row.map((v) => v ?? "").join(",")}\n`;
    }
    if (++i % 10_000 === 0) {
      if (!out.write(chunk)) await once(out, "drain");
      chunk = "";
    }
  }
  if (json) chunk += "\n]\n";
  out.write(chunk);
  out.end();
  await once(out, "finish");
}

// ------------------------------------------------------------------------------------------------
// Child processes

/**
 * Run a command as a child process, under /usr/bin/time -v when present: wall seconds (taken here), peak
 * RSS in kB (/usr/bin/time, else mdm's max_rss_kb line), CPU seconds, exit code, stdout, stderr.
 */
// ------------------------------------------------------------------------------------------------
// Loaders and ours

/** The engine's own loader on the file, into a fresh target; its wall time and the rows it loaded. */
async function runLoader(engine, format, file, work, prefix) {
  const reader = { csv: "read_csv", parquet: "read_parquet", json: "read_json" }[format];
  if (format !== "csv" || engine === "duckdb") {
    const db = join(work, `loader-${engine}.duckdb`);
    rmSync(db, { force: true });
    const result = await duckdb(db, [`CREATE TABLE t AS SELECT * FROM ${reader}('${file}')`, "CHECKPOINT", "SELECT count(*) FROM t"]);
    rmSync(db, { force: true });
    return { name: `duckdb ${reader}`, seconds: result.seconds, rows: Number(result.value) };
  }
  if (engine === "sqlite") {
    const db = join(work, "loader.sqlite");
    rmSync(db, { force: true });
    const result = await run(SQLITE_BIN, [db, `.import --csv ${file} t`]);
    if (result.code !== 0 || result.stderr.trim()) throw failure("sqlite3 .import", { ...result, code: result.code || "errors" });
    const rows = Number((await run(SQLITE_BIN, [db, "SELECT count(*) FROM t"])).stdout.trim());
    rmSync(db, { force: true });
    return { name: "sqlite3 .import", seconds: result.seconds, rows };
  }
  const database = `${prefix}loader`;
  await psql(`CREATE DATABASE "${database}"`);
  await psql(PG_DDL, database);
  const result = await run("psql", [pgUrl(database), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `\\copy t from '${file}' csv header`]);
  if (result.code !== 0) throw failure("psql \\copy", result);
  const rows = Number((await psql("SELECT count(*) FROM t", database)).stdout.trim());
  await dropDatabases(database);
  return { name: "psql \\copy", seconds: result.seconds, rows };
}

/** `mdm dataset register` in a fresh home, then `mdm dataset info --json` to check rows and types. */
async function runOurs(engine, flags, file, rows, work, prefix) {
  const home = join(work, `home-${engine}-${flags}-${rows}`);
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  if (engine === "postgresql") writeFileSync(join(home, "mdm.yaml"), mdmYaml(prefix));
  const env = mdmEnv(home, flags === "new" ? { MDM_FEATURE_USE_NEW_STORAGE: "true" } : {});
  const name = `regbench_${flags}`;
  const loadBefore = load();
  try {
    const result = await run(process.execPath, [MDM_BIN, "dataset", "register", name, file, "--backend", engine], { env, cwd: work });
    if (result.code !== 0) throw failure(`mdm dataset register (${engine}, ${flags})`, result);
    const warnings = [];
    const info = await run(process.execPath, [MDM_BIN, "dataset", "info", name, "--json"], { env, cwd: work });
    let implementation = "?";
    if (info.code !== 0) warnings.push(`mdm dataset info failed: ${info.stderr.trim().split("\n").pop()}`);
    else {
      const parsed = JSON.parse(info.stdout);
      implementation = parsed.implementation;
      const table = parsed.tables.find((t) => t.name === "data");
      if (!table) warnings.push(`no table "data" (tables: ${parsed.tables.map((t) => t.name).join(", ")})`);
      else {
        if (table.rows !== rows) warnings.push(`${table.rows} rows, expected ${rows}`);
        const types = table.columns.map((c) => c.type);
        const names = table.columns.map((c) => c.name);
        if (names.join(",") !== HEADER.join(",")) warnings.push(`columns ${names.join(",")}, expected ${HEADER.join(",")}`);
        const wrong = types.map((t, c) => (t === EXPECTED_TYPES[c] ? null : `${names[c]} ${t} (expected ${EXPECTED_TYPES[c]})`)).filter(Boolean);
        if (types.length !== EXPECTED_TYPES.length) warnings.push(`${types.length} columns, expected ${EXPECTED_TYPES.length}`);
        if (wrong.length) warnings.push(`wrong types: ${wrong.join(", ")}`);
      }
    }
    for (const w of warnings) console.log(`  WARNING ${engine} ours (${flags}): ${w}`);
    const out = { seconds: result.seconds, rssKb: result.rssKb, selfRssKb: result.selfRssKb, cpu: result.cpu, implementation, ok: warnings.length === 0, loadBefore };
    console.log(`  ${engine} ours (${flags}, served by ${implementation}): ${out.seconds.toFixed(2)} s, ${fmt(rows / out.seconds)} rows/s, peak RSS ${mb(out.rssKb)} (mdm's own maxRSS ${mb(out.selfRssKb)}), CPU ${out.cpu.toFixed(1)} s, check ${out.ok ? "ok" : "FAILED"}, loadavg before ${loadBefore}`);
    return out;
  } finally {
    rmSync(home, { recursive: true, force: true });
    if (engine === "postgresql") await dropDatabases(prefix).catch((e) => console.log(`  WARNING could not drop ${prefix}*: ${e.message}`));
  }
}

/** The data file of a format and row count (CSV first; Parquet converted from it by DuckDB). */
async function makeFile(format, rows, seed, work) {
  const started = performance.now();
  const csv = join(work, `data-${rows}.csv`);
  let file = csv;
  if (format === "json") {
    file = join(work, `data-${rows}.json`);
    await writeData(file, rows, seed, "json");
  } else {
    await writeData(csv, rows, seed, "csv");
    if (format === "parquet") {
      file = join(work, `data-${rows}.parquet`);
      await duckdb(":memory:", [`COPY (SELECT * FROM read_csv('${csv}')) TO '${file}' (FORMAT parquet)`, `SELECT count(*) FROM read_parquet('${file}')`]);
      rmSync(csv, { force: true });
    }
  }
  console.log(`generated ${file}: ${(statSync(file).size / 1048576).toFixed(0)} MB, ${fmt(rows)} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return file;
}

// ------------------------------------------------------------------------------------------------
// Main

function printComparison(args, results) {
  const cell = (o) => (o ? o.seconds.toFixed(2) : "failed");
  const ratio = (loader, o) => (loader && o ? (loader.seconds / o.seconds).toFixed(2) : "-");
  const withNew = args.flags.includes("new");
  const withDefault = args.flags.includes("default");
  const head = ["engine", "loader", "loader s"];
  if (withNew) head.push("ours new s", `ratio new (>= ${TARGET.new})`);
  if (withDefault) head.push("ours default s", `ratio default (>= ${TARGET.default})`);
  if (withNew) head.push(`RSS new (< ${TARGET.rssMb} MB)`);
  if (withDefault) head.push(`RSS default (< ${TARGET.rssMb} MB)`);
  head.push("check");
  console.log(`\n${fmt(args.rows)} rows, ${args.format}\n`);
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map((h, i) => (i < 2 ? "---" : "---:")).join("|")}|`);
  for (const r of results) {
    const row = [r.engine, r.loader ? r.loader.name : "failed", r.loader ? r.loader.seconds.toFixed(2) : "-"];
    const mark = (loader, o, t) => (loader && o ? ` ${ok(loader.seconds / o.seconds >= t)}` : "");
    if (withNew) row.push(cell(r.new), `${ratio(r.loader, r.new)}${mark(r.loader, r.new, TARGET.new)}`);
    if (withDefault) row.push(cell(r.default), `${ratio(r.loader, r.default)}${mark(r.loader, r.default, TARGET.default)}`);
    const rss = (o) => (o ? `${mb(o.rssKb)} ${ok(o.rssKb / 1024 < TARGET.rssMb)}` : "-");
    if (withNew) row.push(rss(r.new));
    if (withDefault) row.push(rss(r.default));
    const checks = args.flags.map((f) => r[f]).filter(Boolean);
    row.push(checks.length === args.flags.length && checks.every((o) => o.ok) ? "ok" : "WARNING");
    console.log(`| ${row.join(" | ")} |`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(MDM_BIN)) throw new Error(`${MDM_BIN} is missing: run pnpm build first`);
  const work = mkdtempSync(join(os.tmpdir(), "mdm-bench-regbench-"));
  const prefix = `regbench_${randomBytes(3).toString("hex")}_`;
  const usesPg = args.engines.includes("postgresql");
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, load average ${load()}`);
  console.log(`format ${args.format}, engines ${args.engines.join(",")}, flags ${args.flags.join(",")}, seed ${args.seed}; peak RSS from ${TIME_BIN ? "/usr/bin/time -v" : "mdm's own maxRSS (MDM_PRINT_MAX_RSS=1)"}; work dir ${work}${usesPg ? `; PostgreSQL ${pgUrl().replace(/:[^@/:]*@/, ":***@")}, prefix ${prefix}` : ""}`);
  try {
    if (usesPg) await psql("SELECT 1");
    if (args.rssScaling) {
      const sizes = [args.rows, args.bigRows];
      const measured = [];
      for (const rows of sizes) {
        const file = await makeFile(args.format, rows, args.seed, work);
        for (const engine of args.engines) for (const flags of args.flags) {
          measured.push({ engine, flags, rows, ours: await runOurs(engine, flags, file, rows, work, prefix).catch((e) => (console.log(`  ERROR ${e.message}`), undefined)) });
        }
        rmSync(file, { force: true });
      }
      console.log(`\nPeak RSS of ours, ${args.format}, ${fmt(sizes[0])} and ${fmt(sizes[1])} rows\n`);
      console.log(`| engine | flags | RSS at ${fmt(sizes[0])} | RSS at ${fmt(sizes[1])} | ratio big/small (target within ${TARGET.growth * 100}%) | s at ${fmt(sizes[0])} | s at ${fmt(sizes[1])} |`);
      console.log("|---|---|---:|---:|---:|---:|---:|");
      for (const engine of args.engines) for (const flags of args.flags) {
        const [small, big] = sizes.map((rows) => measured.find((m) => m.engine === engine && m.flags === flags && m.rows === rows)?.ours);
        const growth = small && big ? big.rssKb / small.rssKb : undefined;
        console.log(`| ${engine} | ${flags} | ${small ? mb(small.rssKb) : "failed"} | ${big ? mb(big.rssKb) : "failed"} | ${growth === undefined ? "-" : `${growth.toFixed(2)} ${ok(Math.abs(growth - 1) <= TARGET.growth)}`} | ${small ? small.seconds.toFixed(1) : "-"} | ${big ? big.seconds.toFixed(1) : "-"} |`);
      }
    } else {
      const file = await makeFile(args.format, args.rows, args.seed, work);
      const results = [];
      let sharedLoader;
      for (const engine of args.engines) {
        const entry = { engine };
        try {
          // Parquet and JSON: DuckDB's reader is the one baseline, run once.
          entry.loader = args.format !== "csv" && sharedLoader ? sharedLoader : await runLoader(engine, args.format, file, work, prefix);
          if (args.format !== "csv") sharedLoader = entry.loader;
          console.log(`  ${engine} loader ${entry.loader.name}: ${entry.loader.seconds.toFixed(2)} s, ${fmt(entry.loader.rows / entry.loader.seconds)} rows/s`);
          if (entry.loader.rows !== args.rows) console.log(`  WARNING ${engine} loader ${entry.loader.name} loaded ${entry.loader.rows} rows, expected ${args.rows}`);
        } catch (error) {
          console.log(`  ERROR ${engine} loader: ${error.message}`);
        }
        for (const flags of args.flags) {
          try {
            entry[flags] = await runOurs(engine, flags, file, args.rows, work, prefix);
          } catch (error) {
            console.log(`  ERROR ${error.message}`);
          }
        }
        results.push(entry);
      }
      printComparison(args, results);
      if (args.format !== "csv") console.log(`(loader: DuckDB ${args.format === "json" ? "read_json" : "read_parquet"} into a DuckDB file, the baseline of every engine)`);
    }
    console.log(`\nTimes: wall clock of each whole child process${args.rssScaling ? "" : "; ratio = loader s / ours s"}. ${os.cpus().length} CPUs, load average after: ${load()}`);
  } finally {
    if (usesPg) await dropDatabases(prefix).catch((e) => console.log(`WARNING could not drop the databases ${prefix}*: ${e.message}`));
    if (args.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

await main().catch((error) => {
    console.error(`register bench: ${error.message}`);
    process.exitCode = 1;
  });

#!/usr/bin/env node
// Export benchmark (a script run on demand, not a test, not in CI): `mdm dataset export` of one table from each
// engine to CSV and to Parquet, beside DuckDB's own `COPY (SELECT * FROM read_parquet(...)) TO` of the same data,
// in one run on the same machine load (printed beside the figures).
//
//   pnpm build                                   (packages/cli/dist/bin.js and the backends' dist must exist)
//   node packages/cli/bench/export.mjs [--rows N] [--engines sqlite,duckdb,postgresql] [--formats csv,parquet]
//                                      [--read-with fastest,flags] [--keep]
//
// The table: N rows (default 1,000,000) x 11 columns, as the migration benchmark's (int64 id, four doubles of
// 15-17 significant digits, x4 with NULLs, decimal(18,4), two texts, one with NULLs, commas and quotes, boolean,
// date, µs timestamp before and after 1970), written by DuckDB to a Parquet file (not timed) and registered into a
// SQLite, a DuckDB and a PostgreSQL dataset with `mdm dataset register` (not timed).
//
// Baseline: DuckDB `COPY (SELECT * FROM read_parquet(src)) TO out (FORMAT csv, HEADER | FORMAT parquet)` in a child
// node process (@duckdb/node-api of packages/storage-duckdb). Ours: `mdm dataset export <name> --format F` in a
// child process with no feature flag set (legacy is what the flags choose; --read-with fastest, the default, reads
// through the new implementation when it is installed; --read-with flags reads through legacy). Every time is the
// wall clock of a whole child process (node's start included, for ours and the baseline alike); peak RSS from
// /usr/bin/time -v. Ratio = baseline seconds / ours seconds; target >= 0.5.
//
// Check: every exported file is read back by DuckDB (read_csv with the source's column types, read_parquet) and
// compared with the source Parquet file both ways with EXCEPT ALL: 0 rows may differ, and the counts must match.
//
// PostgreSQL: MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres); every database the run
// creates starts with a random prefix and is dropped at the end.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { MDM_BIN, TIME_BIN, dropDatabases, duckdb, failure, fmt, load, mb, mdmEnv, mdmYaml, ok, pgUrl, run } from "./bench-support.mjs";

const ENGINES = ["sqlite", "duckdb", "postgresql"];
const TARGET = 0.5;

function parseArgs(argv) {
  const args = { rows: 1_000_000, engines: ENGINES, formats: ["csv", "parquet"], readWith: ["fastest"], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--rows") args.rows = Number(value());
    else if (a === "--engines") args.engines = value().split(",");
    else if (a === "--formats") args.formats = value().split(",");
    else if (a === "--read-with") args.readWith = value().split(",");
    else if (a === "--keep") args.keep = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isSafeInteger(args.rows) || args.rows < 1) throw new Error("--rows must be a positive integer");
  return args;
}

/** The source table in DuckDB SQL: deterministic, N rows. */
function sourceSql(rows) {
  return `SELECT i::BIGINT AS id,
    sin(i) * 1000 AS x1,
    cos(i) / 3 AS x2,
    (i * 1.0000001) / 7 AS x3,
    CASE WHEN i % 101 = 0 THEN NULL ELSE sqrt(i) * pi() END AS x4,
    ((i % 1000003) * 137 - 50000000)::DECIMAL(18,4) / 10000 AS price,
    CASE WHEN i % 101 = 0 THEN NULL WHEN i % 997 = 0 THEN 'with, a comma and "quotes"' ELSE 'label_' || (i % 5000) END AS label,
    ['alpha', 'beta', 'gamma', 'delta'][i % 4 + 1] AS category,
    i % 3 = 0 AS flag,
    DATE '1950-01-01' + (i % 29220)::INTEGER AS day,
    TIMESTAMP '1960-01-01 00:00:00' + to_microseconds(i * 1234567) AS ts
  FROM range(${rows}) t(i)`;
}

/** The DuckDB types of the source's columns, for read_csv's `columns`. */
const COLUMN_TYPES = "{'id': 'BIGINT', 'x1': 'DOUBLE', 'x2': 'DOUBLE', 'x3': 'DOUBLE', 'x4': 'DOUBLE', 'price': 'DECIMAL(18,4)', 'label': 'VARCHAR', 'category': 'VARCHAR', 'flag': 'BOOLEAN', 'day': 'DATE', 'ts': 'TIMESTAMP'}";

const reader = (format, file) => (format === "csv" ? `read_csv('${file}', header = true, allow_quoted_nulls = false, columns = ${COLUMN_TYPES})` : `read_parquet('${file}')`);

/** Rows of the exported file that are not in the source and the other way round, and the file's row count. */
async function compare(source, format, file) {
  const exported = reader(format, file);
  const sql = `SELECT (SELECT count(*) FROM (SELECT * FROM ${exported} EXCEPT ALL SELECT * FROM read_parquet('${source}'))) || ',' ||
    (SELECT count(*) FROM (SELECT * FROM read_parquet('${source}') EXCEPT ALL SELECT * FROM ${exported})) || ',' || (SELECT count(*) FROM ${exported})`;
  const [extra, missing, rows] = (await duckdb(":memory:", [sql])).value.split(",").map(Number);
  return { extra, missing, rows };
}

async function baseline(source, format, out) {
  rmSync(out, { force: true });
  const options = format === "csv" ? "FORMAT csv, HEADER" : "FORMAT parquet";
  const result = await duckdb(":memory:", [`COPY (SELECT * FROM read_parquet('${source}')) TO '${out}' (${options})`, "SELECT 1"]);
  return { seconds: result.seconds, rssKb: result.rssKb };
}

async function ours(home, name, format, readWith, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const result = await run(process.execPath, [MDM_BIN, "dataset", "export", name, "--format", format, "--output", outDir, "--read-with", readWith, "--json"], { env: mdmEnv(home) });
  if (result.code !== 0) throw failure(`mdm dataset export ${name} --format ${format}`, result);
  const printed = JSON.parse(result.stdout);
  return { seconds: result.seconds, rssKb: result.rssKb, cpu: result.cpu, readBy: printed.readBy, file: printed.files[0].file, rows: printed.files[0].rows };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(MDM_BIN)) throw new Error(`${MDM_BIN} is missing: run pnpm build first`);
  const work = mkdtempSync(join(os.tmpdir(), "mdm-bench-export-"));
  const prefix = `bx${randomBytes(3).toString("hex")}_`;
  const usesPg = args.engines.includes("postgresql");
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, load average ${load()}`);
  console.log(`${fmt(args.rows)} rows x 11 columns; engines ${args.engines.join(",")}; formats ${args.formats.join(",")}; --read-with ${args.readWith.join(",")}; peak RSS from ${TIME_BIN ? "/usr/bin/time -v" : "mdm's own maxRSS"}; work dir ${work}${usesPg ? `; PostgreSQL ${pgUrl().replace(/:[^@/:]*@/, ":***@")}, prefix ${prefix}` : ""}`);
  const results = [];
  try {
    const source = join(work, "source.parquet");
    const made = await duckdb(":memory:", [`COPY (${sourceSql(args.rows)}) TO '${source}' (FORMAT parquet)`, `SELECT count(*) FROM read_parquet('${source}')`]);
    console.log(`source ${source}: ${(statSync(source).size / 1048576).toFixed(0)} MB, ${fmt(Number(made.value))} rows in ${made.seconds.toFixed(1)} s`);
    const home = join(work, "home");
    mkdirSync(home, { recursive: true });
    if (usesPg) writeFileSync(join(home, "mdm.yaml"), mdmYaml(prefix));
    for (const engine of args.engines) {
      const registered = await run(process.execPath, [MDM_BIN, "dataset", "register", `bench_${engine}`, source, "--backend", engine], { env: mdmEnv(home) });
      if (registered.code !== 0) throw failure(`mdm dataset register (${engine})`, registered);
      console.log(`registered bench_${engine} in ${registered.seconds.toFixed(1)} s (not timed)`);
    }
    for (const format of args.formats) {
      const base = await baseline(source, format, join(work, `baseline.${format}`));
      console.log(`\n${format}: DuckDB COPY (SELECT * FROM read_parquet) TO: ${base.seconds.toFixed(2)} s, ${fmt(args.rows / base.seconds)} rows/s, peak RSS ${mb(base.rssKb)}, load ${load()}`);
      for (const engine of args.engines) {
        for (const readWith of args.readWith) {
          const mine = await ours(home, `bench_${engine}`, format, readWith, join(work, `out-${engine}`));
          const check = await compare(source, format, mine.file);
          const exact = check.extra === 0 && check.missing === 0 && check.rows === args.rows && mine.rows === args.rows;
          const ratio = base.seconds / mine.seconds;
          results.push({ format, engine, readWith, base: base.seconds, ...mine, ratio, exact, check });
          console.log(`  ${engine} (read by ${mine.readBy}): ${mine.seconds.toFixed(2)} s, ${fmt(args.rows / mine.seconds)} rows/s, peak RSS ${mb(mine.rssKb)}, CPU ${mine.cpu.toFixed(1)} s; ratio ${ratio.toFixed(2)} ${ok(ratio >= TARGET)}; read back by DuckDB: ${exact ? "equal" : `DIFFERENT (${check.extra} extra, ${check.missing} missing, ${check.rows} rows, mdm said ${mine.rows})`}; load ${load()}`);
          rmSync(join(work, `out-${engine}`), { recursive: true, force: true });
        }
      }
    }
    console.log("\n| format | engine | read by | DuckDB COPY s | ours s | ratio (target >= 0.5) | peak RSS | read back equal |");
    console.log("|---|---|---|---:|---:|---:|---:|---|");
    for (const r of results) console.log(`| ${r.format} | ${r.engine} | ${r.readBy} | ${r.base.toFixed(2)} | ${r.seconds.toFixed(2)} | ${r.ratio.toFixed(2)} ${ok(r.ratio >= TARGET)} | ${mb(r.rssKb)} | ${r.exact ? "yes" : "NO"} |`);
    console.log(`\nTimes: wall clock of each whole child process. ${os.cpus().length} CPUs, load average after: ${load()}`);
  } finally {
    if (usesPg) await dropDatabases(prefix).catch((e) => console.log(`WARNING could not drop the databases ${prefix}*: ${e.message}`));
    if (args.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  if (results.some((r) => !r.exact)) process.exitCode = 1;
}

await main().catch((error) => {
  console.error(`export bench: ${error.message}`);
  process.exitCode = 1;
});

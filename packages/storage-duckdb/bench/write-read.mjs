// Benchmark (not a test): 1,000,000 rows x 11 columns written and stream-read by the legacy backend,
// the new backend and the fastest plain @duckdb/node-api loops (row-wise Appender, data-chunk Appender),
// in the same run on the same data. The new backend and the data-chunk loop run ROUNDS times, alternating,
// and their medians are compared (the machine is shared: single runs are noisy). Build both packages first:
//   pnpm --filter @mdm/storage-duckdb --filter @mdm/storage-duckdb-legacy build
//   node packages/storage-duckdb/bench/write-read.mjs [rows]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  DuckDBDataChunk,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
} from "@duckdb/node-api";
import { SqlDate, SqlTimestamp } from "@mdm/storage-core";
import { DuckdbStorageBackend, duckdbTypeOf, duckdbTypeSql, instanceOptions } from "../dist/index.js";
import { LegacyDuckdbStorageBackend } from "../../storage-duckdb-legacy/dist/index.js";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 10_000); // rows per writeBatches batch: performance.batch_size of mdm.yaml
const SETTINGS = { memoryLimit: "4GB", threads: 2 };
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const COLUMNS = [
  { name: "id", type: "int64" },
  { name: "user_id", type: "int64" },
  { name: "x", type: "float64" },
  { name: "y", type: "float64" },
  { name: "price", type: "decimal", precision: 18, scale: 4 },
  { name: "label", type: "text" },
  { name: "category", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
];

function makeBatches() {
  const batches = [];
  for (let start = 0; start < ROWS; start += BATCH) {
    const rows = [];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      rows.push([
        BigInt(i),
        BigInt((i * 7919) % 100_003),
        i * 0.001,
        Math.sin(i),
        `${(i % 1_000_000) * 3}.${String(i % 10_000).padStart(4, "0")}`,
        `label-${i}`,
        ["train", "test", "validation"][i % 3],
        i % 2 === 0,
        new SqlDate(i % 20_000),
        new SqlTimestamp(BigInt(i) * 1_000_001n - 100_000_000_000n),
        new SqlTimestamp(BigInt(i) * 999_999n),
      ]);
    }
    batches.push(rows);
  }
  return batches;
}

function rate(rows, ms) {
  return Math.round((rows / ms) * 1000);
}

/** Wall time, and CPU time of the whole process (main thread and DuckDB's threads), of one phase. */
async function timed(fn) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const rows = await fn();
  const used = process.cpuUsage(cpu);
  return { rows, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

let runs = 0;

async function backendRun(backend, batches) {
  const path = join(base, `${backend.implementation}-${++runs}.duckdb`);
  await backend.createDatabase(path);
  const engine = await backend.getEngine(path);
  const write = await timed(() => backend.writeBatches("bench", COLUMNS, batches, { engine }));
  const read = await timed(async () => {
    let n = 0;
    for await (const batch of backend.readBatches("bench", { engine, batchSize: 10_000 })) n += batch.rows.length;
    return n;
  });
  await backend.close();
  return { write, read };
}

/** The plain loops: raw @duckdb/node-api, same settings, same input values, converted inline. */
async function plainRun(batches, mode) {
  const path = join(base, `plain-${mode}-${++runs}.duckdb`);
  const instance = await DuckDBInstance.create(path, instanceOptions(SETTINGS));
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE bench (${COLUMNS.map((c) => `"${c.name}" ${duckdbTypeSql(c)}`).join(", ")})`);
  const write = await timed(async () => {
    const appender = await connection.createAppender("bench");
    if (mode === "rows") {
      for (const rows of batches) {
        for (const r of rows) {
          appender.appendBigInt(r[0]);
          appender.appendBigInt(r[1]);
          appender.appendDouble(r[2]);
          appender.appendDouble(r[3]);
          const [ip, fp] = r[4].split(".");
          appender.appendDecimal(new DuckDBDecimalValue(BigInt(ip + fp), 18, 4));
          appender.appendVarchar(r[5]);
          appender.appendVarchar(r[6]);
          appender.appendBoolean(r[7]);
          appender.appendDate(new DuckDBDateValue(r[8].days));
          appender.appendTimestamp(new DuckDBTimestampValue(r[9].micros));
          appender.appendTimestampTZ(new DuckDBTimestampTZValue(r[10].micros));
          appender.endRow();
        }
      }
    } else {
      const types = COLUMNS.map(duckdbTypeOf);
      const convert = [
        (v) => v,
        (v) => v,
        (v) => v,
        (v) => v,
        (v) => {
          const [ip, fp] = v.split(".");
          return new DuckDBDecimalValue(BigInt(ip + fp), 18, 4);
        },
        (v) => v,
        (v) => v,
        (v) => v,
        (v) => new DuckDBDateValue(v.days),
        (v) => new DuckDBTimestampValue(v.micros),
        (v) => new DuckDBTimestampTZValue(v.micros),
      ];
      for (const rows of batches) {
        for (let start = 0; start < rows.length; start += 2048) {
          const count = Math.min(2048, rows.length - start);
          const chunk = DuckDBDataChunk.create(types, count);
          for (let c = 0; c < types.length; c++) {
            const column = new Array(count);
            for (let r = 0; r < count; r++) column[r] = convert[c](rows[start + r][c]);
            chunk.setColumnValues(c, column);
          }
          appender.appendDataChunk(chunk);
        }
      }
    }
    appender.flushSync();
    appender.closeSync();
    return ROWS;
  });
  const read = await timed(async () => {
    const result = await connection.stream("SELECT * FROM bench");
    let n = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (let c = 0; c < chunk.columnCount; c++) chunk.getColumnValues(c);
      n += chunk.rowCount;
    }
    return n;
  });
  connection.closeSync();
  instance.closeSync();
  return { write, read };
}

const base = mkdtempSync(join(os.tmpdir(), "mdm-duckdb-bench-"));
try {
  console.log(`DuckDB write/read benchmark: ${ROWS.toLocaleString("en")} rows x ${COLUMNS.length} columns, settings ${JSON.stringify(SETTINGS)}`);
  console.log(`node ${process.version}, ${os.cpus().length} cpus, loadavg before ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const batches = makeBatches();
  const results = {};
  const note = (name, r) => {
    (results[name] ??= []).push(r);
    console.log(
      `  ${name}: write ${rate(r.write.rows, r.write.ms)} rows/s (${rate(r.write.rows, r.write.cpuMs)} per CPU-s), read ${rate(r.read.rows, r.read.ms)} rows/s (${rate(r.read.rows, r.read.cpuMs)} per CPU-s), loadavg ${os.loadavg()[0].toFixed(2)}`,
    );
  };
  note("plain Appender (row-wise)", await plainRun(batches, "rows"));
  for (let round = 0; round < ROUNDS; round++) {
    note("plain Appender (data chunks)", await plainRun(batches, "chunks"));
    note("new (DuckdbStorageBackend)", await backendRun(new DuckdbStorageBackend({ duckdb: SETTINGS }), batches));
  }
  if (process.env.SKIP_LEGACY) results["legacy (LegacyDuckdbStorageBackend)"] = [{ write: { rows: 1, ms: 1e9, cpuMs: 1e9 }, read: { rows: 0, ms: 1, cpuMs: 1 } }];
  else note("legacy (LegacyDuckdbStorageBackend)", await backendRun(new LegacyDuckdbStorageBackend({ duckdb: SETTINGS }), batches));
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, list]) => [
      name,
      {
        runs: list.length,
        "write rows/s (median)": median(list.map((r) => rate(r.write.rows, r.write.ms))),
        "write rows/CPU-s (median)": median(list.map((r) => rate(r.write.rows, r.write.cpuMs))),
        "read rows/s (median)": median(list.map((r) => rate(r.read.rows, r.read.ms))),
        "read rows/CPU-s (median)": median(list.map((r) => rate(r.read.rows, r.read.cpuMs))),
        "rows read": list[0].read.rows,
      },
    ]),
  );
  console.table(summary);
  for (const unit of ["write rows/s (median)", "write rows/CPU-s (median)"]) {
    const w = (name) => summary[name][unit];
    const bestPlain = Math.max(w("plain Appender (row-wise)"), w("plain Appender (data chunks)"));
    const fresh = w("new (DuckdbStorageBackend)");
    const legacy = w("legacy (LegacyDuckdbStorageBackend)");
    console.log(`${unit}: new / legacy ${(fresh / legacy).toFixed(1)}x (target >= 5x); new / fastest plain loop ${((fresh / bestPlain) * 100).toFixed(0)}% (target >= 80%)`);
  }
  console.log(`loadavg after ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}

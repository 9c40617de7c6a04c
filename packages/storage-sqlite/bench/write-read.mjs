// Write and stream-read a 1,000,000-row, 11-column table with the legacy backend, the new backend and
// the fastest plain better-sqlite3 loops, all in the same run, and print rows/s.
//
//   pnpm --filter @mdm/storage-core --filter @mdm/storage-sqlite --filter @mdm/storage-sqlite-legacy build
//   node packages/storage-sqlite/bench/write-read.mjs [rows] [rounds]
//
// Not a test: timings depend on the machine and its load (printed beside the figures). Every
// implementation gets the same rows, generated in a process of its own before the clock starts; the
// best of `rounds` runs of each is reported, runs interleaved. Every read is measured twice a round
// (the backends read twice in their process; each plain read runs in both plain processes).
// Wall time and the process's CPU time (user + system) are both measured: on a shared machine the
// CPU figures are the steadier comparison.
// A backend's write is timed twice: until writeBatches returns (what its caller waits for), and until
// closeConnections returns (every page in the database file). The new backend checkpoints the WAL in a
// worker thread; it is also run with the checkpoint in the commit, as legacy and the plain loops do.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { DEFAULT_BATCH_SIZE, SqlDate, SqlTimestamp } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
// The legacy package is not a dependency of this one: its build is loaded by path.
import { LegacySqliteStorageBackend } from "../../storage-sqlite-legacy/dist/index.js";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
/** Rows per input batch of the writes (what a caller hands writeBatches). */
const BATCH = 10_000;
/**
 * Rows per batch of the streaming reads, ours and the plain loop's alike: core's readBatches default
 * (DEFAULT_BATCH_SIZE, 2,048; larger batches are promoted out of V8's young generation).
 */
const READ_BATCH = DEFAULT_BATCH_SIZE;

const COLUMNS = [
  { name: "id", type: "int64", nullable: false },
  { name: "x1", type: "float64" },
  { name: "x2", type: "float64" },
  { name: "x3", type: "float64" },
  { name: "x4", type: "float64" },
  { name: "amount", type: "float64" },
  { name: "label", type: "text" },
  { name: "category", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
];

// The same PRAGMAs as the backends' defaults.
const PRAGMAS = ["journal_mode = WAL", "synchronous = NORMAL", "cache_size = -64000", "temp_store = MEMORY", "mmap_size = 268435456"];

/** Rows in the value model (what MDM backends take), in batches of 10,000. */
function valueBatches() {
  const batches = [];
  const base = 1_700_000_000_000_000n;
  for (let start = 0; start < ROWS; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      batch.push([
        BigInt(i),
        i * 0.5,
        i / 3,
        Math.sqrt(i),
        -(i + 1) * 1.25,
        (i % 1000) / 7,
        `label-${i}`,
        `cat${i % 17}`,
        i % 2 === 0,
        new SqlDate(19000 + (i % 1000)),
        new SqlTimestamp(base + BigInt(i) * 1_000_003n),
      ]);
    }
    batches.push(batch);
  }
  return batches;
}

/** The same rows as a plain better-sqlite3 user binds them: booleans as 0/1, dates and timestamps as text. */
function plainRows(batches) {
  const rows = [];
  for (const batch of batches) for (const r of batch) rows.push(toPlain(r));
  return rows;
}

const DDL = `CREATE TABLE "bench" (${COLUMNS.map((c) => `"${c.name}" ${{ int64: "INTEGER", float64: "REAL", text: "TEXT", boolean: "BOOLEAN", date: "DATE", timestamp: "TIMESTAMP" }[c.type]}`).join(", ")})`;
const tuple = `(${COLUMNS.map(() => "?").join(", ")})`;

function openPlain(path) {
  const db = new Database(path);
  for (const p of PRAGMAS) db.pragma(p);
  return db;
}

/** A value-model row bound the plain way: boolean → 0/1, SqlDate / SqlTimestamp → their text. */
const toPlain = (r) => [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] ? 1 : 0, r[9].toString(), r[10].toString()];

/**
 * The fastest plain write loops we know: one prepared INSERT (1 or 32 rows) in one transaction,
 * binding rows already converted to primitives (`convert` false: the driver's ceiling), or converting
 * the value-model rows inline (`convert` true: what a plain loop over MDM values must do).
 */
function plainWrite(path, rows, perStatement, convert = false) {
  const db = openPlain(path);
  db.exec(DDL);
  const t0 = clock();
  const insert = db.transaction(() => {
    let i = 0;
    if (perStatement > 1) {
      const many = db.prepare(`INSERT INTO "bench" VALUES ${new Array(perStatement).fill(tuple).join(", ")}`);
      const flat = new Array(perStatement * COLUMNS.length);
      for (; i + perStatement <= rows.length; i += perStatement) {
        let p = 0;
        for (let r = i; r < i + perStatement; r++) {
          const row = convert ? toPlain(rows[r]) : rows[r];
          for (let c = 0; c < row.length; c++) flat[p++] = row[c];
        }
        many.run(flat);
      }
    }
    const one = db.prepare(`INSERT INTO "bench" VALUES ${tuple}`);
    for (; i < rows.length; i++) one.run(convert ? toPlain(rows[i]) : rows[i]);
  });
  insert();
  const ms = t0.stop();
  db.close();
  return ms;
}

/**
 * The plain read by keyset pages: `all()` of READ_BATCH rows after the last rowid, again and again. One
 * call into SQLite per page instead of one per row; faster than iterate() on 2026-11-26's machine.
 */
function plainReadKeyset(path) {
  const db = openPlain(path);
  const t0 = clock();
  const page = db.prepare(`SELECT rowid, * FROM "bench" WHERE rowid > ? ORDER BY rowid LIMIT ${READ_BATCH}`).raw(true).safeIntegers(true);
  let n = 0;
  let last = -(2n ** 63n);
  for (;;) {
    const rows = page.all(last);
    n += rows.length;
    if (rows.length < READ_BATCH) break;
    last = rows[rows.length - 1][0];
  }
  const ms = t0.stop();
  db.close();
  if (n !== ROWS) throw new Error(`plain keyset read ${n} rows`);
  return ms;
}

/** The plain streaming read: iterate() with safe integers, raw arrays, in batches of READ_BATCH. */
function plainRead(path) {
  const db = openPlain(path);
  const t0 = clock();
  let n = 0;
  let batch = [];
  for (const row of db.prepare('SELECT * FROM "bench"').raw(true).safeIntegers(true).iterate()) {
    batch.push(row);
    if (batch.length === READ_BATCH) {
      n += batch.length;
      batch = [];
    }
  }
  n += batch.length;
  const ms = t0.stop();
  db.close();
  if (n !== ROWS) throw new Error(`plain read ${n} rows`);
  return ms;
}

/**
 * The write as its caller waits for it, and the write until the connections are closed: every page
 * then in the database file, the WAL checkpointed (in the commit for legacy, in a worker thread for
 * the new backend) and truncated.
 */
async function backendWrite(backend, batches) {
  await backend.createDataset("bench");
  const engine = await backend.getDatasetEngine("bench");
  const t0 = clock();
  const written = await backend.writeBatches("bench", COLUMNS, batches, { engine });
  const ms = t0.stop();
  if (written !== ROWS) throw new Error(`wrote ${written} rows`);
  await backend.closeConnections();
  return { write: ms, closed: t0.stop() };
}

async function backendRead(backend) {
  const engine = await backend.getDatasetEngine("bench");
  const t0 = clock();
  let n = 0;
  for await (const batch of backend.readBatches("bench", { engine, batchSize: READ_BATCH })) n += batch.rows.length;
  const ms = t0.stop();
  if (n !== ROWS) throw new Error(`read ${n} rows`);
  await backend.closeConnections();
  return ms;
}

/** Wall and CPU milliseconds since the call. */
function clock() {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return {
    stop: () => {
      const used = process.cpuUsage(cpu);
      return { wall: performance.now() - wall, cpu: (used.user + used.system) / 1000 };
    },
  };
}

const rate = (ms) => Math.round((ROWS / ms) * 1000);
const fmt = (n) => n.toLocaleString("en-US");

/** Measured in a child process (a fresh heap each time, the data generated there before the clock starts). */
const RUNS = {
  legacy: { write: "legacy write", closed: "legacy write+close", read: "legacy read" },
  new: { write: "new write", closed: "new write+close", read: "new read" },
  "new-inline": { write: "new write (checkpoint in the commit)", closed: "new write+close (checkpoint in the commit)" },
  "plain-1": { write: "plain write (1-row INSERT)", read: "plain read", keyset: "plain read (keyset pages)" },
  "plain-32": { write: "plain write (32-row INSERT)", read: "plain read", keyset: "plain read (keyset pages)" },
  "plain-32-convert": { write: "plain write (32-row INSERT, converting MDM values inline)" },
};

/** One run of one implementation: write, free the input, collect garbage, then read. */
async function child(run) {
  const dir = mkdtempSync(join(tmpdir(), `mdm-bench-${run}-`));
  const out = {};
  try {
    let batches = valueBatches();
    if (run === "legacy" || run === "new" || run === "new-inline") {
      const backend =
        run === "legacy" ? new LegacySqliteStorageBackend({ homeDir: dir }) : new SqliteStorageBackend({ homeDir: dir, backgroundCheckpoints: run === "new" });
      Object.assign(out, await backendWrite(backend, batches));
      batches = undefined;
      globalThis.gc?.();
      // Read twice: each plain read loop is also measured twice a round (once in each plain process,
      // first in one and second in the other), so every read figure is the best of as many samples.
      if (run !== "new-inline") out.read = [await backendRead(backend), await backendRead(backend)];
      await backend.close();
    } else {
      const path = join(dir, "plain.sqlite");
      const convert = run === "plain-32-convert";
      const rows = convert ? batches.flat() : plainRows(batches);
      batches = undefined;
      globalThis.gc?.();
      out.write = plainWrite(path, rows, run === "plain-1" ? 1 : 32, convert);
      if (!convert) {
        rows.length = 0;
        globalThis.gc?.();
        // Both plain reads, in an order that alternates between the two plain runs.
        if (run === "plain-1") {
          out.keyset = plainReadKeyset(path);
          out.read = plainRead(path);
        } else {
          out.read = plainRead(path);
          out.keyset = plainReadKeyset(path);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out));
}

async function main() {
  console.log(`rows=${fmt(ROWS)} columns=${COLUMNS.length} rounds=${ROUNDS} node=${process.version} better-sqlite3 SQLite ${new Database(":memory:").prepare("select sqlite_version() v").get().v}`);
  console.log("each measurement in its own process (fresh heap, --expose-gc), runs interleaved, best of the rounds");
  console.log(`loadavg before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const best = {};
  const keep = (key, ms) => {
    best[key] = { wall: Math.min(best[key]?.wall ?? Infinity, ms.wall), cpu: Math.min(best[key]?.cpu ?? Infinity, ms.cpu), samples: (best[key]?.samples ?? 0) + 1 };
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [run, keys] of Object.entries(RUNS)) {
      let result;
      for (let attempt = 1; ; attempt++) {
        result = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), String(ROWS), "1", "--child", run], { encoding: "utf8", maxBuffer: 1 << 20 });
        if (result.status === 0) break;
        // A package being rebuilt meanwhile (its dist briefly absent) is worth another try.
        if (attempt >= 5 || !result.stderr.includes("ERR_MODULE_NOT_FOUND")) throw new Error(`${run} failed: ${result.stderr}`);
        await new Promise((r) => setTimeout(r, 5000));
      }
      const out = JSON.parse(result.stdout);
      keep(keys.write, out.write);
      if (keys.closed) keep(keys.closed, out.closed);
      if (keys.read) for (const ms of [out.read].flat()) keep(keys.read, ms);
      if (keys.keyset) keep(keys.keyset, out.keyset);
    }
    console.log(`round ${round + 1} done, loadavg ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  }
  console.log("");
  console.log("| implementation | operation | best wall ms | rows/s (wall) | best CPU ms | rows/s (CPU) | samples |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const [key, ms] of Object.entries(best)) {
    const [name, ...op] = key.split(" ");
    console.log(`| ${name} | ${op.join(" ")} | ${ms.wall.toFixed(0)} | ${fmt(rate(ms.wall))} | ${ms.cpu.toFixed(0)} | ${fmt(rate(ms.cpu))} | ${ms.samples} |`);
  }
  console.log("");
  for (const clockName of ["wall", "cpu"]) {
    const t = (key) => best[key][clockName];
    const plainWriteBest = Math.min(t("plain write (1-row INSERT)"), t("plain write (32-row INSERT)"));
    const plainReadBest = Math.min(t("plain read"), t("plain read (keyset pages)"));
    console.log(`[${clockName}] new write / legacy write:        ${(t("legacy write") / t("new write")).toFixed(2)}x (target >= 1.2x)`);
    console.log(`[${clockName}] the same, until closed:          ${(t("legacy write+close") / t("new write+close")).toFixed(2)}x (every page in the database file)`);
    console.log(`[${clockName}] new write / the same with the checkpoint in the commit: ${(t("new write (checkpoint in the commit)") / t("new write")).toFixed(2)}x`);
    console.log(`[${clockName}] new write / fastest plain write: ${((plainWriteBest / t("new write")) * 100).toFixed(0)}% (target >= 85%)`);
    console.log(`[${clockName}] new read / fastest plain read:   ${((plainReadBest / t("new read")) * 100).toFixed(0)}% (target >= 85%)`);
    console.log(`[${clockName}] new read / plain iterate() read: ${((t("plain read") / t("new read")) * 100).toFixed(0)}%`);
    console.log(`[${clockName}] legacy read / fastest plain read: ${((plainReadBest / t("legacy read")) * 100).toFixed(0)}%`);
  }
  console.log(`loadavg after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

const childRun = process.argv.indexOf("--child");
if (childRun > 0) await child(process.argv[childRun + 1]);
else await main();

// TableChecksum cost per row (a script, not a test): the 11-column rows of the migration benchmark,
// hashed by TableChecksum, next to the canonical text form (encodeRow + hash64) it replaced.
//
//   pnpm --filter @mdm/storage-core build
//   node packages/storage-core/bench/checksum.mjs [rows] [rounds]
import { loadavg } from "node:os";
import { SqlDate, SqlTimestamp, TableChecksum, encodeRow, hash64 } from "@mdm/storage-core";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const COLUMNS = [
  { name: "id", type: "int64" },
  { name: "x1", type: "float64" },
  { name: "x2", type: "float64" },
  { name: "x3", type: "float64" },
  { name: "x4", type: "float64" },
  { name: "amount", type: "decimal", precision: 18, scale: 4 },
  { name: "label", type: "text" },
  { name: "category", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
];

const rows = [];
const base = 1_700_000_000_000_000n;
for (let i = 0; i < ROWS; i++) {
  rows.push([
    BigInt(i),
    i * 0.5,
    i / 3,
    Math.sqrt(i),
    i % 97 === 0 ? null : -(i + 1) * 1.25,
    `${Math.floor(i / 7)}.${String(i % 10_000).padStart(4, "0")}`,
    `label-${i}`,
    `cat${i % 17}`,
    i % 2 === 0,
    new SqlDate(19000 + (i % 1000)),
    new SqlTimestamp(base + BigInt(i) * 1_000_003n),
  ]);
}

function textForm() {
  let sum = 0;
  for (const row of rows) sum = (sum + hash64(encodeRow(COLUMNS, row))[0]) % 4294967296;
  return sum;
}

function tableChecksum() {
  const sum = new TableChecksum(COLUMNS);
  sum.addAll(rows);
  return sum.hash;
}

console.log(`rows=${ROWS.toLocaleString("en-US")} columns=${COLUMNS.length} rounds=${ROUNDS} node=${process.version} loadavg ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
const best = { "TableChecksum": Infinity, "encodeRow + hash64 (text form)": Infinity };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of [["TableChecksum", tableChecksum], ["encodeRow + hash64 (text form)", textForm]]) {
    const t0 = performance.now();
    fn();
    best[name] = Math.min(best[name], performance.now() - t0);
  }
}
for (const [name, ms] of Object.entries(best)) console.log(`${name.padEnd(32)} best ${ms.toFixed(0).padStart(6)} ms  ${((ms * 1000) / ROWS).toFixed(2)} µs/row`);

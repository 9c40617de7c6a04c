// Write and stream-read 1,000,000 rows x 11 columns with the legacy backend, the new backend and the
// plainest fast pg loop (COPY FROM STDIN / COPY TO STDOUT), in the same run. Not a test: it prints
// rows/s beside os.loadavg(). Build first (pnpm --filter @mdm/storage-postgresql... build), then:
//   node packages/storage-postgresql/bench/write-read.mjs [rows]
// Server: MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres).
import { randomBytes } from "node:crypto";
import os from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import copyStreams from "pg-copy-streams";
import { SqlDate, SqlTimestamp, defaultConfig, postgresConfigFromUrl, quoteIdentifier } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/dist/index.js";
import { PostgresqlStorageBackend } from "../dist/index.js";

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const BATCH = 100_000;
const url = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";
const prefix = `mdmbench${randomBytes(3).toString("hex")}_`;
const config = { ...defaultConfig().database.postgresql, sslmode: "disable", ...postgresConfigFromUrl(url), database_prefix: prefix };

const columns = [
  { name: "id", type: "int64" },
  { name: "user_id", type: "int64" },
  { name: "score", type: "float64" },
  { name: "ratio", type: "float64" },
  { name: "amount", type: "decimal", precision: 12, scale: 2 },
  { name: "label", type: "text" },
  { name: "comment", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "day", type: "date" },
  { name: "created", type: "timestamp" },
  { name: "updated", type: "timestamptz" },
];

/** One batch of rows, built once and written TOTAL/BATCH times (generation is not timed). */
const pool = Array.from({ length: Math.min(BATCH, TOTAL) }, (_, i) => [
  BigInt(i),
  BigInt((i * 7919) % 100_000),
  i * 0.001 + 0.5,
  Math.sin(i),
  `${(i % 1_000_000) * 3}.${String(i % 100).padStart(2, "0")}`,
  ["train", "test", "validation", "holdout"][i % 4],
  `comment number ${i} with some words`,
  i % 2 === 0,
  new SqlDate(18_000 + (i % 3650)),
  new SqlTimestamp(1_700_000_000_000_000n + BigInt(i) * 1_234_567n),
  new SqlTimestamp(1_600_000_000_000_000n + BigInt(i) * 7_654_321n),
]);
const batches = Array.from({ length: Math.ceil(TOTAL / pool.length) }, (_, b) => pool.slice(0, Math.min(pool.length, TOTAL - b * pool.length)));

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const results = [];
async function measure(label, fn) {
  const before = load();
  const started = performance.now();
  const rows = await fn();
  const seconds = (performance.now() - started) / 1000;
  const rate = rows / seconds;
  results.push({ label, rows, seconds, rate });
  console.log(`${label.padEnd(34)} ${String(rows).padStart(8)} rows ${seconds.toFixed(2).padStart(7)} s ${Math.round(rate).toLocaleString("en-US").padStart(10)} rows/s   loadavg before ${before}`);
}

/** The plainest fast loop: one COPY FROM STDIN, lines built with template strings. */
async function plainCopyWrite(client) {
  await client.query(`CREATE TABLE plain (id bigint, user_id bigint, score double precision, ratio double precision, amount numeric(12,2), label text, comment text, flag boolean, day date, created timestamp(6), updated timestamptz(6))`);
  const stream = client.query(copyStreams.from("COPY plain FROM STDIN"));
  function* chunks() {
    for (const batch of batches) {
      let text = "";
      for (const r of batch) {
        text += `${r[0]}\t${r[1]}\t${r[2]}\t${r[3]}\t${r[4]}\t${r[5]}\t${r[6]}\t${r[7] ? "t" : "f"}\t${r[8]}\t${r[9]}\t${r[10]}+00\n`;
        if (text.length > 1 << 18) {
          yield text;
          text = "";
        }
      }
      if (text) yield text;
    }
  }
  await pipeline(Readable.from(chunks()), stream);
  return stream.rowCount;
}

/** The plainest fast read: COPY TO STDOUT, rows counted by newline, nothing parsed. */
async function plainCopyRead(client) {
  const stream = client.query(copyStreams.to("COPY plain TO STDOUT"));
  let rows = 0;
  for await (const chunk of stream) for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) rows++;
  return rows;
}

async function backendRead(backend, dataset) {
  const engine = await backend.getDatasetEngine(dataset);
  let rows = 0;
  for await (const batch of backend.readBatches("data", { engine, batchSize: 10_000 })) rows += batch.rows.length;
  return rows;
}

console.log(`PostgreSQL write/read benchmark: ${TOTAL.toLocaleString("en-US")} rows x ${columns.length} columns, ${os.cpus().length} CPUs, node ${process.version}`);
const legacy = new LegacyPostgresqlStorageBackend({ config });
const modern = new PostgresqlStorageBackend({ config });
const modernText = new PostgresqlStorageBackend({ config, copyFormat: "text", readFormat: "cursor" });
const admin = new pg.Client({ host: config.host, port: config.port, user: config.user ?? undefined, password: config.password ?? undefined, database: config.database ?? "postgres" });
await admin.connect();
try {
  await legacy.createDataset("legacy");
  await modern.createDataset("modern");
  await modernText.createDataset("moderntext");
  await admin.query(`CREATE DATABASE ${quoteIdentifier(`${prefix}plain`)}`);
  const plain = new pg.Client({ host: config.host, port: config.port, user: config.user ?? undefined, password: config.password ?? undefined, database: `${prefix}plain` });
  await plain.connect();

  await measure("write legacy (multi-row INSERT)", async () => legacy.writeBatches("data", columns, batches, { engine: await legacy.getDatasetEngine("legacy") }));
  await measure("write new (COPY binary, default)", async () => modern.writeBatches("data", columns, batches, { engine: await modern.getDatasetEngine("modern") }));
  await measure("write new (COPY text)", async () => modernText.writeBatches("data", columns, batches, { engine: await modernText.getDatasetEngine("moderntext") }));
  await measure("write plain pg COPY loop", async () => {
    await plain.query("BEGIN");
    const n = await plainCopyWrite(plain);
    await plain.query("COMMIT");
    return n;
  });
  await measure("read legacy (plain query)", () => backendRead(legacy, "legacy"));
  await measure("read new (COPY binary, default)", () => backendRead(modern, "modern"));
  await measure("read new (cursor)", () => backendRead(modernText, "moderntext"));
  await measure("read plain pg COPY TO (unparsed)", () => plainCopyRead(plain));
  await plain.end();

  const rate = (label) => results.find((r) => r.label.startsWith(label)).rate;
  console.log(`new/legacy write: ${(rate("write new (COPY binary") / rate("write legacy")).toFixed(2)}x; new/plain COPY write: ${((rate("write new (COPY binary") / rate("write plain")) * 100).toFixed(0)}%`);
  console.log(`new/legacy read: ${(rate("read new (COPY binary") / rate("read legacy")).toFixed(2)}x; new/plain COPY read: ${((rate("read new (COPY binary") / rate("read plain")) * 100).toFixed(0)}%`);
} finally {
  await legacy.close();
  await modern.close();
  await modernText.close();
  const { rows } = await admin.query("SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", [prefix]);
  for (const { datname } of rows) {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [datname]);
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)}`);
  }
  await admin.end();
}

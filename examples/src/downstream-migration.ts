/**
 * What a downstream repository does with only four packages installed:
 *
 *   npm install @mdm/storage-core @mdm/storage-sqlite @mdm/storage-duckdb @mdm/migration
 *
 * It builds an MDM home with a few SQLite datasets (registered as MDM's registrar does), migrates every
 * dataset to DuckDB with `migrateAllDatasets()` and a progress callback, verifies the result on its own
 * (checksums of every table on both sides, metadata, registry), and prints a summary.
 *
 * Run: pnpm --filter examples exec tsx src/downstream-migration.ts
 */
import { DatasetRegistry, MdmHome, SqlDate, SqlTimestamp, TableChecksum, type ColumnDef, type DataFrame, type IStorageBackend } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { StorageMigrator, type MigrationProgress } from "@mdm/migration";
import { sampleRows } from "./support/data.js";
import { fmt, heading, load, withTempHome } from "./support/run.js";

const SALES_COLUMNS: ColumnDef[] = [
  { name: "order_id", type: "int64", nullable: false },
  { name: "customer", type: "text" },
  { name: "amount", type: "decimal", precision: 12, scale: 2 },
  { name: "ordered_on", type: "date" },
  { name: "shipped_at", type: "timestamp" },
  { name: "paid", type: "boolean" },
];

/** 20,000 orders: exact decimals, dates, microsecond timestamps, 64-bit ids beyond 2^53, NULLs. */
function sales(count: number): DataFrame {
  const rows = [];
  const base = SqlTimestamp.parse("2024-01-01 08:00:00.000000").micros;
  for (let i = 0; i < count; i++) {
    rows.push({
      order_id: 9_007_199_254_740_993n + BigInt(i), // 2^53 + 1 + i: exact only as bigint
      customer: i % 97 === 0 ? null : `customer_${i % 1_000}`,
      amount: `${(i * 37) % 100_000}.${String(i % 100).padStart(2, "0")}`,
      ordered_on: new SqlDate(19_723 + (i % 366)),
      shipped_at: i % 50 === 0 ? null : new SqlTimestamp(base + BigInt(i) * 3_600_000_123n),
      paid: i % 3 !== 0,
    });
  }
  return { columns: SALES_COLUMNS, rows };
}

async function buildHome(home: string, sqlite: IStorageBackend): Promise<void> {
  heading("An MDM home with SQLite datasets");
  const mdmHome = new MdmHome(home);
  const registry = new DatasetRegistry(mdmHome);
  const datasets: Array<{ name: string; tables: Record<string, DataFrame>; metadata: Record<string, string> }> = [
    { name: "titanic", tables: { train: sampleRows(891), test: sampleRows(418, 892) }, metadata: { source: "kaggle", problem_type: "binary_classification" } },
    { name: "iris", tables: { data: sampleRows(150) }, metadata: { source: "uci", problem_type: "multiclass_classification" } },
    { name: "sales", tables: { train: sales(20_000), test: sales(2_000) }, metadata: { source: "erp export", problem_type: "regression" } },
  ];
  for (const d of datasets) {
    await sqlite.createDataset(d.name, { metadata: d.metadata });
    for (const [table, df] of Object.entries(d.tables)) await sqlite.saveData(d.name, df, table);
    registry.write({
      name: d.name,
      database: { backend: "sqlite", path: mdmHome.databaseFile(d.name, "sqlite") },
      tables: Object.fromEntries(Object.keys(d.tables).map((t) => [t, t])),
      problem_type: d.metadata.problem_type,
    });
    const rows = Object.values(d.tables).reduce((n, df) => n + df.rows.length, 0);
    console.log(`  ${d.name.padEnd(8)} ${Object.keys(d.tables).join(", ").padEnd(12)} ${fmt(rows).padStart(6)} rows  -> ${mdmHome.databaseFile(d.name, "sqlite").slice(home.length + 1)}`);
  }
}

/** Progress: a line per phase, and per batch copied (each position once). */
function progressPrinter(): (e: MigrationProgress) => void {
  let last = "";
  return (e) => {
    const line =
      e.phase === "copy"
        ? `  [${e.dataset}] copy ${e.table} (table ${e.tableIndex}/${e.tableCount}): ${fmt(e.rowsDone)}/${fmt(e.rowsTotal)} rows`
        : `  [${e.dataset}] ${e.phase}${e.phase === "done" ? `: ${fmt(e.rowsDone)} rows` : ""}`;
    if (line !== last) console.log(line);
    last = line;
  };
}

async function tableChecksums(backend: IStorageBackend, dataset: string): Promise<Map<string, string>> {
  const engine = await backend.getDatasetEngine(dataset);
  const sums = new Map<string, string>();
  for (const table of await backend.listTables(dataset)) {
    const info = await backend.getTableInfo(table, engine);
    const sum = new TableChecksum(info.columns);
    for await (const batch of backend.readBatches(table, { engine })) sum.addAll(batch.rows);
    sums.set(table, `${sum.count}:${sum.toJSON().hash}`);
  }
  return sums;
}

await withTempHome("mdm-example-downstream", async (home) => {
  const sqlite = new SqliteStorageBackend({ homeDir: home });
  const duckdb = new DuckdbStorageBackend({ homeDir: home });
  try {
    await buildHome(home, sqlite);

    heading("migrateAllDatasets(): every SQLite dataset to DuckDB, checksum verification");
    const migrator = new StorageMigrator({ source: sqlite, target: duckdb, home });
    const summary = await migrator.migrateAllDatasets(undefined, { verify: "checksum", batchSize: 5_000, onProgress: progressPrinter() });
    for (const f of summary.failures) console.log(`  FAILED ${f.dataset}: ${f.code} ${f.message}`);

    heading("Verify on our own: every table's checksum in SQLite and DuckDB, metadata, registry");
    const registry = new DatasetRegistry(new MdmHome(home));
    let allVerified = summary.failed === 0;
    for (const r of summary.results) {
      const before = await tableChecksums(sqlite, r.dataset);
      const after = await tableChecksums(duckdb, r.dataset);
      const same = before.size === after.size && [...before].every(([t, s]) => after.get(t) === s);
      const meta = await duckdb.getMetadata(r.dataset);
      const backend = registry.read(r.dataset).database.backend;
      const ok = same && meta.migrated_to === "duckdb:new" && backend === "duckdb";
      allVerified &&= ok;
      console.log(`  ${r.dataset.padEnd(8)} tables ${[...after.keys()].join(", ").padEnd(12)} checksums ${same ? "equal" : "DIFFER"}, metadata source=${String(meta.source)} migrated_from=${String(meta.migrated_from)}, registry backend=${backend}: ${ok ? "verified" : "NOT VERIFIED"}`);
    }

    heading("Summary");
    console.log(`dataset   tables  rows     ms      rows/s   migrator verification`);
    for (const r of summary.results) {
      console.log(
        `${r.dataset.padEnd(9)} ${String(r.tablesMigrated.length).padEnd(7)} ${String(r.rowsMigrated).padEnd(8)} ${r.durationMs.toFixed(0).padEnd(7)} ${fmt(r.rowsPerSecond).padEnd(8)} ` +
          `${r.verification ? `${r.verification.mode} ${r.verification.passed ? "passed" : "FAILED"} (${r.verification.checks.length} checks)` : r.error?.code}`,
      );
    }
    console.log(`Migrated ${summary.succeeded} of ${summary.total} datasets (${summary.failed} failed), ${summary.totalRows} rows in ${summary.durationMs.toFixed(0)} ms (${load()})`);
    console.log(`Independent verification: ${allVerified ? "all datasets verified" : "FAILED"}`);
    if (!allVerified) process.exitCode = 1;
  } finally {
    await sqlite.close();
    await duckdb.close();
  }
});
console.log("downstream-migration: done");

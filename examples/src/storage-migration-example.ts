/**
 * The tour of the storage migration system, in a temporary MDM home removed at the end:
 *
 * 1. the StorageComparisonTester on SQLite, legacy vs new: success rate and speed ratio;
 * 2. the `use_new_storage` feature flag switched off and on: which implementation
 *    `getStorageBackend("sqlite")` returns each time;
 * 3. the new SQLite backend checked by StorageValidator: passed and failed checks;
 * 4. a dataset of 1,000 rows (id, name, value, category) with metadata, migrated from SQLite to DuckDB
 *    with checksum verification: rows, tables, duration and every verification check;
 * 5. SQLite and DuckDB compared on loading and reading 10,000 rows.
 *
 * Run: pnpm --filter examples exec tsx src/storage-migration-example.ts
 */
import { DatasetRegistry, MdmHome, TableChecksum, type IStorageBackend } from "@mdm/storage-core";
import { StorageMigrator, StorageValidator } from "@mdm/migration";
import { StorageComparisonTester } from "@mdm/testing";
import { SAMPLE_COLUMNS, sampleRows } from "./support/data.js";
import { envWithoutFlags, fmt, heading, load, newManager, withTempHome } from "./support/run.js";

async function compareLegacyAndNew(): Promise<void> {
  heading("1. StorageComparisonTester: SQLite legacy (baseline) vs new (candidate)");
  // Small performance tables keep the tour quick; `pnpm --filter examples comparison-reports` runs the full size.
  const summary = await new StorageComparisonTester({ backendType: "sqlite", largeRows: 5_000, repeats: 1, warmup: 0, env: envWithoutFlags() }).runAllTests();
  for (const r of summary.results) {
    const speed = r.speedup === null ? "" : `, new ${r.speedup.toFixed(2)}x as fast`;
    console.log(`  ${r.skipped ? "skip" : r.passed ? "pass" : "FAIL"}  ${r.test}${speed}${r.reason && !r.passed ? ` (${r.reason})` : ""}`);
  }
  console.log(`Success rate: ${summary.successRate.toFixed(1)}% (${summary.passed} of ${summary.totalTests - summary.skipped} tests passed, ${summary.failed} failed)`);
  console.log(
    `Speed ratio (new time / legacy time): ${summary.performanceRatio.toFixed(2)} ` +
      `(legacy ${summary.baselineTime.toFixed(0)} ms, new ${summary.candidateTime.toFixed(0)} ms; ${load()})`,
  );
}

async function switchTheFlag(home: string): Promise<void> {
  heading("2. Feature flag use_new_storage: which SQLite implementation the manager returns");
  const manager = newManager(home);
  try {
    for (const on of [false, true]) {
      manager.flags.set("use_new_storage", on);
      const backend = await manager.getStorageBackend("sqlite");
      console.log(`use_new_storage=${on}: getStorageBackend("sqlite") -> ${backend.constructor.name} (${backend.implementation})`);
    }
    const changes = manager.flags.history("use_new_storage").map((c) => `${String(c.oldValue)} -> ${String(c.newValue)} (${c.source})`);
    console.log(`Recorded flag changes: ${changes.join(", ")}`);
  } finally {
    await manager.clearCache();
  }
}

async function validateNewSqlite(home: string): Promise<void> {
  heading("3. StorageValidator: the new SQLite backend");
  // The checks run on fresh temporary homes of their own, never on the datasets of `home`.
  const report = await new StorageValidator({ type: "sqlite", implementation: "new" }, { manager: newManager(home) }).validateAll();
  console.log(`Validated ${report.backend}: ${report.passed.length} passed, ${report.failed.length} failed, ${report.warnings.length} warnings (${fmt(report.durationMs)} ms)`);
  for (const f of report.failed) console.log(`  FAIL ${f.check}: ${f.error}`);
  for (const w of report.warnings) console.log(`  warning: ${w}`);
  const perf = report.passed.find((p) => p.startsWith("performance:"));
  if (perf) console.log(`  ${perf}`);
}

async function migrateSqliteToDuckdb(home: string): Promise<void> {
  heading("4. A dataset of 1,000 rows migrated from SQLite to DuckDB, verified by checksums");
  const manager = newManager(home);
  manager.flags.set("use_new_storage", true);
  try {
    const sqlite = await manager.getStorageBackend("sqlite");
    const duckdb = await manager.getStorageBackend("duckdb");
    const data = sampleRows(1_000);
    await sqlite.createDataset("products", { metadata: { source: "storage-migration-example", description: "1,000 generated products", rows: 1000 } });
    await sqlite.saveData("products", { columns: data.columns, rows: data.rows.slice(0, 800) }, "train");
    await sqlite.saveData("products", { columns: data.columns, rows: data.rows.slice(800) }, "test");
    await sqlite.updateMetadata("products", { target_column: "value" });
    // The registry entry Python MDM's registrar would write: the migration points it at DuckDB.
    const mdmHome = new MdmHome(home);
    const registry = new DatasetRegistry(mdmHome);
    registry.write({ name: "products", database: { backend: "sqlite", path: mdmHome.databaseFile("products", "sqlite") }, tables: { train: "train", test: "test" }, target_column: "value", id_columns: ["id"] });
    console.log(`Created "products" in SQLite: tables ${(await sqlite.listTables("products")).join(", ")}; registry says ${registry.read("products").database.backend}`);

    const migrator = new StorageMigrator({ source: sqlite, target: duckdb, home });
    const result = await migrator.migrateDataset("products", { verify: "checksum" });
    if (!result.success) throw new Error(`migration failed: ${result.error?.code} ${result.error?.message}`);
    console.log(
      `Migrated "products" ${result.source.type} (${result.source.implementation}) -> ${result.target.type} (${result.target.implementation}): ` +
        `${result.rowsMigrated} rows, ${result.tablesMigrated.length} tables (${result.tablesMigrated.join(", ")}), ${result.durationMs.toFixed(0)} ms`,
    );
    const verification = result.verification!;
    console.log(`Verification (${verification.mode}): ${verification.passed ? "passed" : "FAILED"}, ${verification.checks.length} checks`);
    for (const c of verification.checks) {
      const show = (v: unknown) => (typeof v === "string" || typeof v === "number" || typeof v === "bigint" ? String(v) : JSON.stringify(v));
      console.log(`  ${c.matches ? "ok  " : "DIFF"} ${c.table} ${c.check}: source ${show(c.source)} target ${show(c.target)}`);
    }
    const metadata = await duckdb.getMetadata("products");
    console.log(`Metadata in DuckDB: source=${String(metadata.source)}, target_column=${String(metadata.target_column)}, migrated_from=${String(metadata.migrated_from)}`);
    console.log(`Registry now says: ${registry.read("products").database.backend}`);
  } finally {
    await manager.clearCache();
  }
}

async function loadAndRead(backend: IStorageBackend, rows: number): Promise<{ load: number; read: number }> {
  const dataset = `speed_${backend.backendType}`;
  await backend.createDataset(dataset);
  const engine = await backend.getDatasetEngine(dataset);
  const data = sampleRows(rows);
  let t = performance.now();
  await backend.createTableFromDataFrame(data, "data", engine);
  const loadMs = performance.now() - t;
  // Read from storage, not from a cache of the write.
  await backend.releaseEngine(engine);
  t = performance.now();
  const checksum = new TableChecksum(SAMPLE_COLUMNS);
  for await (const batch of backend.readBatches("data", { engine: await backend.getDatasetEngine(dataset) })) checksum.addAll(batch.rows);
  const readMs = performance.now() - t;
  if (checksum.count !== rows) throw new Error(`${backend.backendType} read ${checksum.count} rows of ${rows}`);
  return { load: loadMs, read: readMs };
}

async function compareEngines(home: string): Promise<void> {
  heading("5. SQLite vs DuckDB (new implementations): load and read 10,000 rows");
  const manager = newManager(home);
  manager.flags.set("use_new_storage", true);
  const rows = 10_000;
  try {
    const times: Record<string, { load: number; read: number }> = {};
    for (const type of ["sqlite", "duckdb"] as const) {
      const t = await loadAndRead(await manager.getStorageBackend(type), rows);
      times[type] = t;
      console.log(
        `${type.padEnd(6)} load ${fmt(rows / (t.load / 1000)).padStart(9)} rows/s (${t.load.toFixed(1)} ms), read ${fmt(rows / (t.read / 1000)).padStart(9)} rows/s (${t.read.toFixed(1)} ms)`,
      );
    }
    console.log(
      `DuckDB / SQLite time: load ${(times.duckdb!.load / times.sqlite!.load).toFixed(2)}, read ${(times.duckdb!.read / times.sqlite!.read).toFixed(2)} ` +
        `(one run each, ${load()})`,
    );
  } finally {
    await manager.clearCache();
  }
}

await withTempHome("mdm-example-tour", async (home) => {
  await compareLegacyAndNew();
  await switchTheFlag(home);
  await validateNewSqlite(home);
  await migrateSqliteToDuckdb(home);
  await compareEngines(home);
});
console.log("storage-migration-example: done");

/**
 * The seed's own words, in TypeScript: each snippet of Python MDM's storage-migration usage as a TypeScript
 * user writes it, through the process-wide manager (as the Python module-level functions are), in a
 * temporary MDM home removed at the end.
 *
 *   feature_flags.set("use_new_storage", True)        featureFlags.set("use_new_storage", true)
 *   get_storage_backend("sqlite")                      await getStorageBackend("sqlite")
 *   StorageMigrator("sqlite", "duckdb")                new StorageMigrator({ source: "sqlite", target: "duckdb" })
 *   migrator.migrate_dataset("my_dataset", verify=True) await migrator.migrateDataset("my_dataset", { verify: true })
 *   StorageComparisonTester("sqlite").run_all_tests()  await new StorageComparisonTester({ backendType: "sqlite" }).runAllTests()
 *   clear_storage_cache()                              await clearStorageCache()
 *
 * Run: pnpm --filter examples exec tsx src/seed-usage.ts
 */
import { DatasetRegistry, MdmHome, clearStorageCache, featureFlags, getDefaultManager, getStorageBackend } from "@mdm/storage-core";
import { StorageMigrator } from "@mdm/migration";
import { StorageComparisonTester } from "@mdm/testing";
import { SAMPLE_COLUMNS, sampleRows } from "./support/data.js";
import { envWithoutFlags, heading, withTempHome } from "./support/run.js";

await withTempHome("mdm-seed-usage", async (home) => {
  // The process-wide manager reads its home and flags from the environment when first used.
  for (const key of Object.keys(process.env)) if (key.startsWith("MDM_FEATURE_")) delete process.env[key];
  process.env.MDM_HOME_DIR = home;
  try {
    heading('featureFlags.set("use_new_storage", true) and getStorageBackend("sqlite")');
    for (const on of [false, true]) {
      featureFlags.set("use_new_storage", on);
      const backend = await getStorageBackend("sqlite");
      console.log(`use_new_storage=${featureFlags.get("use_new_storage")}: getStorageBackend("sqlite") is ${backend.implementation} ${backend.constructor.name}`);
    }
    console.log(`getDefaultManager().flags is the same object: use_new_storage=${getDefaultManager().flags.get("use_new_storage")}`);

    heading('new StorageMigrator({ source: "sqlite", target: "duckdb" }).migrateDataset("my_dataset", { verify: true })');
    const sqlite = await getStorageBackend("sqlite");
    const data = sampleRows(1_000);
    await sqlite.createDataset("my_dataset", { metadata: { created_by: "seed-usage" } });
    await sqlite.saveData("my_dataset", { columns: SAMPLE_COLUMNS, rows: data.rows }, "data");
    const mdmHome = new MdmHome(home);
    new DatasetRegistry(mdmHome).write({ name: "my_dataset", database: { backend: "sqlite", path: mdmHome.databaseFile("my_dataset", "sqlite") } });
    const result = await new StorageMigrator({ source: "sqlite", target: "duckdb" }).migrateDataset("my_dataset", { verify: true });
    if (!result.success) throw new Error(`migration failed: ${result.error?.code} ${result.error?.message}`);
    console.log(`success=${result.success}, ${result.dataRows} rows in ${result.dataTables.join(", ")}, verification ${result.verification?.mode} ${result.verification?.passed ? "passed" : "FAILED"}`);
    console.log(`registry now says: ${new DatasetRegistry(mdmHome).read("my_dataset").database.backend}`);
    try {
      await new StorageMigrator({ source: "duckdb", target: "sqlite" }).migrateDataset("my_dataset", { verify: "yes" as never });
    } catch (error) {
      console.log(`verify: "yes" throws at once: ${(error as { code: string }).code}`);
    }

    heading('new StorageComparisonTester({ backendType: "sqlite" }).runAllTests()');
    const summary = await new StorageComparisonTester({ backendType: "sqlite", largeRows: 2_000, repeats: 1, warmup: 0, env: envWithoutFlags() }).runAllTests();
    console.log(`Success rate: ${summary.successRate.toFixed(1)}% (${summary.passed} passed, ${summary.failed} failed)`);
  } finally {
    await clearStorageCache();
    delete process.env.MDM_HOME_DIR;
  }
});

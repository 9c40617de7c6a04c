// A migration run in a child process, so a test can SIGKILL it, signal it or write to its source at chosen
// moments. Prints one JSON line per progress event and a final {"result": ...} line. After each progress
// line the migration stands still until the parent answers with a byte on stdin: the parent acts exactly
// at the event it chose, not at whatever point a busy machine had reached by the time it acted.
//
// argv: home dataset [options JSON: { source: "sqlite:new", target: "duckdb:new", pg: <PostgresqlConfig>,
//        removeSource, handleSignals, everyCopyRows }]
import { readSync, writeSync } from "node:fs";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { LegacySqliteStorageBackend } from "@mdm/storage-sqlite-legacy";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { LegacyDuckdbStorageBackend } from "@mdm/storage-duckdb-legacy";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";
import { LegacyPostgresqlStorageBackend } from "@mdm/storage-postgresql-legacy";
import { StorageMigrator } from "../../dist/index.js";

const [home, dataset, json] = process.argv.slice(2);
const options = { source: "sqlite:new", target: "duckdb:new", everyCopyRows: 20_000, ...(json ? JSON.parse(json) : {}) };

/** A backend as the CLI makes it: a DuckDB source is opened read-only (several readers, one migration among them). */
function make(spec, role) {
  const [type, implementation] = spec.split(":");
  const duckdb = { memoryLimit: "1GB", threads: 1, ...(role === "source" ? { accessMode: "READ_ONLY" } : {}) };
  if (type === "sqlite") return implementation === "new" ? new SqliteStorageBackend({ homeDir: home }) : new LegacySqliteStorageBackend({ homeDir: home });
  if (type === "duckdb") return implementation === "new" ? new DuckdbStorageBackend({ homeDir: home, duckdb }) : new LegacyDuckdbStorageBackend({ homeDir: home, duckdb });
  return implementation === "new" ? new PostgresqlStorageBackend({ config: options.pg }) : new LegacyPostgresqlStorageBackend({ config: options.pg });
}

const source = make(options.source, "source");
const target = make(options.target, "target");
const migrator = new StorageMigrator({ source, target, home });
let last = 0;

function waitForParent() {
  const byte = Buffer.alloc(1);
  for (;;) {
    try {
      if (readSync(0, byte, 0, 1, null) === 1) return;
      throw new Error("the parent closed stdin");
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
}
const result = await migrator.migrateDataset(dataset, {
  batchSize: 2000,
  removeSource: options.removeSource === true,
  handleSignals: options.handleSignals === true,
  onProgress: (e) => {
    // Every event of a new phase, and copy events every `everyCopyRows` rows.
    if (e.phase !== "copy" || e.rowsDone - last >= options.everyCopyRows || e.rowsDone === e.rowsTotal) {
      last = e.rowsDone;
      writeSync(1, `${JSON.stringify({ phase: e.phase, table: e.table, rowsDone: e.rowsDone })}\n`);
      waitForParent();
    }
  },
});
process.stdout.write(`${JSON.stringify({ result: { success: result.success, error: result.error, sourceRemoved: result.sourceRemoved, interrupted: result.interrupted ?? null, warnings: result.warnings } })}\n`);
await source.close();
await target.close();

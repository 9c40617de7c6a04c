// A migration run in a child process, so a test can SIGKILL it at chosen moments. Prints one JSON line
// per progress event and a final {"result": ...} line. After each progress line the migration stands
// still until the parent answers with a byte on stdin: the parent kills it exactly at the event it
// chose, not at whatever point a busy machine had reached by the time the kill arrived.
import { readSync, writeSync } from "node:fs";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { StorageMigrator } from "../../dist/index.js";

const [home, dataset] = process.argv.slice(2);
const source = new SqliteStorageBackend({ homeDir: home });
const target = new DuckdbStorageBackend({ homeDir: home, duckdb: { memoryLimit: "1GB", threads: 1 } });
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
  onProgress: (e) => {
    // Every event of a new phase, and copy events every 20,000 rows.
    if (e.phase !== "copy" || e.rowsDone - last >= 20_000 || e.rowsDone === e.rowsTotal) {
      last = e.rowsDone;
      writeSync(1, `${JSON.stringify({ phase: e.phase, table: e.table, rowsDone: e.rowsDone })}\n`);
      waitForParent();
    }
  },
});
process.stdout.write(`${JSON.stringify({ result: { success: result.success, error: result.error } })}\n`);
await source.close();
await target.close();

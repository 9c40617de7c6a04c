// Another process writing to a dataset: commits one more row into its `train` table (a copy of an existing
// row), as a user's script would, through the new backend of its type. Prints {"committed": true} or
// {"committed": false, "code", "message"}.
//
// argv: options JSON { type, home, dataset, pg: <PostgresqlConfig>, timeoutMs }: how long the writer waits
// for a lock (SQLite busy timeout, PostgreSQL lock_timeout; 0 there = wait as long as it takes).
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";

const { type, home, dataset, pg, timeoutMs = 200 } = JSON.parse(process.argv[2]);
const backend =
  type === "sqlite"
    ? new SqliteStorageBackend({ homeDir: home, sqlite: { busy_timeout: timeoutMs } })
    : type === "duckdb"
      ? new DuckdbStorageBackend({ homeDir: home })
      : new PostgresqlStorageBackend({ config: { ...pg, lock_timeout: timeoutMs } });
let outcome;
try {
  const engine = await backend.getDatasetEngine(dataset);
  await backend.executeQuery("INSERT INTO train SELECT * FROM train LIMIT 1", engine);
  outcome = { committed: true };
} catch (error) {
  outcome = { committed: false, code: error.code ?? "not an MdmError", message: String(error.message).slice(0, 300) };
}
await backend.close().catch(() => undefined);
process.stdout.write(`${JSON.stringify(outcome)}\n`);

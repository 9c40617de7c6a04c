// Type-checked (never run) against the published declarations of the "require" builds (.d.cts).
import { type IStorageBackend, type Value, MdmError, SqlTimestamp, StorageBackendManager, isMdmError } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { type MigrationResult, StorageMigrator } from "@mdm/migration";

export async function migrate(home: string): Promise<MigrationResult> {
  const source: IStorageBackend = new SqliteStorageBackend({ homeDir: home });
  const target: IStorageBackend = new DuckdbStorageBackend({ homeDir: home });
  const migrator = new StorageMigrator({ source, target, home });
  // @ts-expect-error verify is "checksum" | "count" | "none": the declarations are real types, not any
  await migrator.migrateDataset("x", { verify: "everything" });
  const result = await migrator.migrateDataset("x", { verify: "checksum", batchSize: 1000 });
  const passed: boolean | undefined = result.verification?.passed;
  const when: Value = SqlTimestamp.parse("2024-01-01 00:00:00.000001");
  void passed;
  void when;
  return result;
}

export async function missing(): Promise<string> {
  try {
    await new StorageBackendManager({ homeDir: "/tmp/x" }).getStorageBackend("postgresql");
    return "";
  } catch (error) {
    if (isMdmError(error, "MDM_BACKEND_NOT_INSTALLED")) return error.code;
    if (error instanceof MdmError) return error.message;
    throw error;
  }
}

import type { BackendFactory } from "@mdm/storage-core";
import { settingsFromConfig } from "@mdm/storage-duckdb";
import { LegacyDuckdbStorageBackend } from "./legacy-duckdb-backend.js";

export { INSERT_CHUNK_ROWS, LegacyDuckdbStorageBackend, type LegacyDuckdbEngine } from "./legacy-duckdb-backend.js";

/** What @mdm/storage-core's manager loads: the legacy DuckDB backend, built from mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "duckdb",
  implementation: "legacy",
  create: ({ homeDir, config }) =>
    new LegacyDuckdbStorageBackend({ homeDir, datasetsPath: config.paths.datasets_path, duckdb: settingsFromConfig(config.database.duckdb, config.database.connection_timeout) }),
};

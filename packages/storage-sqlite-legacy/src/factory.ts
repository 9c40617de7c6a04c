import type { BackendFactory } from "@mdm/storage-core";
import { LegacySqliteStorageBackend } from "./backend.js";

/** What core's backend manager loads: the legacy SQLite backend built from the MDM home and mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "sqlite",
  implementation: "legacy",
  create: ({ homeDir, config }) =>
    new LegacySqliteStorageBackend({ homeDir, datasetsPath: config.paths?.datasets_path, sqlite: config.database?.sqlite }),
};

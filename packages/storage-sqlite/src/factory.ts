import type { BackendFactory } from "@mdm/storage-core";
import { SqliteStorageBackend } from "./backend.js";

/** What core's backend manager loads: the new SQLite backend built from the MDM home and mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "sqlite",
  implementation: "new",
  create: ({ homeDir, config }) =>
    new SqliteStorageBackend({ homeDir, datasetsPath: config.paths?.datasets_path, sqlite: config.database?.sqlite }),
};

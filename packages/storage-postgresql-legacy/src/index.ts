import type { BackendFactory } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "./backend.js";

export { INSERT_CHUNK_ROWS, LegacyPostgresqlStorageBackend, MAX_BIND_PARAMETERS, type LegacyEngine, type LegacyPostgresqlOptions } from "./backend.js";

/** What @mdm/storage-core's manager loads: the legacy PostgreSQL backend built from mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "postgresql",
  implementation: "legacy",
  create: ({ config }) => new LegacyPostgresqlStorageBackend({ config: config.database.postgresql }),
};

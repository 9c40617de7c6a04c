import type { BackendFactory } from "@mdm/storage-core";
import { PostgresqlStorageBackend } from "./backend.js";

export { PostgresqlStorageBackend, type PostgresqlBackendOptions, type PostgresqlEngine } from "./backend.js";
export type { CopyFormat } from "./copy-writer.js";
export { OVERFLOW_IDLE_MILLIS, type PoolSettings } from "./pools.js";

/** What @mdm/storage-core's manager loads: the new PostgreSQL backend built from mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "postgresql",
  implementation: "new",
  create: ({ config }) => new PostgresqlStorageBackend({ config: config.database.postgresql }),
};

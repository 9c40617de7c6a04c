export { LegacySqliteStorageBackend, type LegacySqliteBackendOptions } from "./backend.js";
export { backendFactory } from "./factory.js";

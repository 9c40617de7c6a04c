export { SqliteStorageBackend, DEFAULT_ROWS_PER_STATEMENT, type SqliteBackendOptions } from "./backend.js";
export { backendFactory } from "./factory.js";

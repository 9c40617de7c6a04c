export { StorageMigrator, type StorageMigratorOptions } from "./migrator.js";
export { MigrationLock } from "./lock.js";
export { orderTables } from "./plan.js";
export { prefetch } from "./prefetch.js";
export type * from "./types.js";
export { PERFORMANCE_FLOOR_ROWS_PER_SECOND, StorageValidator, type ValidationReport, type ValidatorOptions } from "./validator.js";

export { StorageMigrator, type StorageMigratorOptions } from "./migrator.js";
/** @deprecated The lock is per dataset now and lives in core: use `DatasetLock` from `@mdm/storage-core`. */
export { DatasetLock as MigrationLock } from "@mdm/storage-core";
export { orderTables } from "./plan.js";
export { pendingMigrationResult } from "./result.js";
export { prefetch } from "./prefetch.js";
export type * from "./types.js";
export { PERFORMANCE_FLOOR_ROWS_PER_SECOND, StorageValidator, type ValidationReport, type ValidatorOptions } from "./validator.js";

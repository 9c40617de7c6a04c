export * from "./errors.js";
export * from "./names.js";
export * from "./types.js";
export * from "./values.js";
export * from "./checksum.js";
export * from "./coercion.js";
export * from "./conversion.js";
export * from "./date-format.js";
export * from "./dataframe.js";
export * from "./metrics.js";
export * from "./interface.js";
export { AsyncMutex, BaseStorageBackend, DEFAULT_BATCH_SIZE, checksumBatches, METADATA_COLUMNS, decodeMetadataValue, encodeMetadataValue, selectSql, type BaseBackendOptions, type SelectPlan } from "./base.js";
export * from "./file-backend.js";
export * from "./sqlite-types.js";
export * from "./config.js";
export * from "./config-schema.js";
export * from "./layout.js";
export * from "./leftovers.js";
export * from "./dataset-lock.js";
export { writeFileDurably, writeThenRename } from "./durable-file.js";
export { csvField, csvFieldWriter, csvText, float64Text, writeCsvFile } from "./csv-writer.js";
export { sqliteCsvWriters } from "./sqlite-csv.js";
export type { DatabaseHold, DatasetHold } from "./hold.js";
export * from "./flags.js";
export * from "./manager.js";
export * from "./postgres.js";
export * from "./postgres-hold.js";
export * from "./sqlite-hold.js";
export * as conformance from "./conformance/index.js";
export type {
  CheckResult,
  ConformanceCheck,
  ConformanceOptions,
  ConformanceReport,
  ConformanceSkip,
  ConformanceTarget,
  CreateConformanceBackend,
  FidelityExpectation,
  FidelityFixture,
  FidelityOutcome,
  FidelityReport,
  FidelityValue,
  FidelityValueResult,
  ValueCapability,
} from "./conformance/index.js";

import { type BackendFactory } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "./duckdb-backend.js";
import { settingsFromConfig } from "./settings.js";

export { DuckdbStorageBackend, DEFAULT_DUCKDB_SETTINGS, type DuckdbStorageEngine, type PooledSession } from "./duckdb-backend.js";
export { DuckdbFileBackend, type DuckdbBackendOptions, type DuckdbEngine, type DuckdbSession, type DuckdbStatementRunner } from "./duckdb-file-backend.js";
export { DEFAULT_STAGING_MEMORY_LIMIT, instanceOptions, settingsFromConfig, stagingInstanceOptions, type DuckdbSettings } from "./settings.js";
export { acquireInstance, openInstanceCount, type InstanceLease } from "./instance-cache.js";
export { DUCKDB_MAX_DECIMAL_PRECISION, duckdbTypeOf, duckdbTypeSql, isTextDecimal, logicalOfDuckdbType, textDecimalComment, textDecimalOf } from "./type-mapping.js";
export { keepByteOrderMarks } from "./text-decoding.js";
export { decimalText, parameterOf, readerFor, scaledDecimal, writerFor, type ValueReader, type ValueWriter } from "./value-conversion.js";
export { chunkRows, resultBatches, resultShape } from "./chunks.js";
export { mapDuckdbError } from "./errors.js";

/** What @mdm/storage-core's manager loads: the new DuckDB backend, built from mdm.yaml. */
export const backendFactory: BackendFactory = {
  backendType: "duckdb",
  implementation: "new",
  create: ({ homeDir, config }) =>
    new DuckdbStorageBackend({ homeDir, datasetsPath: config.paths.datasets_path, duckdb: settingsFromConfig(config.database.duckdb, config.database.connection_timeout) }),
};

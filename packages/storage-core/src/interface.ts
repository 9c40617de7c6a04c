import type { TableChecksum } from "./checksum.js";
import type { DatasetHold } from "./hold.js";
import type { MetricSummary } from "./metrics.js";
import type {
  BackendCapabilities,
  BackendType,
  ChecksumOptions,
  ColumnAnalysis,
  ColumnDef,
  CreateDatasetOptions,
  DataFrame,
  DataFrameInput,
  FileFormat,
  IfExists,
  Implementation,
  ListTablesOptions,
  Metadata,
  ReadOptions,
  RowBatch,
  SpecialValue,
  StorageEngine,
  StreamReadOptions,
  StreamWriteOptions,
  TableInfo,
  Value,
  WriteOptions,
} from "./types.js";

/** Rows to stream into a table: arrays in column order, or RowBatches, sync or async. */
export type BatchSource =
  | AsyncIterable<Value[][] | RowBatch>
  | Iterable<Value[][] | RowBatch>;

/**
 * The storage-backend interface. Every member of Python MDM's `IStorageBackend` (23) is here under
 * a TypeScript name (see the mapping table in the README), plus what its own tools needed: table and
 * dataset listing, streaming reads and writes, logical column types, metrics, staging and publish.
 *
 * Engine-level methods take a `StorageEngine` (from `getEngine(databasePath)`); where it is optional,
 * the default engine is the one most recently returned by `getEngine()`.
 */
export interface IStorageBackend {
  // --- identity -----------------------------------------------------------------------------
  /** `backend_type` */
  readonly backendType: BackendType;
  readonly implementation: Implementation;
  readonly capabilities: BackendCapabilities;
  /** True once `close()` was called. */
  readonly closed: boolean;

  // --- lifecycle ----------------------------------------------------------------------------
  /** Load the driver and check the backend can work (server reachable, home writable). Idempotent. */
  init(): Promise<void>;
  /** `close`: close every connection; the instance cannot be used again. Idempotent. */
  close(): Promise<void>;
  /** `close_connections`: close every connection; the next call opens them again. Idempotent. */
  closeConnections(): Promise<void>;

  // --- databases and engines (original engine-level API) -------------------------------------
  /** `get_engine`: the engine of a database (file path, PostgreSQL database or schema name). */
  getEngine(databasePath: string): Promise<StorageEngine>;
  /**
   * Close the connections of one database: written data reaches its final on-disk form (a checkpoint in
   * SQLite and DuckDB), and the next read comes from storage. The next use of the engine opens it again.
   */
  releaseEngine(engine: StorageEngine): Promise<void>;
  /** `get_connection`: the raw driver object behind an engine (better-sqlite3 Database, DuckDBConnection, pg Pool). */
  getConnection(engine?: StorageEngine): Promise<unknown>;
  /** `database_exists` */
  databaseExists(databasePath: string): Promise<boolean>;
  /** `create_database` (no error when it exists, as in the original). */
  createDatabase(databasePath: string): Promise<void>;
  /** `drop_database` (outside the original Protocol). */
  dropDatabase(databasePath: string): Promise<void>;
  /** `get_database_path`: where a dataset lives for this backend (its placed location, else the one its name gives). */
  getDatabasePath(datasetName: string): string;
  /**
   * Where this dataset lives when that is not where its name puts it: a registry entry written by Python
   * MDM names PostgreSQL database `mdm_<name>` whatever `database_prefix` says. Every later call for the
   * dataset (exists, engine, hold, drop) uses it; `null` forgets it. The location is checked as a database
   * path is (an identifier, an absolute file path): MDM_INVALID_NAME / MDM_INVALID_ARGUMENT.
   */
  placeDataset(datasetName: string, location: string | null): void;

  // --- tables --------------------------------------------------------------------------------
  /** `create_table_from_dataframe` */
  createTableFromDataFrame(df: DataFrameInput, tableName: string, engine: StorageEngine, ifExists?: IfExists): Promise<void>;
  /** `read_table_to_dataframe` */
  readTableToDataFrame(tableName: string, engine: StorageEngine, limit?: number): Promise<DataFrame>;
  /** `read_table` */
  readTable(tableName: string, options?: ReadOptions): Promise<DataFrame>;
  /** `write_table` (default ifExists "replace", as in the original) */
  writeTable(tableName: string, df: DataFrameInput, options?: WriteOptions): Promise<void>;
  /** `query`: SQL that returns rows. Parameters are bound, never spliced. */
  query(sql: string, params?: Value[], engine?: StorageEngine): Promise<DataFrame>;
  /** `execute_query`: SQL that changes something; committed. */
  executeQuery(sql: string, engine?: StorageEngine, params?: Value[]): Promise<{ rowsAffected: number }>;
  /** `get_table_info` */
  getTableInfo(tableName: string, engine?: StorageEngine): Promise<TableInfo>;
  /** `get_columns` */
  getColumns(tableName: string, engine?: StorageEngine): Promise<string[]>;
  /** `analyze_column` (table first, column second). */
  analyzeColumn(tableName: string, columnName: string, engine?: StorageEngine): Promise<ColumnAnalysis>;
  /** `get_table_names` (outside the original Protocol; the migrator needed it). Sorted. */
  getTableNames(engine?: StorageEngine, options?: ListTablesOptions): Promise<string[]>;
  /** `table_exists` (outside the original Protocol). */
  tableExists(tableName: string, engine?: StorageEngine): Promise<boolean>;
  dropTable(tableName: string, engine?: StorageEngine): Promise<void>;

  // --- streaming -----------------------------------------------------------------------------
  /** Rows of a table in batches, with memory bounded by the batch size. One consistent read. */
  readBatches(tableName: string, options?: StreamReadOptions & { engine?: StorageEngine }): AsyncIterable<RowBatch>;
  /**
   * The order-independent checksum (`TableChecksum`) of a whole table, or of some of its columns, as
   * `TableChecksum.add` of every row `readBatches` returns would give it. One consistent read, nothing
   * kept in caches; a backend may hash its engine's rows without building the values (PostgreSQL does).
   */
  tableChecksum(tableName: string, options?: ChecksumOptions & { engine?: StorageEngine }): Promise<TableChecksum>;
  /**
   * Write batches into a table with the backend's fastest bulk path, all in one transaction: on any
   * error nothing of this call stays. Returns the number of rows written.
   */
  writeBatches(
    tableName: string,
    columns: ColumnDef[],
    source: BatchSource,
    options?: StreamWriteOptions & { engine?: StorageEngine },
  ): Promise<number>;

  // --- datasets (the original's "new architecture" methods) ------------------------------------
  /** `create_dataset` */
  createDataset(datasetName: string, options?: CreateDatasetOptions): Promise<void>;
  /** `dataset_exists` */
  datasetExists(datasetName: string): Promise<boolean>;
  /** `drop_dataset` */
  dropDataset(datasetName: string): Promise<void>;
  /**
   * Keep every other writer out of a dataset until the hold is released (a migration holds its source
   * from preflight to publish, so no row written meanwhile can be lost). Readers go on. SQLite: a write
   * transaction on a connection of its own (other writers wait their busy timeout, then fail); DuckDB: the
   * file kept open (another process cannot open it for writing); PostgreSQL: SHARE locks on every table
   * (writers wait). MDM_LOCKED when a writer is active and does not finish within the backend's timeout.
   */
  holdDataset(datasetName: string): Promise<DatasetHold>;
  /** Every dataset this backend holds (the original had no way to list them). Sorted. */
  listDatasets(): Promise<string[]>;
  /** Tables of a dataset. Sorted. */
  listTables(datasetName: string, options?: ListTablesOptions): Promise<string[]>;
  /** The engine of an existing dataset (MDM_DATASET_NOT_FOUND otherwise). */
  getDatasetEngine(datasetName: string): Promise<StorageEngine>;
  /** `load_data` */
  loadData(datasetName: string, tableName?: string): Promise<DataFrame>;
  /** `save_data` */
  saveData(datasetName: string, data: DataFrameInput, tableName?: string, ifExists?: IfExists): Promise<void>;
  /** `get_metadata` */
  getMetadata(datasetName: string): Promise<Metadata>;
  /** `update_metadata`: merges the given keys into the stored metadata. */
  updateMetadata(datasetName: string, metadata: Metadata): Promise<void>;

  // --- staging and publish (used by @mdm/migration) -------------------------------------------
  /** A database path beside the dataset's own where a run can write before publishing. */
  getStagingPath(datasetName: string, runId: string): string;
  /** Staging databases left for this dataset (by runs that were killed). */
  listStagingPaths(datasetName: string): Promise<string[]>;
  /**
   * Make a staging database the dataset, atomically: a reader sees the old dataset or the new one,
   * never a part. With `replace: false` an existing dataset is an error (MDM_DATASET_EXISTS).
   */
  publishStaging(stagingPath: string, datasetName: string, options?: { replace?: boolean }): Promise<void>;

  // --- values --------------------------------------------------------------------------------
  /** Throws MDM_UNSUPPORTED_VALUE when this backend cannot hold the value exactly in that column. */
  checkValue(column: ColumnDef, value: Value): void;
  /**
   * Whether any value of these columns is a special value of `kind` (NaN, an infinity or -0.0 in float64
   * columns; a NUL character in text), asked of the engine in one query instead of streaming the rows.
   * `false` without a query when the backend cannot hold such a value at all; `undefined` when it cannot
   * ask that way (read the rows). A migration's preflight asks it before scanning for values the target
   * cannot hold.
   */
  columnsContain(tableName: string, columns: string[], kind: SpecialValue, engine?: StorageEngine): Promise<boolean | undefined>;

  // --- maintenance and files -----------------------------------------------------------------
  /** VACUUM/ANALYZE/CHECKPOINT as the engine offers. */
  optimize(engine?: StorageEngine): Promise<void>;
  /** Bytes used by the database. */
  getDatabaseSize(engine?: StorageEngine): Promise<number>;
  /** Native import of a file into a table (MDM_UNSUPPORTED_OPERATION where the engine has none). */
  importFile(tableName: string, filePath: string, format: FileFormat, options?: WriteOptions): Promise<number>;
  /**
   * Export a table into a file; the rows written. CSV works on every backend (the engine's own writer
   * where it has one, else the base class's streaming writer; see `csvText` for the text of each type);
   * Parquet and JSON where `capabilities.fileImportExport` lists them (MDM_UNSUPPORTED_OPERATION
   * elsewhere). The file appears only when complete: it is written beside `filePath` and renamed.
   */
  exportFile(tableName: string, filePath: string, format: FileFormat, options?: { engine?: StorageEngine }): Promise<number>;

  // --- metrics -------------------------------------------------------------------------------
  getMetrics(): MetricSummary[];
  resetMetrics(): void;
}

const BACKEND_BRAND = Symbol.for("@mdm/storage-core:StorageBackend");
export { BACKEND_BRAND };

/** True for a backend built on this package's base class (from any copy of it). */
export function isStorageBackend(value: unknown): value is IStorageBackend {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BACKEND_BRAND] === true;
}

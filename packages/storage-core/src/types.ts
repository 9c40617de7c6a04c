import type { SqlDate, SqlTimestamp } from "./values.js";

export const BACKEND_TYPES = ["sqlite", "duckdb", "postgresql"] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];
export type Implementation = "legacy" | "new";

/**
 * Logical column types: the one vocabulary every backend maps its native types to and from.
 * See the value model in the core README.
 */
export const LOGICAL_TYPES = [
  "boolean",
  "int64",
  "float64",
  "decimal",
  "text",
  "blob",
  "date",
  "timestamp",
  "timestamptz",
  "json",
] as const;
export type LogicalType = (typeof LOGICAL_TYPES)[number];

export interface ColumnDef {
  name: string;
  type: LogicalType;
  /** Defaults to true. */
  nullable?: boolean;
  /** decimal only: total digits (1..38 for DuckDB). Absent = unconstrained. */
  precision?: number;
  /** decimal only: digits after the point. */
  scale?: number;
}

/**
 * One value in the value model. Which JS type a column holds is fixed by its logical type:
 *
 * | logical type | JS value |
 * |---|---|
 * | boolean | boolean |
 * | int64 | bigint |
 * | float64 | number (NaN, ±Infinity, -0 kept) |
 * | decimal | string, exact (`"-12.340"`) |
 * | text | string |
 * | blob | Uint8Array |
 * | date | SqlDate |
 * | timestamp, timestamptz | SqlTimestamp (µs since the epoch; UTC for timestamptz) |
 * | json | string (the JSON text) |
 *
 * NULL is `null` in every type.
 */
export type Value = null | boolean | bigint | number | string | Uint8Array | SqlDate | SqlTimestamp;

export type Row = Record<string, Value>;

/** The tabular shape of the public API: a column schema and rows as objects. */
export interface DataFrame {
  columns: ColumnDef[];
  rows: Row[];
}

/** What write methods accept: a DataFrame, or rows whose column types are inferred. */
export type DataFrameInput = DataFrame | { columns?: ColumnDef[]; rows: Row[] } | Row[];

/** The streaming shape: rows as arrays in the order of `columns`. */
export interface RowBatch {
  columns: ColumnDef[];
  rows: Value[][];
}

export type IfExists = "fail" | "replace" | "append";

export interface TableInfo {
  name: string;
  columns: ColumnDef[];
  rowCount: number;
  columnCount: number;
}

export interface ColumnAnalysis {
  table: string;
  column: string;
  type: LogicalType;
  count: number;
  nullCount: number;
  nullPercentage: number;
  uniqueCount: number;
  min: Value;
  max: Value;
  /** Numeric columns only. */
  mean: number | null;
  /** Sample standard deviation, numeric columns only. */
  std: number | null;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = Record<string, JsonValue>;

export interface QueryResult {
  columns: ColumnDef[];
  rows: Value[][];
}

/**
 * A kind of value not every backend holds: the boolean flags of `BackendCapabilities.values`. NaN,
 * an infinity and -0.0 live in float64 columns, a NUL character in text, a `\u0000` escape in JSON.
 */
export type SpecialValue = "nan" | "infinity" | "negativeZero" | "nulInText" | "nulInJson";

/** The column type each special value lives in. */
export const SPECIAL_VALUE_TYPES: Readonly<Record<SpecialValue, LogicalType>> = {
  nan: "float64",
  infinity: "float64",
  negativeZero: "float64",
  nulInText: "text",
  nulInJson: "json",
};

/** Capabilities a backend declares; the conformance suite checks behaviour against them. */
export interface BackendCapabilities {
  /** Values this backend holds exactly. A value it cannot hold is refused with MDM_UNSUPPORTED_VALUE. */
  values: {
    nan: boolean;
    infinity: boolean;
    negativeZero: boolean;
    nulInText: boolean;
    nulInJson: boolean;
    /** Largest decimal precision held exactly; `Infinity` when unconstrained. */
    maxDecimalPrecision: number;
  };
  /** `query()`, `executeQuery()` and raw-SQL `where` filters work (false only for non-SQL backends). */
  sql: boolean;
  /** Several reads at once from one instance. */
  concurrentReads: boolean;
  /** Writes are serialised by the base class (single-writer engines). */
  serializedWrites: boolean;
  /** Native import and export of a table for these formats (exportFile writes CSV on every backend). */
  fileImportExport: Array<"parquet" | "json" | "csv">;
  /** Metrics are recorded on every operation. */
  metrics: boolean;
}

/** An opaque handle on one database (a SQLite or DuckDB file, a PostgreSQL database or schema). */
export interface StorageEngine {
  readonly backendType: BackendType;
  readonly database: string;
  readonly id: number;
}

export interface ReadOptions {
  columns?: string[];
  /**
   * A filter. An object is equality on each key (values bound as parameters). A string is raw
   * SQL, trusted like `query()`: never build it from user input.
   */
  where?: string | Record<string, Value>;
  limit?: number;
  /** Column names to order by (ascending). */
  orderBy?: string[];
  engine?: StorageEngine;
}

export interface StreamReadOptions {
  columns?: string[];
  orderBy?: string[];
  /** Rows per batch; default 2,048 (`DEFAULT_BATCH_SIZE`). */
  batchSize?: number;
  signal?: AbortSignal;
  /**
   * `false`: the caller reads these rows once (a copy, an export, a checksum), so the backend need not
   * keep them in caches that only help later reads. The rows are the same either way. SQLite reads them
   * without its memory map and with a 2 MB page cache (mapped pages stay resident in the process, up to
   * `mmap_size`, 256 MB by default); the other backends ignore it. Default `true`.
   */
  keepInCache?: boolean;
}

export interface ChecksumOptions {
  /** Columns to hash, in this order; default all. */
  columns?: string[];
  /** Rows per batch where the backend reads in batches; default 2,048 (`DEFAULT_BATCH_SIZE`). */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  ifExists?: IfExists;
  engine?: StorageEngine;
}

export interface StreamWriteOptions {
  /** Default "fail". */
  ifExists?: IfExists;
  signal?: AbortSignal;
  /** Called after each batch is written. */
  onBatch?: (rowsWritten: number) => void;
  /**
   * Commit after every batch that brings the rows since the last commit to at least this many, then
   * go on in a new transaction. For data no reader sees yet (a migration's staging database): it keeps
   * the engine's memory bounded (DuckDB holds a transaction's appended rows until it commits), but a
   * failure leaves the rows committed so far, so the caller must drop what it was writing. Default:
   * the whole write is one transaction.
   */
  commitEveryRows?: number;
  /**
   * The source's row arrays are handed over: each is normalised in place rather than copied, so a
   * source that makes fresh arrays for every batch (a reader of another engine) does not make the
   * garbage collector sweep every row twice. The caller must not use a row again once it is yielded.
   * Default false: the caller's arrays are left as they were.
   */
  handOverRows?: boolean;
}

export interface CreateDatasetOptions {
  metadata?: Metadata;
  /** Default false: an existing dataset is an error (MDM_DATASET_EXISTS). */
  ifNotExists?: boolean;
}

export interface ListTablesOptions {
  /** Include MDM's own tables (`_metadata`, `_columns`, `_statistics`). Default false. */
  includeSystem?: boolean;
}

export const FILE_FORMATS = ["parquet", "json", "csv"] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

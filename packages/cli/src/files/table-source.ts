import type { ColumnDef, Value } from "@mdm/storage-core";
import type { InferredColumn } from "./inference-sql.js";

/**
 * One table to load from a data file, read by the scan engine: its columns (types as inference decided),
 * its row count, and its rows on demand, either as batches in the value model (for any backend's bulk
 * writer) or as a table with those exact types created by the scan engine in a DuckDB database file (for a
 * DuckDB target: one pass of DuckDB's reader, in C++).
 */
export interface TableSource {
  file: string;
  columns: ColumnDef[];
  rowCount: number;
  /** The inference of each column (non-NULL and distinct counts). */
  inferred: InferredColumn[];
  /** What `inferred`'s distinct counts count: the file's texts (CSV/TSV) or typed values (Parquet/JSON). */
  distinctOf: "texts" | "values";
  batches(batchSize: number, signal?: AbortSignal): AsyncGenerator<Value[][]>;
  /**
   * Create `table` in the DuckDB database file `databasePath` (which nothing else has open) from the typed
   * rows, run `check` over it (SQL naming the new table) before the file is let go, and give its row count;
   * absent when the file's types do not all map exactly.
   */
  createTableIn?(databasePath: string, table: string, check: (from: string) => Promise<void>): Promise<number>;
}

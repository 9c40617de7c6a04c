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
  /**
   * The rows in the value model, one batch per DuckDB chunk (2,048 rows), each batch made fresh (a writer
   * may take them over: `handOverRows`). Batches that small die young in V8; with 10,000-row batches a
   * 500,000-row registration into SQLite spent a fifth of its time in the garbage collector (1.3 s of 6.1 s).
   */
  batches(signal?: AbortSignal): AsyncGenerator<Value[][]>;
  /** The SQL (on the scan engine) whose result is the typed rows, in file order. */
  query: string;
  /** The same source with its rows given by `query` instead (the typed query wrapped: coerced values). */
  withQuery(query: string): TableSource;
  /**
   * The 1-based line of the file (as an editor numbers them) where the 1-based data record `record` starts,
   * where the format has lines that say so (CSV/TSV, JSON lines); undefined elsewhere.
   */
  lineOf?(record: number): Promise<number | undefined>;
  /**
   * Create `table` in the DuckDB database file `databasePath` (which nothing else has open) from the typed
   * rows, run `check` over it (SQL naming the new table) before the file is let go, and give its row count;
   * absent when the file's types do not all map exactly.
   */
  createTableIn?(databasePath: string, table: string, check: (from: string) => Promise<void>): Promise<number>;
}

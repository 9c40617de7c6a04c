import type { ColumnDef, Value } from "@mdm/storage-core";
import type { InferredColumn } from "./inference-sql.js";

/**
 * One table to load from a data file, read by the scan engine: its columns (types as inference decided),
 * its row count, and its rows on demand, either as batches in the value model (for any backend's bulk
 * writer) or as a Parquet file with those exact types (for a DuckDB target, which loads it in C++).
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
  /** Write the typed rows to a Parquet file; absent when the file's types do not all map exactly. */
  toParquet?(path: string): Promise<void>;
}

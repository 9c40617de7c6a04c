import type { ColumnDef, Value } from "@mdm/storage-core";
import { csvSource } from "./csv-source.js";
import type { DataFile } from "./discover.js";
import type { ColumnInference } from "./infer.js";

/** One table to load: its columns, its row count, and its rows in batches (read from the file on demand). */
export interface TableSource {
  columns: ColumnDef[];
  rowCount: number;
  /** Per-column inference of text files (absent for typed formats). */
  inference?: ColumnInference[];
  /** Distinct values of the target column, when tracked and few. */
  batches(batchSize: number, signal?: AbortSignal): AsyncGenerator<Value[][]>;
  close?(): Promise<void>;
}

export function openSource(file: DataFile, options: { trackDistinct?: string; signal?: AbortSignal } = {}): Promise<TableSource> {
  if (file.format === "csv" || file.format === "tsv") return csvSource(file, options);
  // DuckDB (a native library) is loaded only for Parquet and JSON.
  return import("./duckdb-source.js").then((m) => m.duckdbSource(file, options));
}

import { csvSource } from "./csv-source.js";
import type { DataFile } from "./discover.js";
import { duckdbSource } from "./duckdb-source.js";
import type { ScanEngine } from "./scan-engine.js";
import type { TableSource } from "./table-source.js";

export type { TableSource } from "./table-source.js";

export interface SourceOptions {
  /** The column whose distinct values are counted (the target column, for its problem type). */
  trackDistinct?: string;
  /**
   * Columns given as the file's text (CSV fields, JSON strings' content and other values' JSON text), whatever
   * their inferred type (kept in `inferred`): the columns whose type the user chose (`chosen-types.ts`).
   * Parquet columns keep their own types.
   */
  asText?: ReadonlySet<string>;
}

/** A data file as a table source: CSV/TSV by our inference rules, Parquet and JSON by their own types. */
export function openSource(engine: ScanEngine, file: DataFile, options: SourceOptions = {}): Promise<TableSource> {
  if (file.format === "csv" || file.format === "tsv") return csvSource(engine, file, options);
  return duckdbSource(engine, file, options);
}

import { quoteLiteral, type ColumnDef } from "@mdm/storage-core";
import type { InferredColumn } from "./inference-sql.js";
import type { ScanEngine } from "./scan-engine.js";
import type { TableSource } from "./table-source.js";

/**
 * A table source whose typed rows are `query` on the scan engine: batches stream one DuckDB chunk at a
 * time; with `exact` (every column already has its logical type's DuckDB type) they can also be written
 * to a Parquet file by DuckDB itself.
 */
export function typedSource(
  engine: ScanEngine,
  spec: { file: string; columns: ColumnDef[]; rowCount: number; inferred: InferredColumn[]; distinctOf: "texts" | "values"; query: string; exact: boolean },
): TableSource {
  const source: TableSource = {
    file: spec.file,
    columns: spec.columns,
    rowCount: spec.rowCount,
    inferred: spec.inferred,
    distinctOf: spec.distinctOf,
    async *batches(batchSize: number, signal?: AbortSignal) {
      // Imported here: the DuckDB backend package is loaded only when a file is read.
      const { resultBatches } = await import("@mdm/storage-duckdb");
      engine.label = spec.file;
      const result = await engine.stream(spec.query);
      try {
        yield* resultBatches(result, batchSize, signal);
      } catch (error) {
        throw engine.failure(error);
      }
    },
  };
  if (spec.exact) {
    source.toParquet = (path: string) => {
      engine.label = spec.file;
      return engine.run(`COPY (${spec.query}) TO ${quoteLiteral(path)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 122880)`);
    };
  }
  return source;
}

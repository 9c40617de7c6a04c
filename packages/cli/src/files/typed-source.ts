import { quoteIdentifier, quoteLiteral, type ColumnDef } from "@mdm/storage-core";
import type { InferredColumn } from "./inference-sql.js";
import type { ScanEngine } from "./scan-engine.js";
import type { TableSource } from "./table-source.js";

/** Rows in a DuckDB chunk (its vector size): the rows of one batch. */
const CHUNK_ROWS = 2048;

/** The name a target database file is attached under in the scan engine. */
const ATTACHED = "mdm_target";

/**
 * A table source whose typed rows are `query` on the scan engine: batches stream one DuckDB chunk at a
 * time; with `exact` (every column already has its logical type's DuckDB type) DuckDB can also write them
 * into a table of a DuckDB database file itself.
 */
export function typedSource(
  engine: ScanEngine,
  spec: {
    file: string;
    columns: ColumnDef[];
    rowCount: number;
    inferred: InferredColumn[];
    distinctOf: "texts" | "values";
    query: string;
    exact: boolean;
    lineOf?: TableSource["lineOf"];
  },
): TableSource {
  const source: TableSource = {
    file: spec.file,
    query: spec.query,
    withQuery: (query) => typedSource(engine, { ...spec, query }),
    columns: spec.columns,
    rowCount: spec.rowCount,
    inferred: spec.inferred,
    distinctOf: spec.distinctOf,
    async *batches(signal?: AbortSignal) {
      // Imported here: the DuckDB backend package is loaded only when a file is read.
      const { resultBatches } = await import("@mdm/storage-duckdb");
      engine.label = spec.file;
      const result = await engine.stream(spec.query);
      try {
        yield* resultBatches(result, CHUNK_ROWS, signal);
      } catch (error) {
        throw engine.failure(error);
      }
    },
  };
  if (spec.lineOf) source.lineOf = spec.lineOf;
  if (spec.exact) {
    source.createTableIn = async (databasePath, table, check) => {
      engine.label = spec.file;
      const target = `${ATTACHED}.${quoteIdentifier(table)}`;
      await engine.run(`ATTACH ${quoteLiteral(databasePath)} AS ${ATTACHED}`);
      try {
        await engine.run(`CREATE TABLE ${target} AS ${spec.query}`);
        await check(target);
        const [row] = await engine.rows(`SELECT count(*) FROM ${target}`);
        // Into the file itself, not a WAL left for the backend (whose instance publishes the file next).
        await engine.run(`CHECKPOINT ${ATTACHED}`);
        return Number(row?.[0]);
      } finally {
        await engine.run(`DETACH ${ATTACHED}`, { afterAbort: true });
      }
    };
  }
  return source;
}

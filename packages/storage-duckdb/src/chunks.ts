import type { DuckDBDataChunk, DuckDBResult, DuckDBType } from "@duckdb/node-api";
import { logicalOfDuckdbType } from "./type-mapping.js";
import { columnReaderFor, type ColumnReader } from "./column-readers.js";
import { ErrorCodes, MdmError, type ColumnDef, type Value } from "@mdm/storage-core";

/** The logical columns and column readers of a result. */
export function resultShape(result: DuckDBResult): { columns: ColumnDef[]; readers: ColumnReader[] } {
  const names = result.deduplicatedColumnNames();
  const types: DuckDBType[] = result.columnTypes();
  return { columns: types.map((t, i) => logicalOfDuckdbType(names[i] as string, t)), readers: types.map(columnReaderFor) };
}

/** Rows of one data chunk in the value model, read column by column. */
export function chunkRows(chunk: DuckDBDataChunk, readers: ColumnReader[]): Value[][] {
  const count = chunk.rowCount;
  const rows: Value[][] = new Array(count);
  for (let r = 0; r < count; r++) rows[r] = new Array(readers.length);
  for (let c = 0; c < readers.length; c++) {
    const values = (readers[c] as ColumnReader)(chunk, c);
    for (let r = 0; r < count; r++) (rows[r] as Value[])[c] = values[r] as Value;
  }
  return rows;
}

/**
 * The rows of a result regrouped into batches of `batchSize`, fetched one chunk (up to 2048 rows) at a
 * time: a streaming result is never materialised, a materialised one is handed out in batches. The next
 * chunk is fetched (on a libuv thread, by DuckDB) while the current one is converted and consumed.
 */
export async function* resultBatches(result: DuckDBResult, batchSize: number, signal?: AbortSignal): AsyncGenerator<Value[][]> {
  const { readers } = resultShape(result);
  let batch: Value[][] = [];
  let next: Promise<DuckDBDataChunk | null> | undefined = result.fetchChunk();
  try {
    for (;;) {
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
      const chunk: DuckDBDataChunk | null = await next;
      next = undefined;
      if (!chunk || chunk.rowCount === 0) break;
      next = result.fetchChunk();
      for (const row of chunkRows(chunk, readers)) {
        batch.push(row);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
  } finally {
    // A consumer that stopped early (or a failure) leaves a fetch in flight: it ends before the result may be closed.
    if (next) await next.catch(() => undefined);
  }
  if (batch.length > 0) yield batch;
}

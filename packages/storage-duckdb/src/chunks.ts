import type { DuckDBDataChunk, DuckDBResult, DuckDBType } from "@duckdb/node-api";
import { logicalOfDuckdbType } from "./type-mapping.js";
import { readerFor, type ValueReader } from "./value-conversion.js";
import { ErrorCodes, MdmError, type ColumnDef, type Value } from "@mdm/storage-core";

/** The logical columns and value readers of a result. */
export function resultShape(result: DuckDBResult): { columns: ColumnDef[]; readers: ValueReader[] } {
  const names = result.deduplicatedColumnNames();
  const types: DuckDBType[] = result.columnTypes();
  return { columns: types.map((t, i) => logicalOfDuckdbType(names[i] as string, t)), readers: types.map(readerFor) };
}

/** Rows of one data chunk in the value model, read column by column from the raw vectors. */
export function chunkRows(chunk: DuckDBDataChunk, readers: ValueReader[]): Value[][] {
  const count = chunk.rowCount;
  const rows: Value[][] = new Array(count);
  for (let r = 0; r < count; r++) rows[r] = new Array(readers.length);
  for (let c = 0; c < readers.length; c++) {
    const read = readers[c] as ValueReader;
    const values = chunk.getColumnValues(c);
    for (let r = 0; r < count; r++) (rows[r] as Value[])[c] = read(values[r] ?? null);
  }
  return rows;
}

/**
 * The rows of a result regrouped into batches of `batchSize`, fetched one chunk (up to 2048 rows) at a
 * time: a streaming result is never materialised, a materialised one is handed out in batches.
 */
export async function* resultBatches(result: DuckDBResult, batchSize: number, signal?: AbortSignal): AsyncGenerator<Value[][]> {
  const { readers } = resultShape(result);
  let batch: Value[][] = [];
  for (;;) {
    if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunkRows(chunk, readers)) {
      batch.push(row);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

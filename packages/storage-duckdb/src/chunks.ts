import type { DuckDBDataChunk, DuckDBResult, DuckDBType } from "@duckdb/node-api";
import { logicalOfDuckdbType } from "./type-mapping.js";
import { readerFor, type ValueReader } from "./value-conversion.js";
import type { ColumnDef, Value } from "@mdm/storage-core";

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

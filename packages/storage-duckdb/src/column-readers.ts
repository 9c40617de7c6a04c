import duckdb from "@duckdb/node-bindings";
import { DuckDBTypeId, type DuckDBDataChunk, type DuckDBType } from "@duckdb/node-api";
import type { Value } from "@mdm/storage-core";
import { dateOfDays, readerFor, timestampOfMicros } from "./value-conversion.js";

/** The values of one column of a data chunk, in the value model. */
export type ColumnReader = (chunk: DuckDBDataChunk, column: number) => Value[];

/** Is row `r` valid (not NULL)? From the vector's validity mask; absent when every row is. */
type Validity = (row: number) => boolean;

const ALL_VALID: Validity = () => true;

/**
 * The raw memory of a column (its data and its validity bits) through @duckdb/node-bindings, the C API
 * @duckdb/node-api is built on. @duckdb/node-api's own per-value reads make an object per DATE or TIMESTAMP
 * and test each validity bit with BigInt arithmetic: part of the 1.3 s of 6.1 s a 500,000-row registration
 * into SQLite spent in the garbage collector.
 */
function rawColumn(chunk: DuckDBDataChunk, column: number, bytesPerRow: number): { data: Uint8Array; valid: Validity; rows: number } {
  const rows = chunk.rowCount;
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  const data = duckdb.vector_get_data(vector, rows * bytesPerRow);
  const mask = duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8);
  const valid: Validity = mask ? (r) => ((mask[r >>> 3] as number) & (1 << (r & 7))) !== 0 : ALL_VALID;
  return { data, valid, rows };
}

/** A reader of a fixed-width column: `view` makes the typed array over its data, `value` one value of it. */
function fixedWidth<A extends ArrayLike<unknown>>(bytesPerRow: number, view: (data: Uint8Array, rows: number) => A, value: (items: A, row: number) => Value): ColumnReader {
  return (chunk, column) => {
    const { data, valid, rows } = rawColumn(chunk, column, bytesPerRow);
    const items = view(data, rows);
    const values: Value[] = new Array(rows);
    for (let r = 0; r < rows; r++) values[r] = valid(r) ? value(items, r) : null;
    return values;
  };
}

const i8 = (d: Uint8Array, n: number) => new Int8Array(d.buffer, d.byteOffset, n);
const i16 = (d: Uint8Array, n: number) => new Int16Array(d.buffer, d.byteOffset, n);
const i32 = (d: Uint8Array, n: number) => new Int32Array(d.buffer, d.byteOffset, n);
const i64 = (d: Uint8Array, n: number) => new BigInt64Array(d.buffer, d.byteOffset, n);
const u8 = (d: Uint8Array, n: number) => new Uint8Array(d.buffer, d.byteOffset, n);
const u16 = (d: Uint8Array, n: number) => new Uint16Array(d.buffer, d.byteOffset, n);
const u32 = (d: Uint8Array, n: number) => new Uint32Array(d.buffer, d.byteOffset, n);
const f32 = (d: Uint8Array, n: number) => new Float32Array(d.buffer, d.byteOffset, n);
const f64 = (d: Uint8Array, n: number) => new Float64Array(d.buffer, d.byteOffset, n);
const asBigint = (items: ArrayLike<number>, r: number) => BigInt(items[r] as number);

/**
 * How to read a column of this type from a chunk: straight from its memory for the fixed-width types a
 * dataset's columns mostly have (the same values `readerFor` gives), value by value through
 * @duckdb/node-api for the others (text, decimals, blobs, wide integers).
 */
export function columnReaderFor(type: DuckDBType): ColumnReader {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return fixedWidth(1, u8, (items, r) => items[r] !== 0);
    case DuckDBTypeId.DOUBLE:
      return fixedWidth(8, f64, (items, r) => items[r] as number);
    case DuckDBTypeId.FLOAT:
      return fixedWidth(4, f32, (items, r) => items[r] as number);
    case DuckDBTypeId.BIGINT:
      return fixedWidth(8, i64, (items, r) => items[r] as bigint);
    case DuckDBTypeId.INTEGER:
      return fixedWidth(4, i32, asBigint);
    case DuckDBTypeId.SMALLINT:
      return fixedWidth(2, i16, asBigint);
    case DuckDBTypeId.TINYINT:
      return fixedWidth(1, i8, asBigint);
    case DuckDBTypeId.UINTEGER:
      return fixedWidth(4, u32, asBigint);
    case DuckDBTypeId.USMALLINT:
      return fixedWidth(2, u16, asBigint);
    case DuckDBTypeId.UTINYINT:
      return fixedWidth(1, u8, asBigint);
    case DuckDBTypeId.DATE:
      return fixedWidth(4, i32, (items, r) => dateOfDays(items[r] as number));
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return fixedWidth(8, i64, (items, r) => timestampOfMicros(items[r] as bigint));
    default: {
      const read = readerFor(type);
      return (chunk, column) => chunk.getColumnValues(column).map((raw) => read(raw ?? null));
    }
  }
}

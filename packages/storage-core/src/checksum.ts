import { ErrorCodes, MdmError } from "./errors.js";
import type { ColumnDef, LogicalType, Value } from "./types.js";
import { canonicalDecimal, isSqlDate, isSqlTimestamp } from "./values.js";

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function floatBits(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  f64[0] = value;
  return LITTLE_ENDIAN ? hex8(u32[1] as number) + hex8(u32[0] as number) : hex8(u32[0] as number) + hex8(u32[1] as number);
}

function bad(type: LogicalType, value: Value): never {
  throw new MdmError(ErrorCodes.INTERNAL, `Value of JS type ${typeof value} does not belong to a ${type} column`);
}

/**
 * The canonical, unambiguous encoding of one value: a type tag, a length where the payload has no
 * fixed form, the payload, and a `;`. NULL has its own tag, so it never equals '' or NaN; floats are
 * encoded by their IEEE bits (so -0 differs from 0) with one NaN; decimals by their numeric identity
 * (`1.50` = `1.5`); timestamps by their microseconds; blobs by their bytes.
 */
export function encodeValue(type: LogicalType, value: Value): string {
  if (value === null || value === undefined) return "N;";
  switch (type) {
    case "boolean":
      return typeof value === "boolean" ? (value ? "b1;" : "b0;") : bad(type, value);
    case "int64":
      return typeof value === "bigint" ? `i${value};` : bad(type, value);
    case "float64":
      return typeof value === "number" ? `f${floatBits(value)};` : bad(type, value);
    case "decimal": {
      if (typeof value !== "string") bad(type, value);
      const c = canonicalDecimal(value);
      return `d${c.length}:${c};`;
    }
    case "text":
      return typeof value === "string" ? `s${value.length}:${value};` : bad(type, value);
    case "json":
      return typeof value === "string" ? `j${value.length}:${value};` : bad(type, value);
    case "blob":
      return value instanceof Uint8Array ? `x${value.length}:${Buffer.from(value.buffer, value.byteOffset, value.length).toString("hex")};` : bad(type, value);
    case "date":
      return isSqlDate(value) ? `D${value.days};` : bad(type, value);
    case "timestamp":
      return isSqlTimestamp(value) ? `t${value.micros};` : bad(type, value);
    case "timestamptz":
      return isSqlTimestamp(value) ? `T${value.micros};` : bad(type, value);
    default:
      return bad(type, value);
  }
}

/** The canonical encoding of a row (values in the order of `columns`). */
export function encodeRow(columns: readonly ColumnDef[], row: readonly Value[]): string {
  let out = "";
  for (let i = 0; i < columns.length; i++) out += encodeValue((columns[i] as ColumnDef).type, row[i] as Value);
  return out;
}

/** A 64-bit hash of a string, as two 32-bit halves (two differently seeded multiplicative mixes). */
export function hash64(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  h1 ^= text.length;
  return [h1 >>> 0, h2 >>> 0];
}

const TWO_32 = 4294967296;

/**
 * An order-independent checksum of a table: the row count plus the sum modulo 2^64 of the 64-bit
 * hashes of the canonically encoded rows. Additive (not XOR), so duplicate rows that change together
 * are still caught. Computed in JS from typed values, so it means the same for every engine.
 */
export class TableChecksum {
  readonly columns: readonly ColumnDef[];
  private rows = 0;
  private lo = 0;
  private hi = 0;

  constructor(columns: readonly ColumnDef[]) {
    this.columns = columns;
  }

  add(row: readonly Value[]): void {
    const [a, b] = hash64(encodeRow(this.columns, row));
    let lo = this.lo + a;
    let carry = 0;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      carry = 1;
    }
    this.lo = lo;
    this.hi = (this.hi + b + carry) % TWO_32;
    this.rows++;
  }

  addAll(rows: readonly (readonly Value[])[]): void {
    for (const row of rows) this.add(row);
  }

  get count(): number {
    return this.rows;
  }

  /** `sum64:<16 hex digits>` (the count is reported separately). */
  get hash(): string {
    return `sum64:${hex8(this.hi)}${hex8(this.lo)}`;
  }

  toJSON(): { count: number; hash: string } {
    return { count: this.count, hash: this.hash };
  }
}

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

// ---------------------------------------------------------------------------------------------
// Row hashing for TableChecksum: the fields of the canonical encoding (NULLs, lengths, payloads)
// fed as 32-bit words into two independent murmur3-style lanes, without building the text. The
// text form (`encodeRow` + `hash64`) costs 5-6 µs per row, mostly in formatting floats as hex; this
// costs a few hundred ns (packages/migration/bench/checksum.mjs measures both).

const KIND_CODES: Record<LogicalType, number> = {
  boolean: 1,
  int64: 2,
  float64: 3,
  decimal: 4,
  text: 5,
  json: 6,
  blob: 7,
  date: 8,
  timestamp: 9,
  timestamptz: 10,
};

/** The two lanes of the row being hashed (module state: the hash of one row is never interleaved with another's). */
let lane1 = 0;
let lane2 = 0;

function mix(word: number): void {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  lane1 ^= k;
  lane1 = (Math.imul((lane1 << 13) | (lane1 >>> 19), 5) + 0xe6546b64) | 0;
  let j = Math.imul(word, 0x85ebca6b);
  j = Math.imul((j << 16) | (j >>> 16), 0xc2b2ae35);
  lane2 ^= j;
  lane2 = (Math.imul((lane2 << 17) | (lane2 >>> 15), 9) + 0x38b34ae5) | 0;
}

/** A safe integer as its 64-bit two's complement halves (low word first). */
function mixSafeInteger(n: number): void {
  mix(n >>> 0);
  mix(Math.floor(n / TWO_32) | 0);
}

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const LOW_32 = 0xffffffffn;

/** A 64-bit integer as its two's complement halves: the same words as mixSafeInteger where both apply. */
function mixBigInt(v: bigint): void {
  if (v >= SAFE_MIN && v <= SAFE_MAX) {
    mixSafeInteger(Number(v));
    return;
  }
  mix(Number(v & LOW_32));
  mix(Number(BigInt.asIntN(32, v >> 32n)));
}

/** `s.slice(from, to)` as a string: its length, then its UTF-16 code units two per word. */
function mixString(s: string, from = 0, to = s.length): void {
  mix(to - from);
  let i = from;
  for (; i + 1 < to; i += 2) mix(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < to) mix(s.charCodeAt(i));
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/**
 * A decimal as `mixString(canonicalDecimal(s))`. Plain text (`-?(0|[1-9][0-9]*)(.[0-9]+)?`, what
 * every backend reads and writes) is canonicalised in place: trailing fraction zeros and a bare point
 * dropped, `-0` as `0`. Anything else takes canonicalDecimal.
 */
function mixDecimal(s: string): void {
  const n = s.length;
  let i = s.charCodeAt(0) === 45 ? 1 : 0;
  const first = i;
  if (i >= n || !isDigit(s.charCodeAt(i)) || (s.charCodeAt(i) === 48 && i + 1 < n && s.charCodeAt(i + 1) !== 46)) {
    mixString(canonicalDecimal(s));
    return;
  }
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  let end = n;
  if (i < n) {
    const dot = i;
    if (s.charCodeAt(dot) !== 46 || dot + 1 === n) {
      mixString(canonicalDecimal(s));
      return;
    }
    for (i = dot + 1; i < n; i++) {
      if (!isDigit(s.charCodeAt(i))) {
        mixString(canonicalDecimal(s));
        return;
      }
    }
    while (end > dot + 1 && s.charCodeAt(end - 1) === 48) end--;
    if (end === dot + 1) end = dot;
  }
  if (first === 1 && end === 2 && s.charCodeAt(1) === 48) mixString("0");
  else mixString(s, 0, end);
}

/** Bytes: their length, then four per word (little-endian order, whatever the platform). */
function mixBytes(b: Uint8Array): void {
  const n = b.length;
  mix(n);
  let i = 0;
  for (; i + 3 < n; i += 4) mix((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24));
  if (i < n) {
    let last = 0;
    for (let shift = 0; i < n; i++, shift += 8) last |= (b[i] as number) << shift;
    mix(last);
  }
}

/** A float by its IEEE bits (low word first), every NaN as one NaN. */
function mixFloat(v: number): void {
  if (v !== v) {
    mix(0);
    mix(0x7ff80000);
    return;
  }
  f64[0] = v;
  if (LITTLE_ENDIAN) {
    mix(u32[0] as number);
    mix(u32[1] as number);
  } else {
    mix(u32[1] as number);
    mix(u32[0] as number);
  }
}

/** Words of one non-NULL value; a value of the wrong JS type for its column is an internal error. */
function mixValue(kind: number, type: LogicalType, v: Value): void {
  switch (kind) {
    case 1:
      if (typeof v !== "boolean") bad(type, v);
      mix(v ? 1 : 0);
      return;
    case 2:
      if (typeof v !== "bigint") bad(type, v);
      mixBigInt(v);
      return;
    case 3:
      if (typeof v !== "number") bad(type, v);
      mixFloat(v);
      return;
    case 4:
      if (typeof v !== "string") bad(type, v);
      mixDecimal(v);
      return;
    case 5:
    case 6:
      if (typeof v !== "string") bad(type, v);
      mixString(v);
      return;
    case 7:
      if (!(v instanceof Uint8Array)) bad(type, v);
      mixBytes(v);
      return;
    case 8:
      if (!isSqlDate(v)) bad(type, v);
      mixSafeInteger(v.days);
      return;
    default:
      if (!isSqlTimestamp(v)) bad(type, v);
      mixBigInt(v.micros);
  }
}

/**
 * An order-independent checksum of a table: the row count plus the sum modulo 2^64 of 64-bit row
 * hashes. Additive (not XOR), so duplicate rows that change together are still caught. Computed in
 * JS from typed values, so it means the same for every engine.
 *
 * A row hash covers the fields of the canonical encoding (`encodeValue`) without building its text:
 * the column types (in the seed), a NULL bitmap (so NULL, '' and NaN never hash alike), then each
 * non-NULL value: booleans 0/1, integers, dates and timestamps as 64-bit two's complement, floats by
 * their IEEE bits (-0 differs from 0, one NaN), decimals by their canonical text (`1.50` = `1.5`),
 * text and JSON by length and UTF-16 code units, blobs by length and bytes.
 */
export class TableChecksum {
  readonly columns: readonly ColumnDef[];
  private readonly kinds: number[];
  private readonly seed1: number;
  private readonly seed2: number;
  private rows = 0;
  private lo = 0;
  private hi = 0;

  constructor(columns: readonly ColumnDef[]) {
    this.columns = columns;
    this.kinds = columns.map(({ type }) => {
      const kind = KIND_CODES[type];
      if (kind === undefined) throw new MdmError(ErrorCodes.INTERNAL, `TableChecksum: unknown logical type ${JSON.stringify(type)}`);
      return kind;
    });
    lane1 = 0x9747b28c;
    lane2 = 0x2c1b3c6d;
    mix(columns.length);
    for (const kind of this.kinds) mix(kind);
    this.seed1 = lane1;
    this.seed2 = lane2;
  }

  add(row: readonly Value[]): void {
    const kinds = this.kinds;
    const width = kinds.length;
    this.beginRow();
    // The NULL bitmap first, 32 columns per word: with it known, the words that follow parse one way only.
    for (let base = 0; base < width; base += 32) {
      let nulls = 0;
      const end = Math.min(width, base + 32);
      for (let c = base; c < end; c++) if (row[c] === null || row[c] === undefined) nulls |= 1 << (c - base);
      mix(nulls);
    }
    for (let c = 0; c < width; c++) {
      const v = row[c];
      if (v !== null && v !== undefined) mixValue(kinds[c] as number, (this.columns[c] as ColumnDef).type, v);
    }
    this.endRow();
  }

  // --- A row from its parts ---------------------------------------------------------------------
  // For a reader that hashes rows as it decodes them from an engine's wire format, without building
  // the values (PostgreSQL's COPY BINARY verification). A row is `beginRow()`, its NULL bitmap
  // (`nullWord`, one word per 32 columns, bit c % 32 set when column c is NULL), then one call per
  // non-NULL value in column order, of the method for its column's type, then `endRow()`. The result
  // is the same as `add` of the decoded row; a row must be hashed whole before another is begun (on
  // any TableChecksum), which synchronous code does. Nothing checks the calls against the columns: the
  // caller's decoder is tested against `add` instead.

  beginRow(): void {
    lane1 = this.seed1;
    lane2 = this.seed2;
  }

  /** One word of the NULL bitmap. */
  nullWord(bits: number): void {
    mix(bits);
  }

  boolean(value: boolean): void {
    mix(value ? 1 : 0);
  }

  /** A 64-bit integer (int64, or a timestamp's microseconds) as its two's complement halves. */
  int64Words(high: number, low: number): void {
    mix(low >>> 0);
    mix(high | 0);
  }

  /** A date's day number. */
  days(value: number): void {
    mixSafeInteger(value);
  }

  /** A float64 by its IEEE bits, high and low word; every NaN hashes as one NaN, as in `add`. */
  floatWords(high: number, low: number): void {
    if ((high & 0x7ff00000) === 0x7ff00000 && ((high & 0xfffff) | low) !== 0) {
      mix(0);
      mix(0x7ff80000);
      return;
    }
    mix(low >>> 0);
    mix(high >>> 0);
  }

  /** Text or JSON. */
  text(value: string): void {
    mixString(value);
  }

  /** Text or JSON given as UTF-8 bytes: read in place while they are ASCII (one code unit a byte), else decoded. */
  utf8(bytes: Uint8Array, from: number, to: number): void {
    const saved1 = lane1;
    const saved2 = lane2;
    mix(to - from);
    let ascii = true;
    let i = from;
    for (; i + 1 < to; i += 2) {
      const a = bytes[i] as number;
      const b = bytes[i + 1] as number;
      if ((a | b) > 0x7f) {
        ascii = false;
        break;
      }
      mix(a | (b << 16));
    }
    if (ascii && i < to) {
      if ((bytes[i] as number) > 0x7f) ascii = false;
      else mix(bytes[i] as number);
    }
    if (ascii) return;
    // Not ASCII: start the value again from its decoded text.
    lane1 = saved1;
    lane2 = saved2;
    mixString(Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString("utf8"));
  }

  /**
   * Text as UTF-16 code units (`units[0..length)`), or a decimal as the code units of its canonical text
   * (`canonicalDecimal`'s form: no trailing fraction zeros, no bare point, `0` for every zero).
   */
  codeUnits(units: ArrayLike<number>, length: number): void {
    mix(length);
    let i = 0;
    for (; i + 1 < length; i += 2) mix((units[i] as number) | ((units[i + 1] as number) << 16));
    if (i < length) mix(units[i] as number);
  }

  /** A decimal's text (any form `add` takes; canonicalised the same way). */
  decimal(value: string): void {
    mixDecimal(value);
  }

  bytes(value: Uint8Array): void {
    mixBytes(value);
  }

  /** Finish the row begun by `beginRow` and add its hash. */
  endRow(): void {
    const width = this.kinds.length;
    // Finalise the two lanes into 64 bits (murmur3's fmix, then each half mixed into the other).
    let a = lane1 ^ width;
    let b = lane2 ^ width;
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
    a ^= a >>> 16;
    b = Math.imul(b ^ (b >>> 16), 0x7feb352d);
    b = Math.imul(b ^ (b >>> 15), 0x846ca68b);
    b ^= b >>> 16;
    a = (a + b) | 0;
    b = (b + a) | 0;
    let lo = this.lo + (a >>> 0);
    let carry = 0;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      carry = 1;
    }
    this.lo = lo;
    this.hi = (this.hi + (b >>> 0) + carry) % TWO_32;
    this.rows++;
  }

  addAll(rows: readonly (readonly Value[])[]): void {
    for (let r = 0; r < rows.length; r++) this.add(rows[r] as readonly Value[]);
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

import { ErrorCodes, MdmError } from "./errors.js";
import { isWellFormed } from "./names.js";
import type { ColumnDef, LogicalType, Row, Value } from "./types.js";

const DATE_BRAND = Symbol.for("@mdm/storage-core:SqlDate");
const TIMESTAMP_BRAND = Symbol.for("@mdm/storage-core:SqlTimestamp");

const MICROS_PER_DAY = 86_400_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical years: 0 is 1 BC). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = year - (month <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The proleptic Gregorian [year, month, day] of a day number (inverse of daysFromCivil). */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? y + 1 : y, m, d];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function formatYear(year: number): string {
  if (year >= 0 && year <= 9999) return pad(year, 4);
  return (year < 0 ? "-" : "+") + pad(Math.abs(year), 6);
}

function formatDays(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${formatYear(y)}-${pad(m, 2)}-${pad(d, 2)}`;
}

const DATE_RE = /^([+-]?\d{4,6})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE =
  /^([+-]?\d{4,6})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function checkedDays(y: number, m: number, d: number, text: string): number {
  if (m < 1 || m > 12 || d < 1 || d > 31) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a valid date: ${JSON.stringify(text)}`);
  }
  const days = daysFromCivil(y, m, d);
  const [y2, m2, d2] = civilFromDays(days);
  if (y2 !== y || m2 !== m || d2 !== d) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a valid date: ${JSON.stringify(text)}`);
  }
  return days;
}

/** A calendar date, independent of any time zone. Stored as days since 1970-01-01. */
export class SqlDate {
  readonly days: number;
  declare readonly [DATE_BRAND]: true;

  constructor(days: number) {
    if (!Number.isSafeInteger(days)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `SqlDate needs an integer day number, got ${days}`);
    }
    this.days = days;
  }

  static fromParts(year: number, month: number, day: number): SqlDate {
    return new SqlDate(checkedDays(year, month, day, `${year}-${month}-${day}`));
  }

  /** Parse `YYYY-MM-DD` (years may carry a sign and up to 6 digits). */
  static parse(text: string): SqlDate {
    const m = DATE_RE.exec(text.trim());
    if (!m) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a date (YYYY-MM-DD): ${JSON.stringify(text)}`);
    return new SqlDate(checkedDays(Number(m[1]), Number(m[2]), Number(m[3]), text));
  }

  get year(): number {
    return civilFromDays(this.days)[0];
  }

  toString(): string {
    return formatDays(this.days);
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: unknown): boolean {
    return isSqlDate(other) && other.days === this.days;
  }
}

/**
 * A point in time with microsecond precision, as µs since 1970-01-01 00:00:00. For a `timestamp`
 * column it is a wall-clock reading (no zone); for `timestamptz` it is the UTC instant. Never a JS Date.
 */
export class SqlTimestamp {
  readonly micros: bigint;
  declare readonly [TIMESTAMP_BRAND]: true;

  constructor(micros: bigint) {
    if (typeof micros !== "bigint") {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "SqlTimestamp needs a bigint of microseconds");
    }
    this.micros = micros;
  }

  /**
   * Parse `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]`. An offset is applied to give UTC; more than
   * six fractional digits are refused unless they are zeros.
   */
  static parse(text: string): SqlTimestamp {
    const parsed = parseTimestampText(text);
    return new SqlTimestamp(parsed.micros);
  }

  static fromParts(
    year: number,
    month: number,
    day: number,
    hour = 0,
    minute = 0,
    second = 0,
    micro = 0,
  ): SqlTimestamp {
    const days = checkedDays(year, month, day, `${year}-${month}-${day}`);
    return new SqlTimestamp(
      BigInt(days) * MICROS_PER_DAY + BigInt(((hour * 60 + minute) * 60 + second) * 1_000_000 + micro),
    );
  }

  /** Days since the epoch and the µs within that day. */
  split(): { days: number; microsOfDay: bigint } {
    let days = this.micros / MICROS_PER_DAY;
    let rest = this.micros % MICROS_PER_DAY;
    if (rest < 0n) {
      rest += MICROS_PER_DAY;
      days -= 1n;
    }
    return { days: Number(days), microsOfDay: rest };
  }

  /** `YYYY-MM-DD HH:MM:SS.ffffff` (always six fractional digits). */
  toString(): string {
    const { days, microsOfDay } = this.split();
    const us = Number(microsOfDay);
    const secs = Math.floor(us / 1_000_000);
    const frac = us % 1_000_000;
    return `${formatDays(days)} ${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(
      secs % 60,
      2,
    )}.${pad(frac, 6)}`;
  }

  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  toISOString(): string {
    return `${this.toString().replace(" ", "T")}Z`;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: unknown): boolean {
    return isSqlTimestamp(other) && other.micros === this.micros;
  }
}

// The brands live on the prototypes (one property each, not one per instance: constructing a value
// stays cheap on bulk reads); isSqlDate/isSqlTimestamp still recognise values of any copy of this package.
Object.defineProperty(SqlDate.prototype, DATE_BRAND, { value: true, enumerable: false });
Object.defineProperty(SqlTimestamp.prototype, TIMESTAMP_BRAND, { value: true, enumerable: false });

function parseTimestampText(text: string): { micros: bigint; hasOffset: boolean } {
  const m = TIMESTAMP_RE.exec(text.trim());
  if (!m) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a timestamp: ${JSON.stringify(text)}`);
  }
  const days = checkedDays(Number(m[1]), Number(m[2]), Number(m[3]), text);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  if (hour > 23 || minute > 59 || second > 59) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a valid time of day: ${JSON.stringify(text)}`);
  }
  const fraction = m[7] ?? "";
  if (fraction.length > 6 && /[1-9]/.test(fraction.slice(6))) {
    throw new MdmError(
      ErrorCodes.UNSUPPORTED_VALUE,
      `Timestamp ${JSON.stringify(text)} has sub-microsecond digits; the value model keeps microseconds`,
    );
  }
  const micro = Number(fraction.slice(0, 6).padEnd(6, "0"));
  let micros = BigInt(days) * MICROS_PER_DAY + BigInt(((hour * 60 + minute) * 60 + second) * 1_000_000 + micro);
  const offset = m[8];
  if (offset && offset.toUpperCase() !== "Z") {
    const sign = offset[0] === "-" ? -1 : 1;
    const digits = offset.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4) || "0");
    if (oh > 23 || om > 59) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a valid time-zone offset: ${JSON.stringify(text)}`);
    }
    micros -= BigInt(sign * (oh * 60 + om) * 60) * 1_000_000n;
  }
  return { micros, hasOffset: offset !== undefined };
}

export function isSqlDate(value: unknown): value is SqlDate {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DATE_BRAND] === true;
}

export function isSqlTimestamp(value: unknown): value is SqlTimestamp {
  return (
    typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[TIMESTAMP_BRAND] === true
  );
}

// ---------------------------------------------------------------------------------------------
// Decimals

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const DECIMAL_SPECIAL = new Set(["NaN", "Infinity", "-Infinity"]);
const DECIMAL_MAX_EXPONENT = 131_072 + 16_383;

/**
 * Whether text is already what plainDecimal returns (`[-]digits[.digits]`, no leading zero, no
 * negative zero): the common case of a read, answered without the regular expression (SQLite's
 * decimal text read at about 30 ns instead of 500 ns).
 */
function isPlainDecimal(text: string): boolean {
  const n = text.length;
  const start = text.charCodeAt(0) === 45 ? 1 : 0;
  let i = start;
  let nonZero = false;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (c !== 48) nonZero = true;
  }
  const intLength = i - start;
  if (intLength === 0 || (intLength > 1 && text.charCodeAt(start) === 48)) return false;
  if (i < n) {
    if (text.charCodeAt(i) !== 46 || i === n - 1) return false;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) return false;
      if (c !== 48) nonZero = true;
    }
  }
  return start === 0 || nonZero;
}

/**
 * Plain notation of a decimal text (exponent expanded, `+` and leading zeros removed, trailing
 * fractional zeros kept: `"1.50"` stays `"1.50"`). Throws on anything that is not a decimal.
 */
export function plainDecimal(text: string): string {
  if (isPlainDecimal(text)) return text;
  if (DECIMAL_SPECIAL.has(text)) return text;
  const m = DECIMAL_RE.exec(text.trim());
  if (!m || (m[2] === "" && (m[3] === undefined || m[3] === ""))) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not a decimal number: ${JSON.stringify(text)}`);
  }
  const negative = m[1] === "-";
  let intPart = m[2] ?? "";
  let fracPart = m[3] ?? "";
  const exp = m[4] ? Number(m[4]) : 0;
  // "1e300000000" would expand to 300 MB of digits: refuse what no engine holds (PostgreSQL numeric
  // keeps at most 131072 digits before the point and 16383 after).
  if (!(Math.abs(exp) <= DECIMAL_MAX_EXPONENT)) {
    throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Decimal ${JSON.stringify(text.slice(0, 40))} has an exponent beyond ±${DECIMAL_MAX_EXPONENT}`);
  }
  if (exp > 0) {
    const move = fracPart.slice(0, exp).padEnd(exp, "0");
    intPart += move;
    fracPart = fracPart.slice(exp);
  } else if (exp < 0) {
    const shift = -exp;
    const padded = intPart.padStart(shift + 1, "0");
    fracPart = padded.slice(padded.length - shift) + fracPart;
    intPart = padded.slice(0, padded.length - shift);
  }
  intPart = intPart.replace(/^0+(?=\d)/, "");
  if (intPart === "") intPart = "0";
  const body = fracPart.length > 0 ? `${intPart}.${fracPart}` : intPart;
  const isZero = /^[0.]*$/.test(body);
  return negative && !isZero ? `-${body}` : body;
}

/** The numeric identity of a decimal: plain notation without trailing fractional zeros (`"1.50"` → `"1.5"`). */
export function canonicalDecimal(text: string): string {
  const plain = plainDecimal(text);
  if (DECIMAL_SPECIAL.has(plain) || !plain.includes(".")) return plain;
  const trimmed = plain.replace(/0+$/, "").replace(/\.$/, "");
  return trimmed === "-0" ? "0" : trimmed;
}

/** Digits before and after the point of a plain decimal. */
export function decimalDigits(plain: string): { integer: number; fraction: number } {
  const unsigned = plain.replace(/^-/, "");
  const [intPart = "", fracPart = ""] = unsigned.split(".");
  const significantInt = intPart.replace(/^0+/, "");
  return { integer: significantInt.length, fraction: fracPart.length };
}

/** Text already in plain notation (the fast path of the decimal normaliser); `-0...` is not (it loses its sign). */
const PLAIN_DECIMAL_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;
const NEGATIVE_ZERO_RE = /^-[0.]*$/;

/** decimalDigits(canonicalDecimal(plain)) of a plain decimal, without re-parsing it. */
export function plainDecimalDigits(plain: string): { integer: number; fraction: number } {
  const start = plain.charCodeAt(0) === 45 ? 1 : 0;
  const dot = plain.indexOf(".");
  const intLength = (dot < 0 ? plain.length : dot) - start;
  const integer = intLength === 1 && plain.charCodeAt(start) === 48 ? 0 : intLength;
  if (dot < 0) return { integer, fraction: 0 };
  let end = plain.length;
  while (end > dot + 1 && plain.charCodeAt(end - 1) === 48) end--;
  return { integer, fraction: end - dot - 1 };
}

/** The shortest decimal text that reads back as this double (`1e21` → `"1000000000000000000000"`). */
export function decimalFromNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return plainDecimal(Object.is(value, -0) ? "0" : String(value));
}

// ---------------------------------------------------------------------------------------------
// Normalisation of values written by users

function fail(column: ColumnDef, value: unknown, expected: string): never {
  const shown =
    typeof value === "bigint" ? `${value}n` : typeof value === "string" ? JSON.stringify(value.slice(0, 60)) : String(value);
  throw new MdmError(
    ErrorCodes.INVALID_ARGUMENT,
    `Column ${JSON.stringify(column.name)} (${column.type}) needs ${expected}, got ${typeof value} ${shown}`,
    { details: { column: column.name, type: column.type } },
  );
}

function unsupported(column: ColumnDef, message: string): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)} (${column.type}): ${message}`, {
    details: { column: column.name, type: column.type },
  });
}

export type ValueNormalizer = (value: unknown) => Value;

/**
 * A function that turns what a user hands in for this column into the value model (or throws
 * MDM_INVALID_ARGUMENT / MDM_UNSUPPORTED_VALUE). Built once per column, called once per cell.
 */
export function columnNormalizer(column: ColumnDef): ValueNormalizer {
  switch (column.type) {
    case "boolean":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v === "boolean") return v;
        if (v === 0 || v === 1 || v === 0n || v === 1n) return v === 1 || v === 1n;
        return fail(column, v, "a boolean");
      };
    case "int64":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v === "bigint") {
          if (v < INT64_MIN || v > INT64_MAX) unsupported(column, `${v} is outside the 64-bit integer range`);
          return v;
        }
        if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
        return fail(column, v, "a bigint (or a safe integer number)");
      };
    case "float64":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v === "number") return v;
        if (typeof v === "bigint") {
          const n = Number(v);
          if (BigInt(n) !== v) unsupported(column, `${v} has no exact float64 value`);
          return n;
        }
        return fail(column, v, "a number");
      };
    case "decimal":
      return (v) => {
        if (v === null || v === undefined) return null;
        let plain: string;
        if (typeof v === "string") plain = PLAIN_DECIMAL_RE.test(v) && !NEGATIVE_ZERO_RE.test(v) ? v : plainDecimal(v);
        else if (typeof v === "bigint") plain = v.toString();
        else if (typeof v === "number") plain = decimalFromNumber(v);
        else return fail(column, v, "a decimal string");
        if (column.precision !== undefined && !DECIMAL_SPECIAL.has(plain)) {
          const scale = column.scale ?? 0;
          const digits = plainDecimalDigits(plain);
          if (digits.fraction > scale || digits.integer > column.precision - scale) {
            unsupported(column, `${plain} does not fit DECIMAL(${column.precision},${scale})`);
          }
        }
        return plain;
      };
    case "text":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v !== "string") return fail(column, v, "a string");
        if (!isWellFormed(v)) unsupported(column, "the text contains an unpaired UTF-16 surrogate");
        return v;
      };
    case "json":
      return (v) => {
        if (v === null || v === undefined) return null;
        let text: string;
        if (typeof v === "string") text = v;
        else if (typeof v === "object" && !(v instanceof Uint8Array) && !isSqlDate(v) && !isSqlTimestamp(v)) {
          text = JSON.stringify(v);
        } else return fail(column, v, "JSON text");
        try {
          JSON.parse(text);
        } catch {
          unsupported(column, `not valid JSON: ${JSON.stringify(text.slice(0, 60))}`);
        }
        if (!isWellFormed(text)) unsupported(column, "the JSON text contains an unpaired UTF-16 surrogate");
        return text;
      };
    case "blob":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (v instanceof Uint8Array) return v;
        return fail(column, v, "a Uint8Array or Buffer");
      };
    case "date":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (isSqlDate(v)) return v;
        if (typeof v === "string") return SqlDate.parse(v);
        return fail(column, v, "an SqlDate or a YYYY-MM-DD string");
      };
    case "timestamp":
    case "timestamptz":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (isSqlTimestamp(v)) return v;
        if (typeof v === "string") {
          const parsed = parseTimestampText(v);
          if (parsed.hasOffset && column.type === "timestamp") {
            unsupported(column, `${JSON.stringify(v)} has a time-zone offset; a timestamp column holds wall-clock time`);
          }
          return new SqlTimestamp(parsed.micros);
        }
        return fail(column, v, "an SqlTimestamp or an ISO timestamp string");
      };
    default:
      throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Unknown logical type ${JSON.stringify((column as ColumnDef).type)}`);
  }
}

/** Exact equality in the value model: NaN equals NaN, -0 differs from 0, decimals compare numerically. */
export function valuesEqual(type: LogicalType, a: Value, b: Value): boolean {
  if (a === null || b === null) return a === b;
  switch (type) {
    case "float64":
      return Object.is(a, b);
    case "decimal":
      return typeof a === "string" && typeof b === "string" && canonicalDecimal(a) === canonicalDecimal(b);
    case "blob":
      return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
    case "date":
      return isSqlDate(a) && isSqlDate(b) && a.days === b.days;
    case "timestamp":
    case "timestamptz":
      return isSqlTimestamp(a) && isSqlTimestamp(b) && a.micros === b.micros;
    default:
      return a === b;
  }
}

/** Human-readable rendering of a value for messages and reports. */
export function formatValue(value: Value): string {
  if (value === null) return "NULL";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value.toString();
}

// ---------------------------------------------------------------------------------------------
// Inference

function kindOf(value: Value): LogicalType | "integer-number" | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
      return "boolean";
    case "bigint":
      return "int64";
    case "number":
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? "integer-number" : "float64";
    case "string":
      return "text";
    default:
      if (value instanceof Uint8Array) return "blob";
      if (isSqlDate(value)) return "date";
      if (isSqlTimestamp(value)) return "timestamp";
      return null;
  }
}

/**
 * Column definitions inferred from rows: bigint → int64, numbers that are all safe integers → int64,
 * other numbers → float64, strings → text, Uint8Array → blob, SqlDate → date, SqlTimestamp → timestamp,
 * all NULL → text. Pass explicit columns when this guess is not what you mean.
 */
export function inferColumns(rows: readonly Row[]): ColumnDef[] {
  const order: string[] = [];
  const kinds = new Map<string, Set<string>>();
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      let set = kinds.get(key);
      if (!set) {
        set = new Set();
        kinds.set(key, set);
        order.push(key);
      }
      const kind = kindOf(row[key] as Value);
      if (kind) set.add(kind);
    }
  }
  return order.map((name) => {
    const set = kinds.get(name) as Set<string>;
    let type: LogicalType;
    if (set.size === 0) type = "text";
    else if ([...set].every((k) => k === "int64" || k === "integer-number")) type = "int64";
    else if ([...set].every((k) => k === "float64" || k === "integer-number")) type = "float64";
    else if (set.size === 1) type = [...set][0] as LogicalType;
    else {
      throw new MdmError(
        ErrorCodes.INVALID_ARGUMENT,
        `Column ${JSON.stringify(name)} mixes values of types ${[...set].join(", ")}; pass explicit columns`,
        { details: { column: name } },
      );
    }
    return { name, type, nullable: true };
  });
}

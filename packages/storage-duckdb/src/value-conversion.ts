import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { ErrorCodes, MdmError, SqlDate, SqlTimestamp, isSqlDate, isSqlTimestamp, plainDecimal, type ColumnDef, type Value } from "@mdm/storage-core";
import { duckdbTypeOf } from "./type-mapping.js";

/**
 * Conversion between the value model of @mdm/storage-core and the raw values of @duckdb/node-api.
 * Reads use the raw value classes (never the `...JS` convenience conversions, which turn DECIMAL
 * into doubles and TIMESTAMP into millisecond Dates): DuckDBTimestampValue.micros,
 * DuckDBDateValue.days, DuckDBDecimalValue.value/scale, bigint for BIGINT/HUGEINT, bytes for BLOB.
 */

export type ValueReader = (raw: DuckDBValue) => Value;
export type ValueWriter = (value: Value) => DuckDBValue;

function unsupported(message: string, details: Record<string, unknown> = {}): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, message, { details });
}

/** `value / 10^scale` as exact decimal text (`-12340n`, 3 → `"-12.340"`). */
export function decimalText(scaled: bigint, scale: number): string {
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString();
  if (scale === 0) return negative ? `-${digits}` : digits;
  const padded = digits.padStart(scale + 1, "0");
  const text = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  return negative ? `-${text}` : text;
}

const DIGITS = /^\d+$/;

/** Decimal text as an integer scaled by 10^scale; refuses digits beyond the scale and NaN/Infinity. */
export function scaledDecimal(text: string, scale: number): bigint {
  // Fast path for the plain text the value model already holds (`-12.340`).
  const minus = text.charCodeAt(0) === 45;
  const dot = text.indexOf(".");
  const whole = text.slice(minus ? 1 : 0, dot < 0 ? text.length : dot);
  const fraction = dot < 0 ? "" : text.slice(dot + 1);
  if (fraction.length <= scale && DIGITS.test(whole) && (fraction === "" || DIGITS.test(fraction))) {
    const scaled = BigInt(whole + fraction.padEnd(scale, "0"));
    return minus ? -scaled : scaled;
  }
  const plain = plainDecimal(text);
  if (plain === "NaN" || plain === "Infinity" || plain === "-Infinity") {
    unsupported(`DuckDB DECIMAL cannot hold ${plain}`);
  }
  const negative = plain.startsWith("-");
  const [intPart = "0", fracPart = ""] = (negative ? plain.slice(1) : plain).split(".");
  if (fracPart.length > scale && /[1-9]/.test(fracPart.slice(scale))) {
    unsupported(`${plain} has more than ${scale} digits after the point`);
  }
  const scaled = BigInt(intPart + fracPart.slice(0, scale).padEnd(scale, "0"));
  return negative ? -scaled : scaled;
}

function integerText(text: string): bigint {
  const plain = plainDecimal(text);
  if (!/^-?\d+$/.test(plain.replace(/\.0*$/, ""))) unsupported(`${plain} is not an integer`);
  return BigInt(plain.replace(/\.0*$/, ""));
}

/** The sentinel day numbers and micros of ±infinity, with the words a message names them by. */
const INFINITE_DAYS = new Map([
  [DuckDBDateValue.PosInf.days, "infinity"],
  [DuckDBDateValue.NegInf.days, "-infinity"],
]);
const INFINITE_MICROS = new Map([
  [DuckDBTimestampValue.PosInf.micros, "infinity"],
  [DuckDBTimestampValue.NegInf.micros, "-infinity"],
  [DuckDBTimestampTZValue.PosInf.micros, "infinity"],
  [DuckDBTimestampTZValue.NegInf.micros, "-infinity"],
]);

/** A DATE's day number in the value model; ±infinity (two sentinel day numbers) has none. */
export function dateOfDays(days: number): SqlDate {
  const infinite = INFINITE_DAYS.get(days);
  if (infinite !== undefined) unsupported(`DuckDB date ${infinite} has no value in the value model`);
  return new SqlDate(days);
}

/** A TIMESTAMP / TIMESTAMPTZ's micros in the value model; ±infinity (two sentinel micros values) has none. */
export function timestampOfMicros(micros: bigint): SqlTimestamp {
  const infinite = INFINITE_MICROS.get(micros);
  if (infinite !== undefined) unsupported(`DuckDB timestamp ${infinite} has no value in the value model`);
  return new SqlTimestamp(micros);
}

/** TIMESTAMP_S / _MS / _NS, whose sentinels are in their own unit. */
function finiteScaled(raw: { isFinite: boolean; toString(): string }, micros: bigint): SqlTimestamp {
  if (!raw.isFinite) unsupported(`DuckDB timestamp ${raw.toString()} has no value in the value model`);
  return new SqlTimestamp(micros);
}

/** How to read a raw value of this DuckDB type into the value model. */
export function readerFor(type: DuckDBType): ValueReader {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.BIGINT:
      return (raw) => raw as Value;
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return (raw) => (raw === null ? null : BigInt(raw as number | bigint));
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return (raw) => (raw === null ? null : (raw as bigint).toString());
    case DuckDBTypeId.DECIMAL:
      return (raw) => (raw === null ? null : decimalText((raw as DuckDBDecimalValue).value, (raw as DuckDBDecimalValue).scale));
    case DuckDBTypeId.VARCHAR:
      return (raw) => raw as string | null;
    case DuckDBTypeId.BLOB:
      return (raw) => (raw === null ? null : new Uint8Array((raw as DuckDBBlobValue).bytes));
    case DuckDBTypeId.DATE:
      return (raw) => (raw === null ? null : dateOfDays((raw as DuckDBDateValue).days));
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return (raw) => (raw === null ? null : timestampOfMicros((raw as DuckDBTimestampValue).micros));
    case DuckDBTypeId.TIMESTAMP_S:
      return (raw) => (raw === null ? null : finiteScaled(raw as DuckDBTimestampSecondsValue, (raw as DuckDBTimestampSecondsValue).seconds * 1_000_000n));
    case DuckDBTypeId.TIMESTAMP_MS:
      return (raw) => (raw === null ? null : finiteScaled(raw as DuckDBTimestampMillisecondsValue, (raw as DuckDBTimestampMillisecondsValue).millis * 1000n));
    case DuckDBTypeId.TIMESTAMP_NS:
      return (raw) => {
        if (raw === null) return null;
        const nanos = (raw as DuckDBTimestampNanosecondsValue).nanos;
        if (nanos % 1000n !== 0n) unsupported(`DuckDB TIMESTAMP_NS ${String(raw)} has sub-microsecond digits`);
        return finiteScaled(raw as DuckDBTimestampNanosecondsValue, nanos / 1000n);
      };
    default:
      return (raw) => (raw === null ? null : String(raw));
  }
}

const INT_RANGES: Partial<Record<DuckDBTypeId, [bigint, bigint]>> = {
  [DuckDBTypeId.TINYINT]: [-128n, 127n],
  [DuckDBTypeId.SMALLINT]: [-32768n, 32767n],
  [DuckDBTypeId.INTEGER]: [-2147483648n, 2147483647n],
  [DuckDBTypeId.UTINYINT]: [0n, 255n],
  [DuckDBTypeId.USMALLINT]: [0n, 65535n],
  [DuckDBTypeId.UINTEGER]: [0n, 4294967295n],
  [DuckDBTypeId.UBIGINT]: [0n, 2n ** 64n - 1n],
  [DuckDBTypeId.HUGEINT]: [-(2n ** 127n), 2n ** 127n - 1n],
  [DuckDBTypeId.UHUGEINT]: [0n, 2n ** 128n - 1n],
};

function asBigint(value: Value): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string") return integerText(value);
  if (typeof value === "boolean") return value ? 1n : 0n;
  return unsupported(`${String(value)} is not an integer`);
}

function micros(value: Value): bigint {
  if (isSqlTimestamp(value)) return value.micros;
  return unsupported(`expected a timestamp, got ${String(value)}`);
}

/**
 * How to turn a value-model value into a raw value of this DuckDB type (the type of a table column
 * or of a data-chunk vector). Values that do not fit exactly are refused with MDM_UNSUPPORTED_VALUE.
 */
export function writerFor(type: DuckDBType): ValueWriter {
  const id = type.typeId;
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.VARCHAR:
      return (v) => v as DuckDBValue;
    case DuckDBTypeId.DOUBLE:
      return (v) => (v === null ? null : typeof v === "number" ? v : Number(v as string));
    case DuckDBTypeId.FLOAT:
      return (v) => {
        if (v === null) return null;
        const n = typeof v === "number" ? v : Number(v as string);
        if (!Number.isNaN(n) && Math.fround(n) !== n) unsupported(`${n} has no exact FLOAT (32-bit) value`);
        return n;
      };
    case DuckDBTypeId.BIGINT:
      return (v) => (v === null || typeof v === "bigint" ? v : asBigint(v));
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT: {
      const [min, max] = INT_RANGES[id] as [bigint, bigint];
      const asNumber = id !== DuckDBTypeId.UBIGINT && id !== DuckDBTypeId.HUGEINT && id !== DuckDBTypeId.UHUGEINT;
      return (v) => {
        if (v === null) return null;
        const n = asBigint(v);
        if (n < min || n > max) unsupported(`${n} does not fit DuckDB ${type.toString()}`);
        return asNumber ? Number(n) : n;
      };
    }
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as DuckDBType & { width: number; scale: number };
      const limit = 10n ** BigInt(width);
      return (v) => {
        if (v === null) return null;
        const scaled = typeof v === "bigint" ? v * 10n ** BigInt(scale) : scaledDecimal(typeof v === "string" ? v : String(v), scale);
        if (scaled >= limit || scaled <= -limit) unsupported(`${String(v)} does not fit DECIMAL(${width},${scale})`);
        return new DuckDBDecimalValue(scaled, width, scale);
      };
    }
    case DuckDBTypeId.BLOB:
      return (v) => {
        if (v === null) return null;
        if (v instanceof Uint8Array) return new DuckDBBlobValue(v);
        return unsupported("expected bytes for a BLOB");
      };
    case DuckDBTypeId.DATE:
      return (v) => {
        if (v === null) return null;
        if (isSqlDate(v)) return new DuckDBDateValue(v.days);
        return unsupported(`expected a date, got ${String(v)}`);
      };
    case DuckDBTypeId.TIMESTAMP:
      return (v) => (v === null ? null : new DuckDBTimestampValue(micros(v)));
    case DuckDBTypeId.TIMESTAMP_TZ:
      return (v) => (v === null ? null : new DuckDBTimestampTZValue(micros(v)));
    case DuckDBTypeId.TIMESTAMP_MS:
      return (v) => {
        if (v === null) return null;
        const us = micros(v);
        if (us % 1000n !== 0n) unsupported(`${String(v)} has microseconds; the column is TIMESTAMP_MS`);
        return new DuckDBTimestampMillisecondsValue(us / 1000n);
      };
    case DuckDBTypeId.TIMESTAMP_S:
      return (v) => {
        if (v === null) return null;
        const us = micros(v);
        if (us % 1_000_000n !== 0n) unsupported(`${String(v)} has fractional seconds; the column is TIMESTAMP_S`);
        return new DuckDBTimestampSecondsValue(us / 1_000_000n);
      };
    case DuckDBTypeId.TIMESTAMP_NS:
      return (v) => (v === null ? null : new DuckDBTimestampNanosecondsValue(micros(v) * 1000n));
    default:
      throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Writing DuckDB ${type.toString()} columns is not supported; read them as text or cast them`);
  }
}

/** A query parameter with its DuckDB type: typed by its column when known, else by its JS shape. */
export function parameterOf(value: Value, column?: ColumnDef): { value: DuckDBValue; type: DuckDBType | undefined } {
  if (value === null) return { value: null, type: undefined };
  if (column) {
    try {
      const type = duckdbTypeOf(column);
      return { value: writerFor(type)(value), type };
    } catch {
      // a decimal column without a DuckDB width: bind by shape below
    }
  }
  if (isSqlTimestamp(value)) return { value: new DuckDBTimestampValue(value.micros), type: undefined };
  if (isSqlDate(value)) return { value: new DuckDBDateValue(value.days), type: undefined };
  if (value instanceof Uint8Array) return { value: new DuckDBBlobValue(value), type: undefined };
  return { value: value as DuckDBValue, type: undefined };
}

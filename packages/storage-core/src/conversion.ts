import { ErrorCodes, MdmError } from "./errors.js";
import { compileDateFormat, type DateFormat } from "./date-format.js";
import { LOGICAL_TYPES, type ColumnDef, type LogicalType, type Value } from "./types.js";
import { SqlDate, SqlTimestamp, columnNormalizer, decimalFromNumber, canonicalDecimal, formatValue } from "./values.js";

/**
 * Column types the user chooses (`mdm dataset register --dtype`, `--parse-dates`; `mdm migrate --cast`):
 * the conversions from a column's values to another logical type that change no value's meaning. Each
 * value is checked; one that does not convert is a `ConversionFailure`, never a guess.
 *
 * | from | to | a value converts when |
 * |---|---|---|
 * | text | int64 | it is an integer within 64 bits (`+`, leading zeros and surrounding spaces allowed) |
 * | text | float64 | it is a decimal number (nearest double) or NaN, Infinity, -Infinity, inf, -inf |
 * | text | decimal(p,s) | it is a decimal number that fits, without rounding |
 * | text | boolean | it is true/false, t/f, yes/no, y/n or 1/0, in any case |
 * | text | date | it is YYYY-MM-DD (or matches the date format, with no time of day but midnight) |
 * | text | timestamp | it is YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]] without an offset, or YYYY-MM-DD (midnight), or matches the format |
 * | text | timestamptz | the same with `Z` or an offset (or matches a format with `%z`); stored as the UTC instant |
 * | text | json | it is valid JSON (stored as it is) |
 * | int64 | boolean | it is 0 or 1 |
 * | int64 | float64 | a double holds it exactly (within ±2^53, or a multiple that a double holds) |
 * | int64 | decimal | it fits the precision |
 * | float64 | int64 | it is a whole number within 64 bits |
 * | float64 | decimal | it is finite (its shortest decimal text) and fits |
 * | decimal | int64 | it is a whole number within 64 bits |
 * | decimal | float64 | a double gives back the same number |
 * | boolean | int64 | always (false 0, true 1) |
 * | date | timestamp | always (midnight) |
 * | timestamp | date | it is midnight |
 * | any but blob | text | always (the value's canonical text: `1.5`, `2024-01-05`, `2024-01-05 10:00:00.000000`) |
 *
 * Any other pair is refused when the conversion is asked for (`MDM_INVALID_ARGUMENT`), before a value is read.
 */

/** The names a type is given by (pandas' and SQL's words as well as ours), to the logical type. */
const TYPE_ALIASES: Record<string, LogicalType> = {
  int: "int64",
  integer: "int64",
  bigint: "int64",
  float: "float64",
  double: "float64",
  real: "float64",
  bool: "boolean",
  str: "text",
  string: "text",
  varchar: "text",
  datetime: "timestamp",
  numeric: "decimal",
};

/** A type the user names: `int64`, `decimal(12,2)`, `timestamp`, or an alias (`int`, `float`, `bool`, `str`, `datetime`). */
export function parseColumnType(text: string): Pick<ColumnDef, "type" | "precision" | "scale"> {
  const m = /^\s*([A-Za-z0-9_]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$/.exec(text);
  const word = m?.[1]?.toLowerCase();
  const type = word === undefined ? undefined : ((LOGICAL_TYPES as readonly string[]).includes(word) ? (word as LogicalType) : TYPE_ALIASES[word]);
  if (!m || type === undefined) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Unknown column type ${JSON.stringify(text)}: use one of ${LOGICAL_TYPES.join(", ")} (decimal(p,s) with digits)`);
  }
  if (m[2] !== undefined && type !== "decimal") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Column type ${JSON.stringify(text)}: only decimal takes (precision, scale)`);
  if (type !== "decimal" || m[2] === undefined) return { type };
  const precision = Number(m[2]);
  const scale = Number(m[3] ?? 0);
  if (precision < 1 || precision > 38 || scale > precision) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Column type ${JSON.stringify(text)}: precision 1..38 and scale at most the precision`);
  return { type, precision, scale };
}

/** The text of a column type (`decimal(12,2)`, `int64`). */
export function columnTypeText(column: Pick<ColumnDef, "type" | "precision" | "scale">): string {
  return column.type === "decimal" && column.precision !== undefined ? `decimal(${column.precision},${column.scale ?? 0})` : column.type;
}

/** A value that does not convert to the chosen type: `convert` throws it, the caller names the row. */
export class ConversionFailure extends MdmError {
  /** What is wrong with it, after the value (`is not a timestamp (it has an offset; choose timestamptz)`). */
  readonly what: string;

  constructor(
    readonly value: Value,
    readonly to: string,
    reason?: string,
  ) {
    const what = `is not ${article(to)}${reason ? ` (${reason})` : ""}`;
    super(ErrorCodes.UNSUPPORTED_VALUE, `${formatValue(value)} ${what}`, { details: { to } });
    this.what = what;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const INT_TEXT = /^\s*[+-]?\d+\s*$/;
const NUMBER_TEXT = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const FLOAT_WORDS: ReadonlyMap<string, number> = new Map([
  ["nan", NaN],
  ["infinity", Infinity],
  ["+infinity", Infinity],
  ["-infinity", -Infinity],
  ["inf", Infinity],
  ["+inf", Infinity],
  ["-inf", -Infinity],
]);
const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ["true", true],
  ["false", false],
  ["t", true],
  ["f", false],
  ["yes", true],
  ["no", false],
  ["y", true],
  ["n", false],
  ["1", true],
  ["0", false],
]);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function int64Of(n: bigint, value: Value, to: string): bigint {
  if (n < INT64_MIN || n > INT64_MAX) throw new ConversionFailure(value, to, "beyond 64 bits");
  return n;
}

export type ValueConverter = (value: Value) => Value;

export interface ConversionOptions {
  /** A date format (Python `strptime` directives, see `date-format.ts`) for text to date, timestamp or timestamptz. */
  dateFormat?: string;
}

/**
 * The function that converts a value of `from` to `to` (NULL stays NULL), throwing `ConversionFailure` for a
 * value that does not convert; refuses (MDM_INVALID_ARGUMENT) a pair of types that has no exact conversion.
 */
export function valueConverter(from: Pick<ColumnDef, "type" | "precision" | "scale">, to: ColumnDef, options: ConversionOptions = {}): ValueConverter {
  const target = columnTypeText(to);
  const fit = columnNormalizer(to);
  /** The value as `to` holds it (a decimal's precision, a text's well-formedness), or a failure. */
  const checked = (v: Value, original: Value): Value => {
    try {
      return fit(v);
    } catch (error) {
      throw new ConversionFailure(original, target, (error as Error).message.replace(/^Column "[^"]*" \([^)]*\): /, ""));
    }
  };
  const none = (): never => {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `No exact conversion from ${columnTypeText(from)} to ${target}`, { details: { from: from.type, to: to.type } });
  };
  const format = options.dateFormat === undefined ? undefined : compileDateFormat(options.dateFormat);
  if (format && from.type === "text" && !["date", "timestamp", "timestamptz"].includes(to.type)) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `A date format applies to date, timestamp and timestamptz columns, not ${target}`);
  }
  const convert = ((): ((v: Value) => Value) => {
    if (from.type === to.type) return (v) => checked(v, v);
    if (to.type === "text") {
      if (from.type === "blob") return none();
      if (from.type === "timestamptz") return (v) => `${String(v)}+00:00`;
      return (v) => (typeof v === "number" ? decimalTextOfNumber(v) : String(v));
    }
    switch (from.type) {
      case "text":
        return fromText(to, target, checked, format);
      case "int64":
        if (to.type === "boolean") return (v) => (v === 0n || v === 1n ? v === 1n : fail(v, target, "only 0 and 1 are booleans"));
        if (to.type === "float64") return (v) => (BigInt(Number(v)) === v ? Number(v) : fail(v, target, "a double does not hold it exactly"));
        if (to.type === "decimal") return (v) => checked(String(v), v);
        return none();
      case "float64":
        if (to.type === "int64") return (v) => (Number.isInteger(v) ? int64Of(BigInt(v as number), v, target) : fail(v, target, "not a whole number"));
        if (to.type === "decimal") return (v) => (Number.isFinite(v) ? checked(decimalFromNumber(v as number), v) : fail(v, target));
        return none();
      case "decimal":
        if (to.type === "int64") {
          return (v) => {
            const text = canonicalDecimal(v as string);
            return /^-?\d+$/.test(text) ? int64Of(BigInt(text), v, target) : fail(v, target, "not a whole number");
          };
        }
        if (to.type === "float64") {
          return (v) => {
            const n = Number(v);
            return Number.isFinite(n) && canonicalDecimal(decimalFromNumber(n)) === canonicalDecimal(v as string) ? n : fail(v, target, "a double does not give back the same number");
          };
        }
        return none();
      case "boolean":
        return to.type === "int64" ? (v) => (v ? 1n : 0n) : none();
      case "date":
        return to.type === "timestamp" ? (v) => new SqlTimestamp(BigInt((v as SqlDate).days) * 86_400_000_000n) : none();
      case "timestamp":
        if (to.type === "date") return (v) => midnightDate(v as SqlTimestamp) ?? fail(v, target, "it has a time of day");
        return none();
      default:
        return none();
    }
  })();
  return (v) => (v === null ? null : convert(v));
}

function fail(value: Value, to: string, reason?: string): never {
  throw new ConversionFailure(value, to, reason);
}

/** A double's text as a value's canonical text (`1.5`, `NaN`, `-0`). */
function decimalTextOfNumber(n: number): string {
  return Object.is(n, -0) ? "-0" : Number.isFinite(n) ? decimalFromNumber(n) : String(n);
}

function midnightDate(t: SqlTimestamp): SqlDate | undefined {
  const { days, microsOfDay } = t.split();
  return microsOfDay === 0n ? new SqlDate(days) : undefined;
}

function fromText(to: ColumnDef, target: string, checked: (v: Value, original: Value) => Value, format: DateFormat | undefined): (v: Value) => Value {
  switch (to.type) {
    case "int64":
      return (v) => (INT_TEXT.test(v as string) ? int64Of(BigInt((v as string).trim()), v, target) : fail(v, target));
    case "float64":
      return (v) => {
        const s = (v as string).trim();
        const word = FLOAT_WORDS.get(s.toLowerCase());
        if (word !== undefined) return word;
        return NUMBER_TEXT.test(s) ? Number(s) : fail(v, target);
      };
    case "decimal":
      return (v) => (NUMBER_TEXT.test(v as string) ? checked((v as string).trim(), v) : fail(v, target));
    case "boolean":
      return (v) => BOOLEAN_WORDS.get((v as string).trim().toLowerCase()) ?? fail(v, target);
    case "json":
      return (v) => {
        try {
          JSON.parse(v as string);
        } catch {
          return fail(v, target, "not valid JSON");
        }
        return checked(v, v);
      };
    case "date":
    case "timestamp":
    case "timestamptz":
      return temporalFromText(to.type, target, format);
    default:
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `No exact conversion from text to ${target}`);
  }
}

function temporalFromText(type: "date" | "timestamp" | "timestamptz", target: string, format: DateFormat | undefined): (v: Value) => Value {
  if (format) {
    if (type === "timestamptz" && !format.hasOffset) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Date format ${JSON.stringify(format.format)} has no offset (%z): its texts are no instants for a timestamptz column`);
    if (type !== "timestamptz" && format.hasOffset) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Date format ${JSON.stringify(format.format)} has an offset (%z): choose timestamptz`);
    return (v) => {
      const t = format.parse(v as string) ?? fail(v, target, `it does not match ${JSON.stringify(format.format)}`);
      return type === "date" ? (midnightDate(t) ?? fail(v, target, "it has a time of day")) : t;
    };
  }
  if (type === "date") return (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v as string) ? parsedOr(() => SqlDate.parse(v as string), v, target) : fail(v, target, "not YYYY-MM-DD; pass a date format"));
  const offset = /(?:Z|z|[+-]\d{2}(?::?\d{2})?)$/;
  return (v) => {
    const s = (v as string).trim();
    // A date alone is its midnight (a wall clock: a timestamp, not an instant).
    if (type === "timestamp" && /^\d{4}-\d{2}-\d{2}$/.test(s)) return parsedOr(() => SqlTimestamp.parse(s), v, target);
    const shaped = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s) && /[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$/.test(s);
    if (!shaped) return fail(v, target, `not YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]${type === "timestamptz" ? " with an offset" : ""}; pass a date format`);
    const hasOffset = offset.test(s.slice(16));
    if (hasOffset !== (type === "timestamptz")) return fail(v, target, hasOffset ? "it has an offset; choose timestamptz" : "it has no offset; a timestamptz text needs Z or ±HH:MM");
    return parsedOr(() => SqlTimestamp.parse(s), v, target);
  };
}

function parsedOr<T>(parse: () => T, v: Value, target: string): T {
  try {
    return parse();
  } catch (error) {
    return fail(v, target, (error as Error).message);
  }
}

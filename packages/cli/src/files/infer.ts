import {
  ErrorCodes,
  MdmError,
  SqlDate,
  SqlTimestamp,
  canonicalDecimal,
  decimalFromNumber,
  type ColumnDef,
  type LogicalType,
  type Value,
} from "@mdm/storage-core";

/**
 * Type inference over text fields (CSV, TSV) that loses nothing: a column gets a type only when every
 * non-NULL value in the whole file is that type's canonical text. NULL is an empty field (a quoted empty
 * field is an empty string). In order of preference:
 *
 * - int64: canonical integers without leading zeros or `+`, within 64 bits (`00123` stays text);
 * - float64: decimal numbers whose double reads back as the same number (no leading zeros), plus
 *   `NaN`, `Infinity`, `-Infinity`, `inf`, `-inf`;
 * - boolean: true/false (also True/False, TRUE/FALSE);
 * - date: `YYYY-MM-DD`;
 * - timestamp: `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]`;
 * - timestamptz: the same with `Z` or an offset on every value (stored as the UTC instant);
 * - text: everything else, and columns with no value at all.
 */
/**
 * The shapes of the text types, as regular-expression sources that JavaScript and DuckDB (RE2) read the
 * same way: registration runs the same rules as SQL (`inference-sql.ts`) over the whole file.
 */
export const TEXT_PATTERNS = {
  int: "^(?:0|-?[1-9]\\d*)$",
  float: "^-?(?:(?:0|[1-9]\\d*)(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?$",
  shortFloat: "^-?(?:(?:0|[1-9]\\d*)(?:\\.\\d*)?|\\.\\d+)$",
  date: "^\\d{4}-\\d{2}-\\d{2}$",
  timestamp: "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,6})?)?$",
  timestamptz: "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,6})?)?(?:Z|[+-]\\d{2}(?::?\\d{2})?)$",
} as const;
/** Decimal texts of at most this many significant digits (and no exponent) survive a trip through a double. */
export const SAFE_FLOAT_DIGITS = 15;
const INT_RE = new RegExp(TEXT_PATTERNS.int);
const FLOAT_RE = new RegExp(TEXT_PATTERNS.float);
const SHORT_FLOAT_RE = new RegExp(TEXT_PATTERNS.shortFloat);
const DATE_RE = new RegExp(TEXT_PATTERNS.date);
const TIMESTAMP_RE = new RegExp(TEXT_PATTERNS.timestamp);
const TIMESTAMPTZ_RE = new RegExp(TEXT_PATTERNS.timestamptz);
/** The float texts that are not numbers (a Map: `"constructor" in {}` is true). */
export const FLOAT_SPECIAL: ReadonlyMap<string, number> = new Map([
  ["NaN", NaN],
  ["nan", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["inf", Infinity],
  ["-inf", -Infinity],
]);
export const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ["true", true],
  ["false", false],
  ["True", true],
  ["False", false],
  ["TRUE", true],
  ["FALSE", false],
]);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export function isCanonicalInt64(s: string): boolean {
  if (!INT_RE.test(s)) return false;
  if (s.length < 19) return true;
  const n = BigInt(s);
  return n <= INT64_MAX && n >= INT64_MIN;
}

/** The text denotes a number that a double holds and gives back (shortest form, same numeric value). */
export function isLosslessFloat(s: string): boolean {
  if (FLOAT_SPECIAL.has(s)) return true;
  if (!FLOAT_RE.test(s)) return false;
  if (SHORT_FLOAT_RE.test(s) && s.length - (s.startsWith("-") ? 1 : 0) - (s.includes(".") ? 1 : 0) <= SAFE_FLOAT_DIGITS) return true;
  const n = Number(s);
  if (!Number.isFinite(n)) return false;
  try {
    return canonicalDecimal(s) === canonicalDecimal(decimalFromNumber(n));
  } catch {
    return false;
  }
}

function validDate(s: string): boolean {
  try {
    SqlDate.parse(s);
    return true;
  } catch {
    return false;
  }
}

function validTimestamp(s: string): boolean {
  try {
    SqlTimestamp.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Rows whose values decide which candidate types the scan of the whole file still checks (read by DuckDB,
 * judged by these rules in JavaScript: as SQL, the rules cost more to plan than these rows to check).
 * One DuckDB vector: 2,048 rows of the CSV bench file are read in 20-35 ms, 4,096 in 190-230 ms (the reader then
 * starts on the whole file).
 */
export const SAMPLE_ROWS = 2048;

/** Bits of the candidate types (shared with `inference-sql.ts`). */
export const CANDIDATE = { int64: 1, float64: 2, boolean: 4, date: 8, timestamp: 16, timestamptz: 32 } as const;
const { int64: INT, float64: FLOAT, boolean: BOOL, date: DATE, timestamp: TS, timestamptz: TSTZ } = CANDIDATE;
/** Every candidate type: what a column may still be before any of its values is seen. */
export const ALL_CANDIDATES = INT | FLOAT | BOOL | DATE | TS | TSTZ;

/** The types whose canonical text `value` is, as bits (the same bits as `inference-sql.ts` computes). */
export function candidatesOf(value: string): number {
  let c = 0;
  if (isCanonicalInt64(value)) c |= INT;
  if (isLosslessFloat(value)) c |= FLOAT;
  if (BOOLEANS.has(value)) c |= BOOL;
  if (DATE_RE.test(value) && validDate(value)) c |= DATE;
  if (TIMESTAMP_RE.test(value) && validTimestamp(value)) c |= TS;
  if (TIMESTAMPTZ_RE.test(value) && validTimestamp(value)) c |= TSTZ;
  return c;
}

/** A column's type from the candidate bits common to its values and its count of non-NULL values, in order of preference. */
export function typeOfCandidates(bits: number, nonNull: number): LogicalType {
  if (nonNull === 0) return "text";
  if (bits & INT) return "int64";
  if (bits & FLOAT) return "float64";
  if (bits & BOOL) return "boolean";
  if (bits & DATE) return "date";
  if (bits & TS) return "timestamp";
  if (bits & TSTZ) return "timestamptz";
  return "text";
}

/** Per-column inference state, fed every field of the column once. */
export class ColumnInference {
  private bits = ALL_CANDIDATES;
  nonNull = 0;
  private readonly distinct: Set<string> | undefined;
  private distinctOverflow = false;

  /** `trackDistinct`: remember up to that many distinct values (for the target column's problem type). */
  constructor(
    readonly name: string,
    private readonly trackDistinct = 0,
  ) {
    this.distinct = trackDistinct > 0 ? new Set() : undefined;
  }

  add(value: string | null): void {
    if (value === null) return;
    this.nonNull++;
    if (this.distinct && !this.distinctOverflow) {
      this.distinct.add(value);
      if (this.distinct.size > this.trackDistinct) this.distinctOverflow = true;
    }
    if (this.bits !== 0) this.bits &= candidatesOf(value);
  }

  /** The candidate types common to every value added so far (all of them while there is none). */
  get candidates(): number {
    return this.bits;
  }

  get type(): LogicalType {
    return typeOfCandidates(this.bits, this.nonNull);
  }

  /** Distinct non-NULL values seen (undefined when more than the tracked limit). */
  get distinctCount(): number | undefined {
    return this.distinct && !this.distinctOverflow ? this.distinct.size : undefined;
  }

  column(): ColumnDef {
    return { name: this.name, type: this.type, nullable: true };
  }
}

export type FieldConverter = (text: string) => Value;

/** The function that turns a field's text into the value of the inferred type (NULL handled by the caller). */
export function fieldConverter(column: ColumnDef): FieldConverter {
  switch (column.type) {
    case "int64":
      return (s) => BigInt(s);
    case "float64":
      return (s) => FLOAT_SPECIAL.get(s) ?? Number(s);
    case "boolean":
      return (s) => BOOLEANS.get(s) as boolean;
    case "date":
      return (s) => SqlDate.parse(s);
    case "timestamp":
    case "timestamptz":
      return (s) => SqlTimestamp.parse(s);
    case "text":
      return (s) => s;
    default:
      throw new MdmError(ErrorCodes.INTERNAL, `No text converter for ${column.type}`);
  }
}

/** The problem type Python MDM would record for a target column, from its type and distinct values. */
export function problemTypeOf(column: { type: LogicalType; distinctCount?: number }): string {
  const distinct = column.distinctCount;
  if (distinct === 2) return "binary_classification";
  if (column.type === "float64" || column.type === "decimal") return "regression";
  if (distinct !== undefined && distinct <= 20) return "multiclass_classification";
  return column.type === "int64" ? "regression" : "multiclass_classification";
}

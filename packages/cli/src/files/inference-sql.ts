import { quoteIdentifier, quoteLiteral, type LogicalType } from "@mdm/storage-core";
import { ALL_CANDIDATES, BOOLEANS, CANDIDATE, FLOAT_SPECIAL, SAFE_FLOAT_DIGITS, TEXT_PATTERNS, typeOfCandidates } from "./infer.js";

/**
 * The inference rules of `infer.ts` as DuckDB SQL, so that the engine checks every value of a file in one
 * scan. The shapes are the same regular-expression sources; what a regex cannot say (a valid calendar day,
 * a double that gives its text back) is a macro here, checked against the JavaScript rules by a test.
 */

const list = (values: Iterable<string>) => [...values].map(quoteLiteral).join(", ");
const re = (source: string) => quoteLiteral(source);

/** Macros the inference and the casts use (created once per scan engine). */
export const INFERENCE_MACROS: readonly string[] = [
  // A decimal text as sign, significant digits and exponent ("-12.50e1" -> "-125e0"); zero is "0".
  `CREATE MACRO mdm_canon_of(neg, digits, exp) AS CASE WHEN rtrim(digits, '0') = '' THEN '0'
     ELSE neg || rtrim(digits, '0') || 'e' || CAST(exp + length(digits) - length(rtrim(digits, '0')) AS VARCHAR) END`,
  `CREATE MACRO mdm_canon_parts(p) AS mdm_canon_of(p.neg, ltrim(p.i || p.f, '0'), COALESCE(TRY_CAST(NULLIF(p.e, '') AS BIGINT), 0) - length(p.f))`,
  `CREATE MACRO mdm_canon(s) AS mdm_canon_parts(regexp_extract(s, '^(-?)(\\d*)\\.?(\\d*)(?:[eE]([+-]?\\d+))?$', ['neg', 'i', 'f', 'e']))`,
  // A double holds the text's number and gives it back: its shortest text denotes the same number. Most
  // such texts are that shortest text already, a comparison that spares the canonical forms.
  // (A CASE, not OR: DuckDB evaluates both sides of an OR on every row.)
  `CREATE MACRO mdm_float_text_ok(s, shortest) AS CASE WHEN shortest = s THEN true
     WHEN shortest IS NULL OR shortest IN ('inf', '-inf', 'nan', 'Infinity', '-Infinity', 'NaN') THEN false
     ELSE mdm_canon(s) = mdm_canon(shortest) END`,
  `CREATE MACRO mdm_float_ok(s) AS mdm_float_text_ok(s, CAST(TRY_CAST(s AS DOUBLE) AS VARCHAR))`,
  // A calendar day (the proleptic Gregorian calendar), from the fixed positions of YYYY-MM-DD.
  `CREATE MACRO mdm_day_ok(y, m, d) AS m BETWEEN 1 AND 12 AND d BETWEEN 1 AND CASE
     WHEN m = 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
     WHEN m IN (4, 6, 9, 11) THEN 30 ELSE 31 END`,
  `CREATE MACRO mdm_date_ok(s) AS mdm_day_ok(TRY_CAST(s[1:4] AS INTEGER), TRY_CAST(s[6:7] AS INTEGER), TRY_CAST(s[9:10] AS INTEGER))`,
  // A valid day and time of day (HH <= 23, MM <= 59, SS <= 59) of YYYY-MM-DD[T ]HH:MM[:SS...].
  `CREATE MACRO mdm_clock_ok(s) AS mdm_date_ok(s) AND TRY_CAST(s[12:13] AS INTEGER) <= 23 AND TRY_CAST(s[15:16] AS INTEGER) <= 59
     AND (s[17:17] <> ':' OR TRY_CAST(s[18:19] AS INTEGER) <= 59)`,
  // The text s is DuckDB's text r of its TIMESTAMP, but for trailing zeros of the fraction DuckDB leaves
  // out (at most six fraction digits: s is at most 26 characters with its four-digit year).
  `CREATE MACRO mdm_ts_text_ok(s, r) AS s = r OR (starts_with(s, r) AND length(s) <= 26 AND CASE
     WHEN contains(r[20:], '.') THEN rtrim(s[length(r) + 1:], '0') = ''
     ELSE s[length(r) + 1:length(r) + 1] = '.' AND length(s) - length(r) >= 2 AND rtrim(s[length(r) + 2:], '0') = '' END)`,
  // The offset of a timestamptz text in minutes east of UTC ("Z" is 0), NULL when out of range.
  `CREATE MACRO mdm_offset_parts(o) AS CASE WHEN o = 'Z' THEN 0
     WHEN TRY_CAST(o[2:3] AS INTEGER) <= 23 AND COALESCE(TRY_CAST(NULLIF(replace(o[4:], ':', ''), '') AS INTEGER), 0) <= 59
     THEN (CASE WHEN o[1:1] = '-' THEN -1 ELSE 1 END) * (TRY_CAST(o[2:3] AS INTEGER) * 60 + COALESCE(TRY_CAST(NULLIF(replace(o[4:], ':', ''), '') AS INTEGER), 0))
     END`,
  `CREATE MACRO mdm_offset(s) AS regexp_extract(s, '(Z|[+-]\\d{2}(?::?\\d{2})?)$')`,
  `CREATE MACRO mdm_offset_minutes(s) AS mdm_offset_parts(mdm_offset(s))`,
  // The UTC instant of a timestamptz text: the wall clock before the offset, less the offset.
  `CREATE MACRO mdm_tstz(s) AS CAST(CAST(s[1:length(s) - length(mdm_offset(s))] AS TIMESTAMP) - to_minutes(mdm_offset_minutes(s)) AS TIMESTAMPTZ)`,
];

const { int64: INT, float64: FLOAT, boolean: BOOL, date: DATE, timestamp: TS, timestamptz: TSTZ } = CANDIDATE;

/**
 * The candidate bits of one value within `allowed`, SQL over the VARCHAR expression `v`: `candidatesOf(v) &
 * allowed` in JavaScript. A column whose sample left it `allowed` needs only those checks over the rest of
 * the file (a text column none at all).
 *
 * The first branches are shortcuts for the texts files mostly hold, each a cast and a comparison: a text
 * that is exactly DuckDB's own text of its BIGINT, DOUBLE, DATE or TIMESTAMP is that type's canonical
 * text by the rules below (DuckDB writes integers without `+` or leading zeros, doubles in their shortest
 * form, days and times as YYYY-MM-DD HH:MM:SS[.ffffff] with valid fields; a timestamp may add trailing
 * zeros to DuckDB's fraction). What they do not catch goes on to the rules themselves, which decide alone.
 * The branches exclude one another: a text that matches the number shapes matches no date, boolean or
 * special float, and so on.
 */
export function candidateBits(v: string, allowed: number = ALL_CANDIDATES): string {
  const has = (bit: number) => (allowed & bit) !== 0;
  if ((allowed & ALL_CANDIDATES) === 0) return "0";
  const branches: string[] = [];
  const unsigned = `length(${v}) - CAST(${v}[1:1] = '-' AS INTEGER)`;
  const digits = `${unsigned} - CAST(contains(${v}, '.') AS INTEGER)`;
  // Shortcuts.
  if (has(INT)) {
    const float = has(FLOAT) ? `CASE WHEN ${unsigned} <= ${SAFE_FLOAT_DIGITS} THEN ${FLOAT} WHEN mdm_float_ok(${v}) THEN ${FLOAT} ELSE 0 END` : "0";
    branches.push(`WHEN CAST(TRY_CAST(${v} AS BIGINT) AS VARCHAR) = ${v} THEN ${INT} | ${float}`);
  }
  if (has(FLOAT)) branches.push(`WHEN CAST(TRY_CAST(${v} AS DOUBLE) AS VARCHAR) = ${v} THEN ${FLOAT}`);
  if (has(DATE)) branches.push(`WHEN length(${v}) = 10 AND CAST(TRY_CAST(${v} AS DATE) AS VARCHAR) = ${v} THEN ${DATE}`);
  // (Position 5 is '-' only for a four-digit year; 14 is ':' only without DuckDB's " (BC)".)
  if (has(TS)) branches.push(`WHEN ${v}[5:5] = '-' AND ${v}[14:14] = ':' AND mdm_ts_text_ok(${v}, CAST(TRY_CAST(${v} AS TIMESTAMP) AS VARCHAR)) THEN ${TS}`);
  // The rules.
  if (has(INT | FLOAT)) {
    const float = has(FLOAT) ? `CASE WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.shortFloat)}) AND ${digits} <= ${SAFE_FLOAT_DIGITS} THEN ${FLOAT} WHEN mdm_float_ok(${v}) THEN ${FLOAT} ELSE 0 END` : "0";
    const int = has(INT) ? `CASE WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.int)}) AND TRY_CAST(${v} AS BIGINT) IS NOT NULL THEN ${INT} ELSE 0 END` : "0";
    branches.push(`WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.float)}) THEN ${int} | ${float}`);
  }
  if (has(FLOAT)) branches.push(`WHEN ${v} IN (${list(FLOAT_SPECIAL.keys())}) THEN ${FLOAT}`);
  if (has(BOOL)) branches.push(`WHEN ${v} IN (${list(BOOLEANS.keys())}) THEN ${BOOL}`);
  if (has(DATE)) branches.push(`WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.date)}) THEN CASE WHEN mdm_date_ok(${v}) THEN ${DATE} ELSE 0 END`);
  if (has(TS)) branches.push(`WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.timestamp)}) THEN CASE WHEN mdm_clock_ok(${v}) THEN ${TS} ELSE 0 END`);
  if (has(TSTZ)) {
    branches.push(`WHEN regexp_full_match(${v}, ${re(TEXT_PATTERNS.timestamptz)}) THEN CASE WHEN mdm_clock_ok(${v}) AND mdm_offset_minutes(${v}) IS NOT NULL THEN ${TSTZ} ELSE 0 END`);
  }
  return `CASE\n    ${branches.join("\n    ")}\n    ELSE 0 END`;
}

/**
 * One aggregate over `from` giving, per column (VARCHAR), the count of non-NULL values, the candidate
 * bits common to all of them (within `allowed[i]`, what a sample left the column) and the approximate
 * count of distinct texts (`approx_count_distinct`, for `_columns`); for `distinctOf` also the exact count
 * of distinct texts (the target's problem type).
 */
export function inferenceQuery(from: string, columns: readonly string[], distinctOf?: string, allowed?: readonly number[]): string {
  const parts: string[] = [];
  columns.forEach((name, i) => {
    const v = quoteIdentifier(name);
    const bits = allowed?.[i] ?? ALL_CANDIDATES;
    parts.push(`count(${v})`, `COALESCE(bit_and(${candidateBits(v, bits)}) FILTER (WHERE ${v} IS NOT NULL), 0)`, `approx_count_distinct(${v})`);
  });
  parts.push(distinctOf === undefined ? "NULL" : `count(DISTINCT ${quoteIdentifier(distinctOf)})`);
  return `SELECT count(*), ${parts.join(", ")} FROM ${from}`;
}

export interface InferredColumn {
  name: string;
  type: LogicalType;
  nonNull: number;
  /**
   * Distinct non-NULL values, approximately (DuckDB's HyperLogLog; of a CSV: distinct texts): `unique_count`
   * of `_columns`. An exact count(DISTINCT) of every column runs out of the scan engine's memory on large
   * files (500,000 rows x 12 columns: Out of Memory at 152 MB).
   */
  uniqueApprox: number;
  /** Distinct values, exactly: only for the target column (its problem type). */
  distinctCount?: number;
}

/** The row count and columns of `inferenceQuery`'s one row. */
export function readInference(row: unknown[], columns: readonly string[], distinctOf?: string): { rowCount: number; columns: InferredColumn[] } {
  const distinct = row[row.length - 1];
  return {
    rowCount: Number(row[0]),
    columns: columns.map((name, i) => {
      const nonNull = Number(row[1 + 3 * i]);
      const column: InferredColumn = { name, type: typeOfCandidates(Number(row[2 + 3 * i]), nonNull), nonNull, uniqueApprox: Number(row[3 + 3 * i]) };
      if (name === distinctOf && distinct !== null && distinct !== undefined) column.distinctCount = Number(distinct);
      return column;
    }),
  };
}

/** The SQL that turns a column's text into its inferred type, exactly as `fieldConverter` does in JavaScript. */
export function castExpression(name: string, type: LogicalType): string {
  return castText(quoteIdentifier(name), type);
}

/** `castExpression` of a VARCHAR expression `v` (a column name quoted, or a value taken out of JSON). */
export function castText(v: string, type: LogicalType): string {
  switch (type) {
    case "int64":
      return `CAST(${v} AS BIGINT)`;
    case "float64": {
      const special = [...FLOAT_SPECIAL].map(([text, n]) => `WHEN ${quoteLiteral(text)} THEN CAST(${quoteLiteral(String(n))} AS DOUBLE)`).join(" ");
      return `CASE ${v} ${special} ELSE CAST(${v} AS DOUBLE) END`;
    }
    case "boolean":
      return `${v} IN (${list([...BOOLEANS].filter(([, b]) => b).map(([t]) => t))})`;
    case "date":
      return `CAST(${v} AS DATE)`;
    case "timestamp":
      return `CAST(${v} AS TIMESTAMP)`;
    case "timestamptz":
      return `mdm_tstz(${v})`;
    default:
      return v;
  }
}

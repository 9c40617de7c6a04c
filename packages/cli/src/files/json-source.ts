import { resolve } from "node:path";
import { quoteIdentifier, quoteLiteral, type ColumnDef, type LogicalType } from "@mdm/storage-core";
import { createInterface } from "node:readline";
import { openDataFile, type DataFile } from "./discover.js";
import { CANDIDATE, ColumnInference, SAMPLE_ROWS, TEXT_PATTERNS, typeOfCandidates } from "./infer.js";
import { candidateBits, castText, type InferredColumn } from "./inference-sql.js";
import { isArrayOfObjects } from "./json-layout.js";
import type { ScanEngine } from "./scan-engine.js";
import type { SourceOptions } from "./source.js";
import type { TableSource } from "./table-source.js";
import { typedSource } from "./typed-source.js";

/**
 * JSON records (an array of objects, or JSON lines of objects) typed by our rules, not by DuckDB's sniffer,
 * which looks at a sample and keeps the quotes of strings in a field that also holds numbers. Every key of
 * every record becomes a column (in the order keys first appear); each field is read as its JSON value and
 * one aggregate over the whole file decides its type:
 *
 * - only strings: `date`, `timestamp` or `timestamptz` when every string is that type's text by the CSV rules
 *   (`Z` or an offset on every value: `timestamptz`), else `text` holding the strings themselves;
 * - only numbers: `int64` when every number is a 64-bit integer, `float64` when every one is a double's text
 *   (DuckDB's JSON reader holds numbers as doubles, so `1.50` is `1.5` and `1e2` is `100.0`), `decimal(p,0)`
 *   for integers beyond 64 bits of at most 38 digits, else `text`;
 * - only booleans: `boolean`;
 * - any object or array: `json`, each value's JSON text (`{"a":5}`, `["x","y"]`, a string with its quotes);
 * - strings, numbers and booleans mixed: `text`, each value's own text (`The Land Girls`, `1776`, `true`);
 * - no value at all (missing or `null` everywhere): `text`.
 *
 * `null` and a missing key are NULL.
 */

const NUMBER_KIND_NAMES: ReadonlySet<string> = new Set(["BIGINT", "UBIGINT", "DOUBLE", "HUGEINT"]);
const NUMBER_KINDS = `(${[...NUMBER_KIND_NAMES].map(quoteLiteral).join(", ")})`;
const KIND = { string: 1, boolean: 2, number: 4, nested: 8 } as const;
const TEMPORAL = CANDIDATE.date | CANDIDATE.timestamp | CANDIDATE.timestamptz;
const NUMERIC = CANDIDATE.int64 | CANDIDATE.float64;
/** The widest DECIMAL DuckDB has: integers with more digits stay text. */
const MAX_DECIMAL_DIGITS = 38;

/** The keys of the file's records in the order they first appear, or undefined if a record is not an object. */
async function recordKeys(engine: ScanEngine, path: string, format: string): Promise<string[] | undefined> {
  // A record that is not an object gives the key NULL. ROW_NUMBER() OVER () streams (no partition, no order).
  const rows = await engine.rows(`SELECT k FROM (
      SELECT r, unnest(ks) AS k, generate_subscripts(ks, 1) AS i FROM (
        SELECT row_number() OVER () AS r, CASE WHEN json_type(json) = 'OBJECT' THEN json_keys(json) ELSE [NULL] END AS ks
        FROM read_json_objects(${path}, format = ${format})))
    GROUP BY k ORDER BY min({'r': r, 'i': i})`);
  const keys = rows.map((row) => row[0] as string | null);
  if (keys.length === 0 || keys.includes(null)) return undefined;
  // DuckDB names columns without case: two keys that differ only in case are left to its detection (Name, name_1).
  if (new Set(keys.map((k) => (k as string).toLowerCase())).size !== keys.length) return undefined;
  return keys as string[];
}

/** The line (1-based) of JSON lines record `record` (1-based): blank lines hold no record. Only called to name a refused value. */
async function jsonLineOf(file: DataFile, record: number): Promise<number | undefined> {
  const stream = openDataFile(file);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  let records = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === "") continue;
      // Each line must be one record (`{...}`, NaN or not): a file of objects spread over lines has no line per record.
      if (!/^\s*\{.*\}\s*$/.test(text)) return undefined;
      if (++records === record) return line;
    }
  } catch {
    // Not one record per line, or unreadable now: the caller names the record instead.
  } finally {
    lines.close();
    stream.destroy();
  }
  return undefined;
}

/** The JSON source of a file whose records are all objects, or undefined for the caller's fallback. */
export async function jsonRecordsSource(engine: ScanEngine, file: DataFile, options: SourceOptions = {}): Promise<TableSource | undefined> {
  const path = quoteLiteral(resolve(file.path));
  const array = await isArrayOfObjects(file);
  const format = array ? "'array'" : "'auto'";
  const keys = await recordKeys(engine, path, format);
  if (keys === undefined) return undefined;
  const compression = file.gzip ? "'gzip'" : "'auto_detect'";
  const columnsStruct = keys.map((k) => `${quoteLiteral(k)}: 'JSON'`).join(", ");
  const read = `read_json(${path}, format = ${format}, records = true, compression = ${compression}, columns = {${columnsStruct}})`;
  // Per key i: t<i> its JSON text, k<i> its JSON kind, s<i> a string's content.
  const parts = keys.flatMap((key, i) => {
    const v = quoteIdentifier(key);
    return [`CAST(${v} AS VARCHAR) AS t${i}`, `json_type(${v}) AS k${i}`, `CASE WHEN json_type(${v}) = 'VARCHAR' THEN json_extract_string(${v}, '$') END AS s${i}`];
  });
  const from = `(SELECT ${parts.join(", ")} FROM ${read})`;
  const allowed = await sampleCandidates(engine, from, keys.length);
  const aggregates = ["count(*)"];
  const slot = (sql: string) => aggregates.push(sql) - 1;
  const target = options.trackDistinct === undefined ? -1 : keys.indexOf(options.trackDistinct);
  const distinctSlot = target < 0 ? undefined : slot(`count(DISTINCT t${target})`);
  const slots = keys.map((_, i) => {
    const number = `k${i} IN ${NUMBER_KINDS}`;
    return {
      nonNull: slot(`count(t${i})`),
      kinds: slot(`COALESCE(bit_or(CASE WHEN k${i} = 'VARCHAR' THEN ${KIND.string} WHEN k${i} = 'BOOLEAN' THEN ${KIND.boolean} WHEN k${i} IN ('OBJECT', 'ARRAY') THEN ${KIND.nested} ELSE ${KIND.number} END) FILTER (WHERE t${i} IS NOT NULL), 0)`),
      unique: slot(`approx_count_distinct(t${i})`),
      strings: slot(`COALESCE(bit_and(${candidateBits(`s${i}`, allowed.strings[i])}) FILTER (WHERE k${i} = 'VARCHAR'), 0)`),
      numbers: slot(`COALESCE(bit_and(${candidateBits(`t${i}`, allowed.numbers[i])}) FILTER (WHERE ${number}), 0)`),
      integerDigits: slot(`CASE WHEN bool_and(regexp_full_match(t${i}, ${quoteLiteral(TEXT_PATTERNS.int)})) FILTER (WHERE ${number}) THEN max(length(ltrim(t${i}, '-'))) FILTER (WHERE ${number}) END`),
    };
  });
  const [row] = (await engine.rows(`SELECT ${aggregates.join(", ")} FROM ${from}`)) as unknown[][];
  const counts = row as unknown[];
  const columns: ColumnDef[] = [];
  const inferred: InferredColumn[] = [];
  const select = keys.map((key, i) => {
    const s = slots[i] as (typeof slots)[number];
    const nonNull = Number(counts[s.nonNull]);
    const inferredColumn = jsonColumn(key, nonNull, Number(counts[s.kinds]), Number(counts[s.strings]), Number(counts[s.numbers]), counts[s.integerDigits]);
    const column: ColumnDef = options.asText?.has(key) ? { name: key, type: "text", nullable: true } : inferredColumn;
    columns.push(column);
    const info: InferredColumn = { name: key, type: inferredColumn.type, nonNull, uniqueApprox: Number(counts[s.unique]) };
    if (i === target && distinctSlot !== undefined) info.distinctCount = Number(counts[distinctSlot]);
    inferred.push(info);
    return `${valueOf(column, i)} AS ${quoteIdentifier(key)}`;
  });
  return typedSource(engine, {
    file: file.path,
    columns,
    rowCount: Number(counts[0]),
    inferred,
    distinctOf: "values",
    query: `SELECT ${select.join(", ")} FROM ${from}`,
    exact: true,
    // An array's records are not lines; JSON lines (DuckDB's 'auto' of a file that is no array) are.
    ...(array ? {} : { lineOf: (record: number) => jsonLineOf(file, record) }),
  });
}

/**
 * The candidate types each column's strings (temporal ones) and numbers (int64, float64) may still have after
 * the first rows, judged by infer.ts's rules in JavaScript: the aggregate over the whole file then checks those
 * alone (a column of category strings none at all), which halved its time on the benchmark's file.
 */
async function sampleCandidates(engine: ScanEngine, from: string, count: number): Promise<{ strings: number[]; numbers: number[] }> {
  const strings = Array.from({ length: count }, (_, i) => new ColumnInference(`s${i}`));
  const numbers = Array.from({ length: count }, (_, i) => new ColumnInference(`t${i}`));
  const columns = Array.from({ length: count }, (_, i) => `t${i}, k${i}, s${i}`).join(", ");
  for (const row of await engine.rows(`SELECT ${columns} FROM ${from} LIMIT ${SAMPLE_ROWS}`)) {
    for (let i = 0; i < count; i++) {
      const kind = row[3 * i + 1] as string | null;
      if (kind === "VARCHAR") (strings[i] as ColumnInference).add(row[3 * i + 2] as string);
      else if (kind !== null && NUMBER_KIND_NAMES.has(kind)) (numbers[i] as ColumnInference).add(row[3 * i] as string);
    }
  }
  return { strings: strings.map((c) => c.candidates & TEMPORAL), numbers: numbers.map((c) => c.candidates & NUMERIC) };
}

/** A column's type from the kinds of its values and the candidate types common to its strings and to its numbers. */
function jsonColumn(name: string, nonNull: number, kinds: number, strings: number, numbers: number, integerDigits: unknown): ColumnDef {
  const column = (type: LogicalType, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type, nullable: true, ...extra });
  if (nonNull === 0) return column("text");
  if (kinds & KIND.nested) return column("json");
  if (kinds === KIND.string) return column(typeOfCandidates(strings & TEMPORAL, nonNull));
  if (kinds === KIND.boolean) return column("boolean");
  if (kinds === KIND.number) {
    const type = typeOfCandidates(numbers & NUMERIC, nonNull);
    if (type !== "text") return column(type);
    const digits = integerDigits === null || integerDigits === undefined ? undefined : Number(integerDigits);
    if (digits !== undefined && digits <= MAX_DECIMAL_DIGITS) return column("decimal", { precision: digits, scale: 0 });
  }
  return column("text");
}

/** The SQL giving column i's value in its type, from the projections of `from`: exactly the DuckDB type the backend stores it as. */
function valueOf(column: ColumnDef, i: number): string {
  switch (column.type) {
    case "json":
      return `CAST(t${i} AS JSON)`;
    case "text":
      // A string's content; a number's or a boolean's text.
      return `COALESCE(s${i}, t${i})`;
    case "boolean":
      return `t${i} = 'true'`;
    case "int64":
    case "float64":
      return castText(`t${i}`, column.type);
    case "decimal":
      return `CAST(t${i} AS DECIMAL(${column.precision}, 0))`;
    default:
      return castText(`s${i}`, column.type);
  }
}

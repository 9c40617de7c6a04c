import { COERCIONS, ErrorCodes, MdmError, SPECIAL_VALUE_TYPES, quoteIdentifier, type BackendCapabilities, type CoercedCounts, type ColumnDef, type SpecialValue } from "@mdm/storage-core";
import type { ScanEngine } from "./scan-engine.js";
import type { TableSource } from "./table-source.js";

/**
 * Values of a data file that the target backend cannot hold (NaN into SQLite, -0.0 into SQLite or DuckDB,
 * U+0000 in text into PostgreSQL: `BackendCapabilities.values`), found and coerced in SQL over the source's
 * typed rows in the scan engine. By default such a value is refused before anything is written, naming the
 * table, column, file line and value; with `--coerce-unsupported` each becomes the entry of core's coercion
 * table (`COERCIONS`), counted per column.
 */

/** The SQL test of a value of each kind, over a typed column. */
export const SPECIAL_VALUE_SQL: Readonly<Record<SpecialValue, (column: string) => string>> = {
  nan: (c) => `isnan(${c})`,
  infinity: (c) => `isinf(${c})`,
  negativeZero: (c) => `${c} = 0 AND signbit(${c})`,
  nulInText: (c) => `contains(${c}, chr(0))`,
  nulInJson: (c) => `contains(CAST(${c} AS VARCHAR), '\\u0000')`,
};

/** The SQL of what each kind becomes (`COERCIONS` in core), keeping the column's DuckDB type. */
const COERCED_SQL: Readonly<Record<SpecialValue, (column: string) => string>> = {
  nan: (c) => `CASE WHEN isnan(${c}) THEN NULL ELSE ${c} END`,
  infinity: (c) => `CASE WHEN isinf(${c}) THEN NULL ELSE ${c} END`,
  negativeZero: (c) => `CASE WHEN ${c} = 0 THEN CAST(0 AS DOUBLE) ELSE ${c} END`,
  nulInText: (c) => `replace(${c}, chr(0), '')`,
  nulInJson: (c) => `CAST(replace(CAST(${c} AS VARCHAR), '\\u0000', '') AS JSON)`,
};

/** A value of each kind as a message shows it, from DuckDB's text of it (`nan`, `-inf`, `-0.0`). */
const SHOWN: Readonly<Record<SpecialValue, (text: string) => string>> = {
  nan: () => "NaN",
  infinity: (text) => (text.startsWith("-") ? "-Infinity" : "Infinity"),
  negativeZero: () => "-0.0",
  nulInText: (text) => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text),
  nulInJson: (text) => (text.length > 60 ? `${text.slice(0, 60)}...` : text),
};

/** A column and a kind of value in it the target cannot hold. */
export interface Unsupported {
  column: ColumnDef;
  kind: SpecialValue;
}

/** Every (column, kind) of the source that the target cannot hold, whether or not the file has such a value. */
export function unsupportedOf(source: TableSource, values: BackendCapabilities["values"]): Unsupported[] {
  return source.columns.flatMap((column) =>
    (Object.keys(SPECIAL_VALUE_TYPES) as SpecialValue[]).filter((kind) => SPECIAL_VALUE_TYPES[kind] === column.type && !values[kind]).map((kind) => ({ column, kind })),
  );
}

/** The first value of the source (in file order) of one of those kinds: its 1-based data record, column, kind and text. */
export async function firstUnsupported(scan: ScanEngine, source: TableSource, list: readonly Unsupported[]): Promise<{ record: number; column: string; kind: SpecialValue; value: string } | undefined> {
  if (list.length === 0) return undefined;
  const cases = list.map(({ column, kind }, i) => `WHEN ${SPECIAL_VALUE_SQL[kind](quoteIdentifier(column.name))} THEN ${i}`).join(" ");
  const values = list.map(({ column }, i) => `WHEN ${i} THEN CAST(${quoteIdentifier(column.name)} AS VARCHAR)`).join(" ");
  const [row] = await scan.rows(`SELECT rn, hit, CASE hit ${values} END FROM (
      SELECT *, CASE ${cases} END AS hit FROM (SELECT row_number() OVER () AS rn, * FROM (${source.query})))
    WHERE hit IS NOT NULL ORDER BY rn LIMIT 1`);
  if (!row) return undefined;
  const hit = list[Number(row[1])] as Unsupported;
  return { record: Number(row[0]), column: hit.column.name, kind: hit.kind, value: String(row[2]) };
}

/** The refusal of the first such value, naming table, file, line (or record), column, value and the option that would coerce it. */
export async function refusal(scan: ScanEngine, table: string, source: TableSource, list: readonly Unsupported[], backendType: string, cause?: unknown): Promise<MdmError | undefined> {
  const first = await firstUnsupported(scan, source, list);
  if (!first) return undefined;
  const line = await source.lineOf?.(first.record);
  const where = line === undefined ? `record ${first.record}` : `line ${line}`;
  const coercion = COERCIONS[first.kind];
  const shown = SHOWN[first.kind](first.value);
  return new MdmError(
    ErrorCodes.UNSUPPORTED_VALUE,
    `${source.file}, ${where}: column ${JSON.stringify(first.column)} of table ${JSON.stringify(table)} holds ${shown}, which ${backendType} cannot hold; ` +
      `nothing was registered. Pass --coerce-unsupported to store ${coercion.becomes} instead (each such value counted in the summary)`,
    { cause, details: { table, file: source.file, column: first.column, kind: first.kind, ...(line === undefined ? {} : { line }), record: first.record, option: "--coerce-unsupported" } },
  );
}

/** The source with every such value coerced, and how many of each kind there are per column (one aggregate over the typed rows). */
export async function coerced(scan: ScanEngine, source: TableSource, list: readonly Unsupported[]): Promise<{ source: TableSource; counts: CoercedCounts }> {
  if (list.length === 0) return { source, counts: {} };
  const aggregates = list.map(({ column, kind }) => `count(*) FILTER (WHERE ${SPECIAL_VALUE_SQL[kind](quoteIdentifier(column.name))})`);
  const [row] = (await scan.rows(`SELECT ${aggregates.join(", ")} FROM (${source.query})`)) as unknown[][];
  const counts: CoercedCounts = {};
  list.forEach(({ column, kind }, i) => {
    const n = Number((row as unknown[])[i]);
    if (n > 0) (counts[column.name] ??= {})[kind] = n;
  });
  // Each column's kinds applied one after the other: a value is of one kind at most.
  const byColumn = new Map<string, SpecialValue[]>();
  for (const { column, kind } of list) if (counts[column.name]?.[kind]) byColumn.set(column.name, [...(byColumn.get(column.name) ?? []), kind]);
  if (byColumn.size === 0) return { source, counts };
  const replaced = [...byColumn].map(([name, kinds]) => `${kinds.reduce((sql, kind) => COERCED_SQL[kind](sql), quoteIdentifier(name))} AS ${quoteIdentifier(name)}`);
  return { source: source.withQuery(`SELECT * REPLACE (${replaced.join(", ")}) FROM (${source.query})`), counts };
}

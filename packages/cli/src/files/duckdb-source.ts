import { resolve } from "node:path";
import { ErrorCodes, MdmError, isMdmError, quoteIdentifier, quoteLiteral, type ColumnDef } from "@mdm/storage-core";
import type { DataFile } from "./discover.js";
import type { InferredColumn } from "./inference-sql.js";
import type { ScanEngine } from "./scan-engine.js";
import type { SourceOptions } from "./source.js";
import type { TableSource } from "./table-source.js";
import { jsonLayoutOptions } from "./json-layout.js";
import { typedSource } from "./typed-source.js";

const READERS = { parquet: "read_parquet", json: "read_json_auto" } as const;

/**
 * DuckDB types whose cast to the DuckDB type of their logical type (`logicalOfDuckdbType`) loses nothing
 * and gives what the backend's own writer would store: those columns can go to a DuckDB target as Parquet.
 */
const EXACT_TYPES = new Set(["BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE", "VARCHAR"]);
const WIDE_INTEGERS = new Set(["HUGEINT", "UBIGINT", "UHUGEINT"]);
const INT64_MIN = "-9223372036854775808";
const INT64_MAX = "9223372036854775807";
const CANONICAL: Record<string, string> = { int64: "BIGINT", float64: "DOUBLE", boolean: "BOOLEAN", date: "DATE", timestamp: "TIMESTAMP", timestamptz: "TIMESTAMPTZ", text: "VARCHAR" };

interface Scanned {
  columns: ColumnDef[];
  duckTypes: string[];
  slots: Array<{ nonNull: number; unique: number; fits: number | undefined }>;
  counts: unknown[];
  target: string | undefined;
  distinctSlot: number | undefined;
}

/** The file's columns (from a probe) and one aggregate over it; each figure is read back from the position it was given. */
async function scan(engine: ScanEngine, from: string, options: SourceOptions): Promise<Scanned> {
  const { resultShape } = await import("@mdm/storage-duckdb");
  const probe = await engine.stream(`SELECT * FROM ${from} LIMIT 0`);
  const { columns } = resultShape(probe);
  const duckTypes = probe.columnTypes().map((t) => t.toString());
  const target = options.trackDistinct !== undefined && columns.some((c) => c.name === options.trackDistinct) ? options.trackDistinct : undefined;
  const aggregates = ["count(*)"];
  const slot = (sql: string) => aggregates.push(sql) - 1;
  const distinctSlot = target === undefined ? undefined : slot(`count(DISTINCT ${quoteIdentifier(target)})`);
  const slots = columns.map((c, i) => {
    const v = quoteIdentifier(c.name);
    return {
      nonNull: slot(`count(${v})`),
      unique: slot(`approx_count_distinct(${v})`),
      // DuckDB's JSON reader gives HUGEINT (and Parquet may hold UBIGINT) to integers that all fit in int64:
      // those columns are int64 when every value does, as for CSV.
      fits: WIDE_INTEGERS.has(duckTypes[i] as string) ? slot(`coalesce(bool_and(${v} BETWEEN ${INT64_MIN} AND ${INT64_MAX}), true)`) : undefined,
    };
  });
  const [row] = (await engine.rows(`SELECT ${aggregates.join(", ")} FROM ${from}`)) as unknown[][];
  return { columns, duckTypes, slots, counts: row as unknown[], target, distinctSlot };
}

/**
 * A Parquet or JSON file read by the scan engine: the file's own types (Parquet) or DuckDB's detection
 * (JSON) give the columns, mapped to logical types as the DuckDB backend maps them.
 */
export async function duckdbSource(engine: ScanEngine, file: DataFile, options: SourceOptions = {}): Promise<TableSource> {
  const reader = READERS[file.format as keyof typeof READERS];
  if (!reader) throw new MdmError(ErrorCodes.INTERNAL, `No DuckDB reader for ${file.format}`);
  const layout = file.format === "json" ? await jsonLayoutOptions(file) : "";
  const fromWith = (extra: string) => `${reader}(${quoteLiteral(resolve(file.path))}${extra})`;
  let scanned: Scanned;
  let from = fromWith(layout);
  try {
    scanned = await scan(engine, from, options);
  } catch (error) {
    if (layout === "" || isMdmError(error, ErrorCodes.ABORTED) || isMdmError(error, ErrorCodes.DISK_FULL)) throw error;
    // The array's later elements are not all objects (DuckDB's detection would have made it one JSON column).
    from = fromWith("");
    scanned = await scan(engine, from, options);
  }
  const { columns, duckTypes, slots, counts, target, distinctSlot } = scanned;
  const narrowed = new Set<number>();
  slots.forEach((s, i) => {
    if (s.fits !== undefined && counts[s.fits] === true) {
      columns[i] = { ...(columns[i] as ColumnDef), type: "int64" };
      duckTypes[i] = "BIGINT";
      narrowed.add(i);
    }
  });
  const inferred: InferredColumn[] = columns.map((c, i) => {
    const s = slots[i] as (typeof slots)[number];
    const column: InferredColumn = { name: c.name, type: c.type, nonNull: Number(counts[s.nonNull]), uniqueApprox: Number(counts[s.unique]) };
    if (c.name === target && distinctSlot !== undefined) column.distinctCount = Number(counts[distinctSlot]);
    return column;
  });
  const exact = columns.every((c, i) => EXACT_TYPES.has(duckTypes[i] as string) && CANONICAL[c.type] !== undefined);
  const select = columns
    .map((c, i) => (exact || narrowed.has(i) ? `CAST(${quoteIdentifier(c.name)} AS ${CANONICAL[c.type]}) AS ${quoteIdentifier(c.name)}` : quoteIdentifier(c.name)))
    .join(", ");
  return typedSource(engine, { file: file.path, columns, rowCount: Number(counts[0]), inferred, distinctOf: "values", query: `SELECT ${select || "*"} FROM ${from}`, exact: exact && columns.length > 0 });
}

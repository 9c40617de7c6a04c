import { resolve } from "node:path";
import { ErrorCodes, MdmError, quoteIdentifier, quoteLiteral, type ColumnDef } from "@mdm/storage-core";
import type { DataFile } from "./discover.js";
import type { InferredColumn } from "./inference-sql.js";
import type { ScanEngine } from "./scan-engine.js";
import type { SourceOptions } from "./source.js";
import type { TableSource } from "./table-source.js";
import { jsonRecordsSource } from "./json-source.js";
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

/** DuckDB's nested types (STRUCT, MAP, UNION, LIST `T[]`, ARRAY `T[n]`): stored as their JSON text. */
const NESTED_TYPE = /^(?:STRUCT|MAP|UNION)\(|\[\d*\]$/;

/**
 * A Parquet file, or a JSON file that is not records of objects (see `json-source.ts`), read by the scan
 * engine: the file's own types (Parquet) or DuckDB's detection (JSON) give the columns, mapped to logical
 * types as the DuckDB backend maps them; nested values (LIST, STRUCT, MAP) become `json` columns holding
 * their JSON text (`to_json`), and the other types without a logical type of their own (UUID, TIME,
 * INTERVAL, ENUM) `text` holding DuckDB's text of them.
 */
export async function duckdbSource(engine: ScanEngine, file: DataFile, options: SourceOptions = {}): Promise<TableSource> {
  const reader = READERS[file.format as keyof typeof READERS];
  if (!reader) throw new MdmError(ErrorCodes.INTERNAL, `No DuckDB reader for ${file.format}`);
  if (file.format === "json") {
    const records = await jsonRecordsSource(engine, file, options);
    if (records) return records;
  }
  const from = `${reader}(${quoteLiteral(resolve(file.path))})`;
  const { columns, duckTypes, slots, counts, target, distinctSlot } = await scan(engine, from, options);
  let exact = columns.length > 0;
  const select = columns.map((c, i) => {
    const s = slots[i] as (typeof slots)[number];
    const v = quoteIdentifier(c.name);
    const duckType = duckTypes[i] as string;
    let expression: string;
    if (NESTED_TYPE.test(duckType)) {
      columns[i] = { ...c, type: "json" };
      expression = `CAST(to_json(${v}) AS JSON)`;
    } else if (s.fits !== undefined && counts[s.fits] === true) {
      columns[i] = { ...c, type: "int64" };
      expression = `CAST(${v} AS BIGINT)`;
    } else if (EXACT_TYPES.has(duckType) && CANONICAL[c.type] !== undefined) {
      expression = `CAST(${v} AS ${CANONICAL[c.type]})`;
    } else if (c.type === "text" || c.type === "json") {
      // UUID, TIME, INTERVAL, ENUM...: DuckDB's text of them; a JSON column (DuckDB's detection) as it is.
      expression = `CAST(${v} AS ${c.type === "json" ? "JSON" : "VARCHAR"})`;
    } else if (/^(?:DECIMAL\(|BLOB$)/.test(duckType)) {
      // Stored as they are (a DECIMAL of DuckDB's has at most 38 digits).
      expression = v;
    } else {
      exact = false;
      expression = v;
    }
    return `${expression} AS ${v}`;
  });
  const inferred: InferredColumn[] = columns.map((c, i) => {
    const s = slots[i] as (typeof slots)[number];
    const column: InferredColumn = { name: c.name, type: c.type, nonNull: Number(counts[s.nonNull]), uniqueApprox: Number(counts[s.unique]) };
    if (c.name === target && distinctSlot !== undefined) column.distinctCount = Number(counts[distinctSlot]);
    return column;
  });
  return typedSource(engine, { file: file.path, columns, rowCount: Number(counts[0]), inferred, distinctOf: "values", query: `SELECT ${select.join(", ") || "*"} FROM ${from}`, exact });
}

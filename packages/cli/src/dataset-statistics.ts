import { COLUMNS_TABLE, STATISTICS_TABLE, type ColumnDef, type Value } from "@mdm/storage-core";
import type { InferredColumn } from "./files/inference-sql.js";

/**
 * The `_columns` and `_statistics` tables registration writes into every dataset database (as Python MDM's
 * registrar does): one row per column of every table, one row per table. The counts come from the scan that
 * inferred the types (one DuckDB aggregate per file), not from a second read: NULLs exactly; distinct values
 * approximately, DuckDB's HyperLogLog (`approx_count_distinct`) of the values as the file holds them: for
 * CSV/TSV the distinct texts (two spellings of one value, `1.0` and `1.00`, count twice), for Parquet/JSON the
 * distinct typed values. `column_metadata` says both. An exact count(DISTINCT) of every column ran out of the
 * scan engine's memory (500,000 rows x 12 columns of the registration benchmark: Out of Memory at 152 MB);
 * the estimate was up to 15% off on a 400-row column (the example dataset's timestamps).
 */

export { COLUMNS_TABLE, STATISTICS_TABLE };

export const COLUMNS_TABLE_COLUMNS: ColumnDef[] = [
  { name: "table_name", type: "text", nullable: false },
  { name: "column_name", type: "text", nullable: false },
  { name: "data_type", type: "text", nullable: false },
  { name: "is_target", type: "boolean", nullable: false },
  { name: "is_id", type: "boolean", nullable: false },
  { name: "null_count", type: "int64", nullable: false },
  { name: "null_percentage", type: "float64", nullable: false },
  { name: "unique_count", type: "int64", nullable: false },
  { name: "column_metadata", type: "json" },
];

export const STATISTICS_TABLE_COLUMNS: ColumnDef[] = [
  { name: "table_name", type: "text", nullable: false },
  { name: "row_count", type: "int64", nullable: false },
  { name: "column_count", type: "int64", nullable: false },
  { name: "missing_values", type: "int64", nullable: false },
  { name: "missing_percentage", type: "float64", nullable: false },
  { name: "computed_at", type: "text", nullable: false },
];

export interface TableStatistics {
  table: string;
  /** What the distinct counts count: "texts" (CSV/TSV) or "values" (Parquet/JSON). */
  distinctOf: "texts" | "values";
  rowCount: number;
  columns: Array<Pick<InferredColumn, "name" | "type" | "nonNull" | "uniqueApprox">>;
}

const percent = (part: number, whole: number) => (whole === 0 ? 0 : (100 * part) / whole);

/** A column's NULLs and (approximately) distinct values: never more than its non-NULL values, which an estimate can exceed. */
export function columnCounts(rowCount: number, column: Pick<InferredColumn, "nonNull" | "uniqueApprox">): { null_count: number; unique_count: number } {
  return { null_count: rowCount - column.nonNull, unique_count: Math.min(column.uniqueApprox, column.nonNull) };
}

/** The rows of `_columns` for the tables of a registration. */
export function columnsRows(tables: readonly TableStatistics[], target: string | undefined, idColumns: readonly string[]): Value[][] {
  return tables.flatMap((t) =>
    t.columns.map((c): Value[] => {
      const { null_count, unique_count } = columnCounts(t.rowCount, c);
      const metadata = JSON.stringify({ unique_count: `approximate (HyperLogLog) count of distinct ${t.distinctOf === "texts" ? "texts in the file" : "values"}` });
      return [t.table, c.name, c.type, c.name === target, idColumns.includes(c.name), BigInt(null_count), percent(null_count, t.rowCount), BigInt(unique_count), metadata];
    }),
  );
}

/** The rows of `_statistics` for the tables of a registration. */
export function statisticsRows(tables: readonly TableStatistics[], computedAt: string): Value[][] {
  return tables.map((t) => {
    const missing = t.columns.reduce((sum, c) => sum + (t.rowCount - c.nonNull), 0);
    return [t.table, BigInt(t.rowCount), BigInt(t.columns.length), BigInt(missing), percent(missing, t.rowCount * t.columns.length), computedAt];
  });
}

import { ErrorCodes, MdmError } from "./errors.js";
import type { ColumnDef, DataFrame, DataFrameInput, Row, Value } from "./types.js";
import { inferColumns } from "./values.js";

/** Split a DataFrame (or plain rows) into columns and rows-as-arrays, inferring columns if absent. */
export function toColumnsAndRows(input: DataFrameInput): { columns: ColumnDef[]; rows: Value[][] } {
  let rows: Row[];
  let columns: ColumnDef[] | undefined;
  if (Array.isArray(input)) {
    rows = input;
  } else if (input && typeof input === "object" && Array.isArray((input as { rows?: unknown }).rows)) {
    rows = (input as { rows: Row[] }).rows;
    columns = (input as { columns?: ColumnDef[] }).columns;
  } else {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "Expected a DataFrame ({ columns, rows }) or an array of row objects");
  }
  if (!columns || columns.length === 0) {
    if (rows.length === 0) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "An empty DataFrame needs explicit columns");
    }
    columns = inferColumns(rows);
  }
  const names = columns.map((c) => c.name);
  const out: Value[][] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Row;
    if (row === null || typeof row !== "object") {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Row ${r} is not an object`);
    }
    const values: Value[] = new Array(names.length);
    let present = 0;
    for (let c = 0; c < names.length; c++) {
      const v = row[names[c] as string];
      if (v !== undefined) present++;
      values[c] = v === undefined ? null : v;
    }
    // A key that is not a column would be lost without a word (a typo, a case mismatch): refuse it.
    if (present !== Object.keys(row).length) {
      const known = new Set(names);
      const extra = Object.keys(row).filter((k) => !known.has(k) && row[k] !== undefined);
      if (extra.length > 0) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Row ${r} has ${extra.map((k) => JSON.stringify(k)).join(", ")}, which ${extra.length === 1 ? "is not a column" : "are not columns"} (columns: ${names.map((n) => JSON.stringify(n)).join(", ")})`);
      }
    }
    out[r] = values;
  }
  return { columns, rows: out };
}

/** Rows-as-arrays back to a DataFrame of row objects. */
export function toDataFrame(columns: ColumnDef[], rows: readonly (readonly Value[])[]): DataFrame {
  const names = columns.map((c) => c.name);
  const out: Row[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as readonly Value[];
    const obj: Row = {};
    for (let c = 0; c < names.length; c++) obj[names[c] as string] = row[c] as Value;
    out[r] = obj;
  }
  return { columns, rows: out };
}

/** Rows of a DataFrame as arrays in the order of its columns. */
export function rowArrays(df: DataFrame): Value[][] {
  return toColumnsAndRows(df).rows;
}

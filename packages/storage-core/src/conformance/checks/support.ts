import type { IStorageBackend } from "../../interface.js";
import type { ColumnDef, DataFrame, StorageEngine, Value } from "../../types.js";
import { check } from "../assert.js";

/** One conformance check: a title (the vitest test title and the key of a skip entry) and a body. */
export interface ConformanceCheck {
  /** The describe block it belongs to (`datasets`, `tables`, `fidelity`, ...). */
  group: string;
  /** Unique across the suite; skip entries name it. */
  title: string;
  /** Runs on a fresh, isolated backend; throws (ConformanceFailure or any error) when the backend is wrong. */
  run(backend: IStorageBackend): Promise<void>;
}

export function defineCheck(group: string, title: string, run: (backend: IStorageBackend) => Promise<void>): ConformanceCheck {
  return Object.freeze({ group, title, run });
}

/** The dataset most checks work in. */
export const DATASET = "conformance";

/** Create a dataset and return its engine (also the default engine of engine-level calls). */
export async function openDataset(backend: IStorageBackend, name: string = DATASET): Promise<StorageEngine> {
  await backend.createDataset(name);
  const engine = await backend.getDatasetEngine(name);
  check(engine && typeof engine === "object" && typeof engine.database === "string", `getDatasetEngine(${JSON.stringify(name)}) must return an engine handle`);
  // getEngine() on the same database makes it the default engine of engine-level calls.
  const byPath = await backend.getEngine(engine.database);
  check(byPath.database === engine.database, `getEngine(${JSON.stringify(engine.database)}) returned the engine of ${JSON.stringify(byPath.database)}`);
  return engine;
}

/** A small table of mixed types with NULLs; `id` is unique and orders the rows. */
export const SAMPLE_COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "name", type: "text" },
  { name: "score", type: "float64" },
  { name: "flag", type: "boolean" },
];

export const SAMPLE_ROWS: Value[][] = [
  [1n, "alpha", 1.5, true],
  [2n, "beta", -2.25, false],
  [3n, null, 0, null],
  [4n, "delta", null, true],
  [5n, "epsilon", 10, false],
];

export function frame(columns: ColumnDef[], rows: readonly (readonly Value[])[]): DataFrame {
  return {
    columns,
    rows: rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i] as Value]))),
  };
}

export const sampleFrame = (): DataFrame => frame(SAMPLE_COLUMNS, SAMPLE_ROWS);

/** Rows of a DataFrame as arrays in the order of `columns` (missing keys fail the check). */
export function arrays(df: DataFrame, columns: readonly ColumnDef[]): Value[][] {
  return df.rows.map((row, r) =>
    columns.map((c) => {
      check(Object.prototype.hasOwnProperty.call(row, c.name), `row ${r} has no key ${JSON.stringify(c.name)} (keys: ${Object.keys(row).join(", ")})`);
      return row[c.name] as Value;
    }),
  );
}

/** Sort rows-as-arrays by their first column (an int64 id). */
export function byFirstColumn(rows: Value[][]): Value[][] {
  return [...rows].sort((a, b) => {
    const x = a[0] as bigint;
    const y = b[0] as bigint;
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Numbers 1..n as int64 rows `[id, "row-<id>"]`. */
export function numberedRows(n: number, from = 1): Value[][] {
  return Array.from({ length: n }, (_, i) => [BigInt(from + i), `row-${from + i}`]);
}

export const NUMBERED_COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "label", type: "text" },
];

/** Placeholder of the i-th (0-based) parameter in this backend's SQL dialect. */
export function placeholder(backend: IStorageBackend, index: number): string {
  return backend.backendType === "postgresql" ? `$${index + 1}` : "?";
}

/** A column list with logical types only, for comparing schemas. */
export function typesOf(columns: readonly ColumnDef[]): Array<[string, string]> {
  return columns.map((c) => [c.name, c.type]);
}

/** A double-quoted SQL identifier (the quoting of all three engines). */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Columns of every logical type, (the all-NULL row of reliability.md A24, schema checks). */
export const EVERY_TYPE_COLUMNS: ColumnDef[] = [
  { name: "b", type: "boolean" },
  { name: "i", type: "int64" },
  { name: "f", type: "float64" },
  { name: "d", type: "decimal", precision: 18, scale: 4 },
  { name: "du", type: "decimal" },
  { name: "s", type: "text" },
  { name: "x", type: "blob" },
  { name: "day", type: "date" },
  { name: "at", type: "timestamp" },
  { name: "attz", type: "timestamptz" },
  { name: "j", type: "json" },
];

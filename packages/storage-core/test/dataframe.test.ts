import { describe, expect, test } from "vitest";
import { ErrorCodes, rowArrays, toColumnsAndRows, toDataFrame, type ColumnDef } from "../src/index.js";
import { codeOf } from "./helpers/error-code.js";

const columns: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "name", type: "text" },
];

describe("DataFrame shapes", () => {
  test("a DataFrame becomes columns + rows as arrays in column order; a missing key is NULL", () => {
    const out = toColumnsAndRows({ columns, rows: [{ name: "a", id: 1n }, { id: 2n }] });
    expect(out.columns).toBe(columns);
    expect(out.rows).toEqual([
      [1n, "a"],
      [2n, null],
    ]);
  });

  test("plain row objects get inferred columns", () => {
    const out = toColumnsAndRows([{ id: 1n, name: "a" }]);
    expect(out.columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "int64"],
      ["name", "text"],
    ]);
    expect(toColumnsAndRows({ rows: [{ x: 1.5 }] }).columns[0]?.type).toBe("float64");
  });

  test("bad inputs are MDM_INVALID_ARGUMENT", () => {
    expect(codeOf(() => toColumnsAndRows(null as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => toColumnsAndRows({ columns } as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => toColumnsAndRows([]))).toBe(ErrorCodes.INVALID_ARGUMENT); // no rows, no columns
    expect(codeOf(() => toColumnsAndRows({ columns, rows: [null as never] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(toColumnsAndRows({ columns, rows: [] }).rows).toEqual([]);
  });

  test("a row key that is not a column is refused, not dropped (a typo or a case mismatch loses nothing)", () => {
    expect(codeOf(() => toColumnsAndRows({ columns, rows: [{ id: 1n, Name: "a" }] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => toColumnsAndRows({ columns, rows: [{ id: 1n, name: "a", extra: 3 }] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    // An explicit undefined is an absent key, i.e. NULL.
    expect(toColumnsAndRows({ columns, rows: [{ id: 1n, name: undefined as never, other: undefined as never }] }).rows).toEqual([[1n, null]]);
  });

  test("toDataFrame and rowArrays are inverse", () => {
    const df = toDataFrame(columns, [
      [1n, "a"],
      [2n, null],
    ]);
    expect(df.rows).toEqual([
      { id: 1n, name: "a" },
      { id: 2n, name: null },
    ]);
    expect(rowArrays(df)).toEqual([
      [1n, "a"],
      [2n, null],
    ]);
  });
});

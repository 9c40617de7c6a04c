import { describe, expect, it } from "vitest";
import { COERCIONS, SQLITE_VALUE_CAPABILITIES, coercedLines, rowCoercer, unsupportedKinds, type CoercedCounts, type ColumnDef, type Value } from "../src/index.js";

const ALL = { nan: true, infinity: true, negativeZero: true, nulInText: true, nulInJson: true, maxDecimalPrecision: Infinity };

describe("coercion", () => {
  it("names the kinds a backend cannot hold, per column type", () => {
    expect(unsupportedKinds({ type: "float64" }, SQLITE_VALUE_CAPABILITIES)).toEqual(["nan", "negativeZero"]);
    expect(unsupportedKinds({ type: "text" }, { ...ALL, nulInText: false })).toEqual(["nulInText"]);
    expect(unsupportedKinds({ type: "int64" }, { ...ALL, nan: false })).toEqual([]);
  });

  it("coerces in place, counting each change per column and kind, and leaves every other value as it is", () => {
    const columns: ColumnDef[] = [{ name: "id", type: "int64" }, { name: "x", type: "float64" }, { name: "s", type: "text" }, { name: "j", type: "json" }];
    const counts: CoercedCounts = {};
    const coerce = rowCoercer(columns, { ...ALL, nan: false, negativeZero: false, infinity: false, nulInText: false, nulInJson: false }, counts);
    const rows: Value[][] = [
      [1n, Number.NaN, "a\u0000b\u0000", '{"k":"v\\u0000w","\\u0000key":[1,"\\u0000"]}'],
      [2n, -0, "plain", '{"k":"\\\\u0000"}'],
      [3n, Infinity, null, null],
      [4n, 0, "", "[]"],
      [5n, -Infinity, "x", '"\\u0000"'],
    ];
    expect(coerce?.(rows)).toBe(rows);
    expect(rows[0]).toEqual([1n, null, "ab", '{"k":"vw","key":[1,""]}']);
    expect(Object.is(rows[1]?.[1], 0)).toBe(true);
    // An escaped backslash followed by "u0000" is no NUL: not counted, not changed.
    expect(rows[1]?.[3]).toBe('{"k":"\\\\u0000"}');
    expect(rows[2]).toEqual([3n, null, null, null]);
    expect(Object.is(rows[3]?.[1], 0)).toBe(true);
    expect(rows[4]).toEqual([5n, null, "x", '""']);
    expect(counts).toEqual({ x: { nan: 1, negativeZero: 1, infinity: 2 }, s: { nulInText: 1 }, j: { nulInJson: 2 } });
    expect(coercedLines({ x: counts.x as NonNullable<CoercedCounts[string]> })).toEqual(["x: 1 NaN -> NULL", "x: 1 -0.0 -> 0.0", "x: 2 ±Infinity -> NULL"]);
  });

  it("gives no coercer when the backend holds every kind the columns may have", () => {
    expect(rowCoercer([{ name: "x", type: "float64" }], ALL, {})).toBeUndefined();
    expect(COERCIONS.nan.becomes).toBe("NULL");
  });
});

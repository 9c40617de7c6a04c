import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlDate, SqlTimestamp, type ColumnDef, type Row } from "@mdm/storage-core";

/** A fresh temporary MDM home, removed by `cleanup()`. */
export function tempHome(prefix = "mdm-duckdb-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One column of every logical type, with the values that break naive drivers. */
export const ALL_TYPES: ColumnDef[] = [
  { name: "id", type: "int64", nullable: false },
  { name: "i", type: "int64" },
  { name: "f", type: "float64" },
  { name: "d", type: "decimal", precision: 38, scale: 10 },
  { name: "b", type: "boolean" },
  { name: "t", type: "text" },
  { name: "bl", type: "blob" },
  { name: "dt", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
  { name: "j", type: "json" },
];

export function edgeRows(): Row[] {
  return [
    {
      id: 1n,
      i: 9223372036854775807n,
      f: Number.NaN,
      d: "9999999999999999999999999999.9999999999",
      b: true,
      t: "a\u0000b é 😀",
      bl: new Uint8Array([0, 255, 1]),
      dt: SqlDate.parse("1960-06-02"),
      ts: SqlTimestamp.parse("1960-01-01 00:00:00.000001"),
      tz: SqlTimestamp.parse("2024-01-01T00:00:00.123456Z"),
      j: '{"a":1,"a":2,"big":12345678901234567890}',
    },
    {
      id: 2n,
      i: -9223372036854775808n,
      f: -5e-324,
      d: "-0.0000000001",
      b: false,
      t: "",
      bl: new Uint8Array([]),
      dt: SqlDate.parse("0001-01-01"),
      ts: SqlTimestamp.parse("1969-12-31 23:59:59.999999"),
      tz: SqlTimestamp.parse("1900-02-28T23:59:59.000001Z"),
      j: "[]",
    },
    { id: 3n, i: 9007199254740993n, f: Number.POSITIVE_INFINITY, d: "12.5", b: null, t: null, bl: null, dt: null, ts: null, tz: null, j: null },
    { id: 4n, i: null, f: Number.NEGATIVE_INFINITY, d: null, b: true, t: "x", bl: null, dt: SqlDate.parse("9999-12-31"), ts: SqlTimestamp.parse("2262-04-11 23:47:16.854775"), tz: null, j: "null" },
    { id: 5n, i: 0n, f: 0.1 + 0.2, d: "0", b: false, t: "NULL", bl: new Uint8Array([78, 85, 76, 76]), dt: SqlDate.parse("1970-01-01"), ts: SqlTimestamp.parse("1970-01-01 00:00:00"), tz: SqlTimestamp.parse("1970-01-01T00:00:00Z"), j: '"\\u0000"' },
  ];
}

/** Every logical type with its edge values, and the check that they read back exactly (both PostgreSQL packages). */
import { expect } from "vitest";
import { SqlDate, SqlTimestamp, type ColumnDef, type Value } from "@mdm/storage-core";
import { EVERY_TYPE_COLUMNS } from "@mdm/testing";

export const columns: ColumnDef[] = EVERY_TYPE_COLUMNS;
export const rows: Value[][] = [
  [true, 2n ** 63n - 1n, -0, "12345678901234.1234", "NaN", "tab\there\nnew \\ line\r 😀 \\N", new Uint8Array([0, 255, 92, 10, 9]), SqlDate.parse("1960-06-02"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("2024-03-10T10:30:00.123456Z"), '{"a":1,"a":2,"t":"\\t\\u0000"}'],
  [false, -(2n ** 63n), NaN, "-0.0001", "123456789012345678901234567890.000000001", "", new Uint8Array(), SqlDate.fromParts(-4713, 11, 24), SqlTimestamp.parse("0044-03-15 12:00:00.5"), SqlTimestamp.parse("1800-01-01 00:00:00Z"), "[]"],
  [null, null, -Infinity, null, "-Infinity", "\\N", null, SqlDate.fromParts(5874897, 12, 31), null, null, null],
];

export function expectRoundTrip(read: Value[][]): void {
  expect(read).toHaveLength(3);
  const byI = (i: Value) => read.find((r) => r[1] === i) as Value[];
  const [a, b, c] = [byI(2n ** 63n - 1n), byI(-(2n ** 63n)), byI(null)];
  expect(a[0]).toBe(true);
  expect(Object.is(a[2], -0)).toBe(true);
  expect(a.slice(3, 6)).toEqual(["12345678901234.1234", "NaN", "tab\there\nnew \\ line\r 😀 \\N"]);
  expect([...(a[6] as Uint8Array)]).toEqual([0, 255, 92, 10, 9]);
  expect(String(a[7])).toBe("1960-06-02");
  expect((a[8] as SqlTimestamp).micros).toBe(SqlTimestamp.parse("1960-01-01 00:00:00.000001").micros);
  expect((a[9] as SqlTimestamp).toISOString()).toBe("2024-03-10T10:30:00.123456Z");
  expect(a[10]).toBe('{"a":1,"a":2,"t":"\\t\\u0000"}');
  expect(Number.isNaN(b[2])).toBe(true);
  expect(b.slice(3, 6)).toEqual(["-0.0001", "123456789012345678901234567890.000000001", ""]);
  expect((b[6] as Uint8Array).length).toBe(0);
  expect((b[7] as SqlDate).days).toBe(SqlDate.fromParts(-4713, 11, 24).days);
  expect((b[8] as SqlTimestamp).micros).toBe(SqlTimestamp.parse("0044-03-15 12:00:00.5").micros);
  expect(c[2]).toBe(-Infinity);
  expect(c[4]).toBe("-Infinity");
  expect(c[5]).toBe("\\N");
  expect(c[6]).toBe(null);
  expect((c[7] as SqlDate).days).toBe(SqlDate.fromParts(5874897, 12, 31).days);
}


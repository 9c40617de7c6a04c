import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlDate, SqlTimestamp, type ColumnDef, type Row } from "@mdm/storage-core";
import { SqliteStorageBackend } from "../src/index.js";

/** A fresh MDM home in the temp directory, and its removal. */
export function tempHome(prefix = "mdm-sqlite-"): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), prefix));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/**
 * New backends on fresh temp homes: `make()` builds one, `cleanup()` (an afterEach) closes every one
 * made and removes their homes.
 */
export function backendsOnTempHomes(prefix = "mdm-sqlite-"): {
  make: (options?: ConstructorParameters<typeof SqliteStorageBackend>[0]) => { backend: SqliteStorageBackend; home: string };
  cleanup: () => Promise<void>;
} {
  const homes: Array<() => void> = [];
  const backends: SqliteStorageBackend[] = [];
  return {
    make(options = {}) {
      const { home, cleanup } = tempHome(prefix);
      homes.push(cleanup);
      const backend = new SqliteStorageBackend({ homeDir: home, ...options });
      backends.push(backend);
      return { backend, home };
    },
    async cleanup() {
      for (const b of backends.splice(0)) await b.close();
      for (const c of homes.splice(0)) c();
    },
  };
}

/** One column of every logical type. */
export const ALL_TYPES: ColumnDef[] = [
  { name: "id", type: "int64", nullable: false },
  { name: "f", type: "float64" },
  { name: "flag", type: "boolean" },
  { name: "d", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
  { name: "dec", type: "decimal", precision: 30, scale: 10 },
  { name: "j", type: "json" },
  { name: "bin", type: "blob" },
  { name: "t", type: "text" },
];

/** Rows with the hard values SQLite must keep exactly (reliability.md §2). */
export function allTypeRows(): Row[] {
  return [
    {
      id: 2n ** 63n - 1n,
      f: Number.MAX_VALUE,
      flag: true,
      d: SqlDate.parse("1960-02-29"),
      ts: SqlTimestamp.parse("1960-01-01 00:00:00.000001"),
      tz: SqlTimestamp.parse("2024-01-01T12:00:00.123456+02:00"),
      dec: "12345678901234567890.1234567890",
      j: "123",
      bin: new Uint8Array([0, 255, 1]),
      t: "a\0b – ☃ 😀",
    },
    { id: -(2n ** 63n), f: -Infinity, flag: false, d: SqlDate.parse("0001-01-01"), ts: SqlTimestamp.parse("9999-12-31 23:59:59.999999"), tz: SqlTimestamp.parse("1969-12-31T23:59:59.999999Z"), dec: "-0.0000000001", j: '{"a":[1,2.50,"x"],"a":null}', bin: new Uint8Array(), t: "" },
    { id: 2n ** 53n + 1n, f: Infinity, flag: null, d: null, ts: null, tz: null, dec: null, j: null, bin: null, t: null },
    { id: 0n, f: 0.1 + 0.2, flag: true, d: SqlDate.parse("2024-02-29"), ts: SqlTimestamp.parse("2024-02-29 12:34:56.000000"), tz: SqlTimestamp.parse("2000-01-01T00:00:00Z"), dec: "3.0e+5", j: '"text"', bin: new Uint8Array(70_000).fill(7), t: "x".repeat(100_000) },
  ];
}

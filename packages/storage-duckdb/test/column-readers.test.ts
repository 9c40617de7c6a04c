import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from "@duckdb/node-api";
import { isMdmError } from "@mdm/storage-core";
import { columnReaderFor } from "../src/column-readers.js";
import { readerFor } from "../src/index.js";

/** Every type columnReaderFor reads from vector memory, with extremes, zeros and a NULL every seventh row. */
const FAST_COLUMNS: Record<string, string> = {
  b: "i % 2 = 0",
  d: "CASE i % 5 WHEN 0 THEN -0.0 WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 1.7976931348623157e308 ELSE i / 3.0 END",
  f: "(i % 1000) / 8.0::FLOAT",
  big: "CASE i % 3 WHEN 0 THEN 9223372036854775807 WHEN 1 THEN -9223372036854775808 ELSE i END::BIGINT",
  int: "CASE i % 2 WHEN 0 THEN 2147483647 ELSE -2147483648 END::INTEGER",
  small: "(i % 65536 - 32768)::SMALLINT",
  tiny: "(i % 256 - 128)::TINYINT",
  uint: "CASE i % 2 WHEN 0 THEN 4294967295 ELSE i END::UINTEGER",
  usmall: "(i % 65536)::USMALLINT",
  utiny: "(i % 256)::UTINYINT",
  day: "DATE '1969-12-31' + (i % 200000 - 100000)::INTEGER",
  ts: "TIMESTAMP '1969-12-31 23:59:59.999999' + to_microseconds(i * 1234567)",
  tstz: "TIMESTAMPTZ '1900-01-01 00:00:00.000001+00' + to_microseconds(i * 7654321)",
  txt: "'v' || i",
};

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(":memory:");
  connection = await instance.connect();
});

afterAll(() => {
  connection.closeSync();
  instance.closeSync();
});

async function chunksOf(sql: string): Promise<DuckDBDataChunk[]> {
  const result = await connection.stream(sql);
  const chunks: DuckDBDataChunk[] = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return chunks;
    chunks.push(chunk);
  }
}

describe("column readers", () => {
  test("read from vector memory exactly what readerFor reads value by value, NULLs included, over several chunks", async () => {
    const select = Object.entries(FAST_COLUMNS)
      .map(([name, sql]) => `CASE WHEN i % 7 = 3 THEN NULL ELSE ${sql} END AS ${name}`)
      .join(", ");
    const result = await connection.run(`SELECT ${select} FROM range(5000) t(i)`);
    const types = result.columnTypes();
    const chunks = await chunksOf(`SELECT ${select} FROM range(5000) t(i)`);
    expect(chunks.length).toBeGreaterThan(2);
    let rows = 0;
    for (const chunk of chunks) {
      for (let c = 0; c < types.length; c++) {
        const type = types[c]!;
        const expected = chunk.getColumnValues(c).map((raw) => readerFor(type)(raw ?? null));
        const actual = columnReaderFor(type)(chunk, c);
        expect(actual, `${Object.keys(FAST_COLUMNS)[c]} (${type.toString()})`).toEqual(expected);
        // -0.0: toEqual takes it for 0; Object.is does not.
        actual.forEach((v, r) => typeof v === "number" && expect(Object.is(v, expected[r]), `row ${rows + r}`).toBe(true));
      }
      rows += chunk.rowCount;
    }
    expect(rows).toBe(5000);
    const nulls = columnReaderFor(types[0]!)(chunks[0]!, 0).filter((v) => v === null).length;
    expect(nulls).toBe(Math.floor((2048 - 4) / 7) + 1);
  });

  test("infinite dates and timestamps are refused with MDM_UNSUPPORTED_VALUE, as readerFor refuses them", async () => {
    for (const sql of ["SELECT 'infinity'::DATE", "SELECT '-infinity'::DATE", "SELECT 'infinity'::TIMESTAMP", "SELECT '-infinity'::TIMESTAMPTZ"]) {
      const result = await connection.run(sql);
      const type = result.columnTypes()[0]!;
      const [chunk] = await chunksOf(sql);
      const error = (() => {
        try {
          columnReaderFor(type)(chunk!, 0);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isMdmError(error, "MDM_UNSUPPORTED_VALUE"), sql).toBe(true);
      expect(String((error as Error).message)).toMatch(/infinity/);
    }
  });
});

import { afterEach, describe, expect, test } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { isMdmError, valuesEqual, type Row } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "../src/index.js";
import { ALL_TYPES, edgeRows, tempHome } from "./helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fresh(): Promise<DuckdbStorageBackend> {
  const home = tempHome();
  const backend = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB", threads: 2 } });
  cleanups.push(home.cleanup, () => backend.close());
  await backend.createDataset("types");
  return backend;
}

function expectSameRows(actual: Row[], expected: Row[]): void {
  expect(actual.length).toBe(expected.length);
  const byId = new Map(actual.map((r) => [r.id, r]));
  for (const row of expected) {
    const got = byId.get(row.id ?? null);
    expect(got, `row ${String(row.id)}`).toBeDefined();
    for (const c of ALL_TYPES) {
      const want = row[c.name] ?? null;
      expect(valuesEqual(c.type, got![c.name] ?? null, want), `${c.name} of row ${String(row.id)}: got ${String(got![c.name])}, want ${String(want)}`).toBe(true);
    }
  }
}

describe("every logical type round-trips exactly", () => {
  test("through saveData/loadData, with the declared column types", async () => {
    const backend = await fresh();
    await backend.saveData("types", { columns: ALL_TYPES, rows: edgeRows() }, "data");
    const df = await backend.loadData("types", "data");
    expectSameRows(df.rows, edgeRows());
    expect(df.columns).toEqual(ALL_TYPES.map((c) => ({ ...c, nullable: c.nullable ?? true })));
    const f = df.rows.find((r) => r.id === 2n)!.f;
    expect(f).toBe(-5e-324); // the smallest negative subnormal, exact (-0.0 is refused: see negative-zero.test.ts)
  });

  test("through writeBatches/readBatches in small batches", async () => {
    const backend = await fresh();
    const engine = await backend.getDatasetEngine("types");
    const rows = edgeRows().map((r) => ALL_TYPES.map((c) => r[c.name] ?? null));
    const written = await backend.writeBatches("data", ALL_TYPES, [rows.slice(0, 2), rows.slice(2)], { engine });
    expect(written).toBe(5);
    const seen: Row[] = [];
    let batches = 0;
    for await (const batch of backend.readBatches("data", { engine, batchSize: 2, orderBy: ["id"] })) {
      batches++;
      for (const r of batch.rows) seen.push(Object.fromEntries(batch.columns.map((c, i) => [c.name, r[i] ?? null])));
    }
    expect(batches).toBe(3);
    expectSameRows(seen, edgeRows());
  });

  test("timestamptz is the UTC instant whatever the session TimeZone", async () => {
    const backend = await fresh();
    const engine = await backend.getDatasetEngine("types");
    // Every connection of the instance now renders and casts in Los Angeles time.
    await backend.executeQuery("SET GLOBAL TimeZone = 'America/Los_Angeles'", engine);
    await backend.saveData("types", { columns: ALL_TYPES, rows: edgeRows() }, "data");
    const df = await backend.readTable("data", { engine, where: { tz: edgeRows()[0]!.tz! } });
    expect(df.rows.map((r) => r.id)).toEqual([1n]);
    expect((df.rows[0]!.tz as { micros: bigint }).micros).toBe(1704067200123456n);
    const instance = (await backend.getConnection(engine)) as DuckDBInstance;
    const connection = await instance.connect();
    try {
      const result = await connection.runAndReadAll("SELECT tz, tz::VARCHAR, current_setting('TimeZone') FROM data WHERE id = 1");
      const [raw, text, zone] = result.getRows()[0]!;
      expect((raw as { micros: bigint }).micros).toBe(1704067200123456n);
      expect(text).toBe("2023-12-31 16:00:00.123456-08");
      expect(zone).toBe("America/Los_Angeles");
    } finally {
      connection.closeSync();
    }
  });

  test("equality filters bind typed parameters (timestamptz, decimal, blob, date)", async () => {
    const backend = await fresh();
    await backend.saveData("types", { columns: ALL_TYPES, rows: edgeRows() }, "data");
    const engine = await backend.getDatasetEngine("types");
    const row = edgeRows()[0]!;
    for (const column of ["tz", "d", "bl", "dt", "ts", "i", "t"]) {
      const df = await backend.readTable("data", { engine, where: { [column]: row[column] ?? null } });
      expect(df.rows.map((r) => r.id), column).toEqual([1n]);
    }
  });
});

describe("DuckDB types that the value model reads exactly", () => {
  test("HUGEINT, UBIGINT and UHUGEINT read as exact decimals; narrow integers widen to int64", async () => {
    const backend = await fresh();
    const engine = await backend.getDatasetEngine("types");
    await backend.executeQuery("CREATE TABLE wide AS SELECT 170141183460469231731687303715884105727::HUGEINT AS h, 18446744073709551615::UBIGINT AS u, 340282366920938463463374607431768211455::UHUGEINT AS uh, 7::TINYINT AS small, 1.5::FLOAT AS fl", engine);
    const info = await backend.getTableInfo("wide", engine);
    expect(info.columns.map((c) => [c.name, c.type, c.precision, c.scale])).toEqual([
      ["h", "decimal", 38, 0],
      ["u", "decimal", 20, 0],
      ["uh", "decimal", 39, 0],
      ["small", "int64", undefined, undefined],
      ["fl", "float64", undefined, undefined],
    ]);
    const df = await backend.readTable("wide", { engine });
    expect(df.rows[0]).toEqual({ h: "170141183460469231731687303715884105727", u: "18446744073709551615", uh: "340282366920938463463374607431768211455", small: 7n, fl: 1.5 });
  });

  test("query() returns raw-exact values, never the lossy JS conversions", async () => {
    const backend = await fresh();
    const engine = await backend.getDatasetEngine("types");
    const df = await backend.query("SELECT 9007199254740993.01::DECIMAL(20,2) AS d, TIMESTAMP '1960-01-01 00:00:00.000001' AS ts, 9007199254740993::BIGINT AS b, NULL::VARCHAR AS n", [], engine);
    expect(df.rows[0]!.d).toBe("9007199254740993.01");
    expect((df.rows[0]!.ts as { micros: bigint }).micros).toBe(-315619199999999n);
    expect(df.rows[0]!.b).toBe(9007199254740993n);
    expect(df.rows[0]!.n).toBeNull();
  });
});

describe("decimals DuckDB's DECIMAL cannot hold are text-encoded", () => {
  test("unconstrained and wider-than-38 decimals round-trip exactly as marked VARCHAR, NaN and Infinity included", async () => {
    const backend = await fresh();
    const columns = [
      { name: "id", type: "int64" },
      { name: "free", type: "decimal" },
      { name: "wide", type: "decimal", precision: 50, scale: 20 },
    ] as const;
    const rows = [
      { id: 1n, free: "0.000000000000000000000000000001", wide: "123456789012345678901234567890.12345678901234567890" },
      { id: 2n, free: "1234567890123456789012345678901234567890", wide: "-0.00000000000000000001" },
      { id: 3n, free: "NaN", wide: null },
      { id: 4n, free: "-Infinity", wide: "0.10" },
      { id: 5n, free: "0.10", wide: "1e3" },
    ];
    await backend.saveData("types", { columns: [...columns], rows }, "dec");
    const engine = await backend.getDatasetEngine("types");
    const info = await backend.getTableInfo("dec", engine);
    expect(info.columns.map((c) => [c.name, c.type, c.precision, c.scale])).toEqual([
      ["id", "int64", undefined, undefined],
      ["free", "decimal", undefined, undefined],
      ["wide", "decimal", 50, 20],
    ]);
    const read = (await backend.readTable("dec", { engine, orderBy: ["id"] })).rows;
    expect(read).toEqual([...rows.slice(0, 4), { id: 5n, free: "0.10", wide: "1000" }]);
    // The encoding as DuckDB sees it: VARCHAR and a column comment.
    const raw = await backend.query("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = 'dec' ORDER BY column_index", [], engine);
    expect(raw.rows).toEqual([
      { column_name: "id", data_type: "BIGINT", comment: null },
      { column_name: "free", data_type: "VARCHAR", comment: "mdm:decimal" },
      { column_name: "wide", data_type: "VARCHAR", comment: "mdm:decimal(50,20)" },
    ]);
    // Statistics go by numeric value, not by text ("0.10" < "1234..." but 1e-30 is the smallest finite value).
    const stats = await backend.analyzeColumn("dec", "wide", engine);
    expect(stats.min).toBe("-0.00000000000000000001");
    expect(stats.max).toBe("123456789012345678901234567890.12345678901234567890");
    expect(stats.nullCount).toBe(1);
  });

  test("a declared precision still bounds a text-encoded decimal", async () => {
    const backend = await fresh();
    const error = await backend.saveData("types", { columns: [{ name: "x", type: "decimal", precision: 40, scale: 2 }], rows: [{ x: "1.234" }] }, "d").catch((e) => e);
    expect(isMdmError(error, "MDM_UNSUPPORTED_VALUE")).toBe(true);
    expect(await backend.listTables("types")).not.toContain("d");
  });
});

describe("what DuckDB cannot hold is refused before anything is written", () => {
  test("NaN and Infinity decimals, and values beyond the scale, are MDM_UNSUPPORTED_VALUE", async () => {
    const backend = await fresh();
    const column = { name: "x", type: "decimal", precision: 10, scale: 2 } as const;
    for (const value of ["NaN", "Infinity", "-Infinity", "1.234", "123456789.5"]) {
      const error = await backend.saveData("types", { columns: [column], rows: [{ x: "1" }, { x: value }] }, "d").catch((e) => e);
      expect(isMdmError(error, "MDM_UNSUPPORTED_VALUE"), value).toBe(true);
      expect(await backend.listTables("types"), value).not.toContain("d");
    }
  });

  test("a leading byte-order mark survives (the driver's decoder would drop it)", async () => {
    const backend = await fresh();
    const rows = [{ t: "\ufeffbom" }, { t: "\ufeff" }, { t: "a\ufeff" }];
    await backend.saveData("types", { columns: [{ name: "t", type: "text" }], rows }, "bom");
    expect((await backend.loadData("types", "bom")).rows).toEqual(rows);
    const engine = await backend.getDatasetEngine("types");
    expect((await backend.query("SELECT chr(65279) || 'x' AS v", [], engine)).rows[0]!.v).toBe("\ufeffx");
  });

  test('identifiers are case-insensitive: "A" and "a" collide', async () => {
    const backend = await fresh();
    const error = await backend.saveData("types", { columns: [{ name: "A", type: "int64" }, { name: "a", type: "int64" }], rows: [] }, "t").catch((e) => e);
    expect(isMdmError(error, "MDM_INVALID_NAME")).toBe(true);
    await backend.saveData("types", { columns: [{ name: "v", type: "int64" }], rows: [{ v: 1n }] }, "Train");
    const engine = await backend.getDatasetEngine("types");
    expect(await backend.tableExists("train", engine)).toBe(true);
    const again = await backend.saveData("types", { columns: [{ name: "v", type: "int64" }], rows: [{ v: 2n }] }, "TRAIN", "fail").catch((e) => e);
    expect(isMdmError(again, "MDM_TABLE_EXISTS")).toBe(true);
  });
});

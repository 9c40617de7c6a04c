import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { isMdmError, valuesEqual } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "../src/index.js";
import { ALL_TYPES, edgeRows, tempHome } from "./helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ backend: DuckdbStorageBackend; dir: string }> {
  const home = tempHome();
  const backend = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB", threads: 2 } });
  cleanups.push(home.cleanup, () => backend.close());
  await backend.createDataset("io");
  await backend.saveData("io", { columns: ALL_TYPES, rows: edgeRows() }, "data");
  return { backend, dir: home.dir };
}

/** A raw connection on a separate in-memory DuckDB (not through any backend). */
async function rawDuckdb() {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  cleanups.push(() => {
    connection.closeSync();
    instance.closeSync();
  });
  return connection;
}

describe("native Parquet and JSON", () => {
  test("a Parquet file exported by the backend is read back by DuckDB into identical rows", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    const file = join(dir, "data.parquet");
    await backend.exportFile("data", file, "parquet", { engine });
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    await backend.close();
    const raw = await rawDuckdb();
    await raw.run(`ATTACH '${backend.getDatabasePath("io")}' AS src (READ_ONLY)`);
    const diff = async (a: string, b: string) => (await raw.runAndReadAll(`SELECT COUNT(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})`)).getRows()[0]![0];
    expect(await diff("src.data", `read_parquet('${file}')`)).toBe(0n);
    expect(await diff(`read_parquet('${file}')`, "src.data")).toBe(0n);
    const types = (await raw.runAndReadAll(`SELECT column_type FROM (DESCRIBE SELECT * FROM read_parquet('${file}'))`)).getRows().map((r) => r[0]);
    expect(types).toEqual(["BIGINT", "BIGINT", "DOUBLE", "DECIMAL(38,10)", "BOOLEAN", "VARCHAR", "BLOB", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "JSON"]);
  });

  test("a Parquet file made elsewhere (DuckDB's own COPY) imports with its types and exact values", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    const file = join(dir, "elsewhere.parquet");
    const raw = await rawDuckdb();
    await raw.run(`COPY (SELECT 9223372036854775807::BIGINT AS big, 42::INTEGER AS i32, -2.5e-308::DOUBLE AS neg, '12345.678'::DECIMAL(18,3) AS dec, 'a' || chr(0) || 'b' AS txt, true AS flag,
      DATE '1960-06-02' AS day, TIMESTAMP '1960-01-01 00:00:00.000001' AS ts, TIMESTAMPTZ '2024-01-01 00:00:00.123456+00' AS tz, '\\x00\\xFF'::BLOB AS bytes) TO '${file}' (FORMAT PARQUET)`);
    const count = await backend.importFile("imported", file, "parquet", { engine });
    expect(count).toBe(1);
    const info = await backend.getTableInfo("imported", engine);
    expect(info.columns.map((c) => [c.name, c.type, c.precision, c.scale])).toEqual([
      ["big", "int64", undefined, undefined],
      ["i32", "int64", undefined, undefined],
      ["neg", "float64", undefined, undefined],
      ["dec", "decimal", 18, 3],
      ["txt", "text", undefined, undefined],
      ["flag", "boolean", undefined, undefined],
      ["day", "date", undefined, undefined],
      ["ts", "timestamp", undefined, undefined],
      ["tz", "timestamptz", undefined, undefined],
      ["bytes", "blob", undefined, undefined],
    ]);
    const row = (await backend.readTable("imported", { engine })).rows[0]!;
    expect(row.big).toBe(9223372036854775807n);
    expect(row.i32).toBe(42n);
    expect(row.neg).toBe(-2.5e-308);
    expect(row.dec).toBe("12345.678");
    expect(row.txt).toBe("a\u0000b");
    expect(String(row.day)).toBe("1960-06-02");
    expect((row.ts as { micros: bigint }).micros).toBe(-315619199999999n);
    expect((row.tz as { micros: bigint }).micros).toBe(1704067200123456n);
    expect([...(row.bytes as Uint8Array)]).toEqual([0, 255]);
    // Appending to the imported table goes through the Appender with its native INTEGER column.
    await backend.saveData("io", { columns: info.columns, rows: [{ ...row, i32: 7n }] }, "imported", "append");
    expect((await backend.query("SELECT SUM(i32) AS s FROM imported", [], engine)).rows[0]!.s).toBe("49");
    const tooBig = await backend.saveData("io", { columns: info.columns, rows: [{ ...row, i32: 2n ** 40n }] }, "imported", "append").catch((e) => e);
    expect(isMdmError(tooBig, "MDM_UNSUPPORTED_VALUE")).toBe(true);
  });

  test("JSON export and import round-trip the rows (newline-delimited JSON)", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    await backend.saveData("io", { columns: [{ name: "id", type: "int64" }, { name: "name", type: "text" }, { name: "score", type: "float64" }], rows: [{ id: 1n, name: "a", score: 0.5 }, { id: 2n, name: "b\"", score: -2.25 }] }, "small");
    const file = join(dir, "small.json");
    await backend.exportFile("small", file, "json", { engine });
    expect(await backend.importFile("back", file, "json", { engine })).toBe(2);
    const rows = (await backend.readTable("back", { engine, orderBy: ["id"] })).rows;
    expect(rows).toEqual([{ id: 1n, name: "a", score: 0.5 }, { id: 2n, name: 'b"', score: -2.25 }]);
    expect(await backend.importFile("back", file, "json", { engine, ifExists: "append" })).toBe(2);
    expect((await backend.getTableInfo("back", engine)).rowCount).toBe(4);
  });

  test("a failed import leaves nothing behind and an existing table is refused", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    const bad = join(dir, "bad.parquet");
    writeFileSync(bad, "not parquet");
    const error = await backend.importFile("broken", bad, "parquet", { engine }).catch((e) => e);
    expect(isMdmError(error)).toBe(true);
    expect(await backend.tableExists("broken", engine)).toBe(false);
    const exists = await backend.importFile("data", bad, "parquet", { engine }).catch((e) => e);
    expect(isMdmError(exists, "MDM_TABLE_EXISTS")).toBe(true);
    const missing = await backend.exportFile("nope", join(dir, "x.parquet"), "parquet", { engine }).catch((e) => e);
    expect(isMdmError(missing, "MDM_TABLE_NOT_FOUND")).toBe(true);
    expect(existsSync(join(dir, "x.parquet"))).toBe(false);
  });

  test("round trip through Parquet keeps every value of the edge rows", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    const file = join(dir, "edge.parquet");
    await backend.exportFile("data", file, "parquet", { engine });
    await backend.importFile("again", file, "parquet", { engine });
    const rows = (await backend.readTable("again", { engine, orderBy: ["id"] })).rows;
    edgeRows().forEach((want, r) => {
      for (const c of ALL_TYPES) expect(valuesEqual(c.type, rows[r]![c.name] ?? null, want[c.name] ?? null), `${c.name}/${r}`).toBe(true);
    });
  });
});

describe("extensions never come from the network", () => {
  test("parquet and json are statically linked; auto-install and auto-load are off", async () => {
    const { backend } = await setup();
    const engine = await backend.getDatasetEngine("io");
    const settings = await backend.query(
      "SELECT name, value FROM duckdb_settings() WHERE name IN ('autoinstall_known_extensions', 'autoload_known_extensions', 'allow_community_extensions') ORDER BY name",
      [],
      engine,
    );
    expect(settings.rows).toEqual([
      { name: "allow_community_extensions", value: "false" },
      { name: "autoinstall_known_extensions", value: "false" },
      { name: "autoload_known_extensions", value: "false" },
    ]);
    const extensions = await backend.query("SELECT extension_name, loaded, install_mode FROM duckdb_extensions() WHERE extension_name IN ('json', 'parquet') ORDER BY 1", [], engine);
    expect(extensions.rows).toEqual([
      { extension_name: "json", loaded: true, install_mode: "STATICALLY_LINKED" },
      { extension_name: "parquet", loaded: true, install_mode: "STATICALLY_LINKED" },
    ]);
  });

  test("a feature of an extension that is not bundled fails at once instead of downloading", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    // Point the extension repository at a closed local port: any download attempt would be a connection error.
    await backend.executeQuery("SET custom_extension_repository = 'http://127.0.0.1:9'", engine);
    await backend.executeQuery(`SET extension_directory = '${join(dir, "ext")}'`, engine);
    const started = Date.now();
    const error = await backend.query("SELECT * FROM sqlite_scan('x.db', 't')", [], engine).catch((e) => e);
    expect(isMdmError(error)).toBe(true);
    expect(error.message).toMatch(/sqlite_scanner|sqlite/i);
    expect(error.message).not.toMatch(/127\.0\.0\.1|HTTP|download/i);
    expect(Date.now() - started).toBeLessThan(5000);
    // Parquet and JSON work in this configuration: nothing to fetch, nothing read from an extension directory.
    await backend.exportFile("data", join(dir, "offline.parquet"), "parquet", { engine });
    await backend.exportFile("data", join(dir, "offline.json"), "json", { engine });
    expect(await backend.importFile("p", join(dir, "offline.parquet"), "parquet", { engine })).toBe(5);
    expect(await backend.importFile("j", join(dir, "offline.json"), "json", { engine })).toBe(5);
    expect(existsSync(join(dir, "ext"))).toBe(false);
  });
});

describe("CSV export of a table another tool made", () => {
  test("a TIMESTAMP_NS column keeps its nanoseconds; TIMESTAMP_S and FLOAT columns are csvText's text", async () => {
    const { backend, dir } = await setup();
    const engine = await backend.getDatasetEngine("io");
    await backend.executeQuery("CREATE TABLE made AS SELECT TIMESTAMP_NS '2020-01-01 00:00:00.123456789' AS ns, TIMESTAMP_S '2020-01-01 00:00:01' AS s, 1.5::FLOAT AS f, 2::FLOAT AS g", engine);
    const file = join(dir, "made.csv");
    expect(await backend.exportFile("made", file, "csv", { engine })).toBe(1);
    expect(readFileSync(file, "utf8")).toBe("ns,s,f,g\n2020-01-01 00:00:00.123456789,2020-01-01 00:00:01.000000,1.5,2.0\n");
  });
});

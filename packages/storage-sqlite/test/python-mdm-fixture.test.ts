import { afterEach, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, SqlTimestamp, type IStorageBackend } from "@mdm/storage-core";
import { buildPythonMdmDataset } from "./fixtures/python-mdm/build.js";
import { tempHome } from "./helpers.js";
import { IMPLEMENTATIONS } from "./implementations.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(IMPLEMENTATIONS)("a dataset written by Python MDM, read by $name", ({ create }) => {
  function open(): { backend: IStorageBackend; home: string; databasePath: string } {
    const { home, cleanup } = tempHome("mdm-python-");
    cleanups.push(cleanup);
    const { databasePath } = buildPythonMdmDataset(home);
    const backend = create(home);
    cleanups.push(() => backend.close());
    return { backend, home, databasePath };
  }

  it("finds the dataset where the registry says it is", async () => {
    const { backend, home, databasePath } = open();
    const entry = new DatasetRegistry(new MdmHome(home)).read("titanic");
    expect(entry.database.path).toBe(databasePath);
    expect(backend.getDatabasePath("titanic")).toBe(databasePath);
    expect(await backend.listDatasets()).toEqual(["titanic"]);
    expect(await backend.listTables("titanic")).toEqual(["test", "train"]);
  });

  it("reads pandas' sqlite3 DDL (INTEGER, REAL, TEXT, TIMESTAMP) exactly", async () => {
    const { backend } = open();
    const df = await backend.loadData("titanic", "train");
    expect(df.columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "int64"],
      ["value", "float64"],
      ["name", "text"],
      ["ts", "timestamp"],
      ["survived", "int64"],
    ]);
    expect(df.rows.map((r) => r.id)).toEqual([1n, 2n, 3n, 9007199254740993n]);
    expect(df.rows.map((r) => r.value)).toEqual([7.25, 71.2833, null, -0.5]);
    expect(df.rows[3]?.name).toBe("");
    expect((df.rows[0]?.ts as SqlTimestamp).micros).toBe(SqlTimestamp.parse("1912-04-10 12:00:00").micros);
    expect((df.rows[1]?.ts as SqlTimestamp).toString()).toBe("1912-04-10 12:00:00.123456");
    expect(df.rows[3]?.ts).toBeNull();
  });

  it("reads pandas' SQLAlchemy DDL (BIGINT, FLOAT, DATETIME, BOOLEAN) exactly", async () => {
    const { backend } = open();
    const df = await backend.loadData("titanic", "test");
    expect(df.columns.map((c) => c.type)).toEqual(["int64", "float64", "text", "timestamp", "boolean"]);
    expect(df.rows.map((r) => r.flag)).toEqual([true, false, null]);
    expect((df.rows[1]?.ts as SqlTimestamp).toString()).toBe("1912-04-15 02:20:00.500000");
    expect(df.rows[1]?.value).toBe(7);
  });

  it("reads MDM's plain-text metadata and analyses columns", async () => {
    const { backend } = open();
    expect(await backend.getMetadata("titanic")).toEqual({ backend_type: "sqlite", row_count: 4 });
    const engine = await backend.getDatasetEngine("titanic");
    const stats = await backend.analyzeColumn("train", "value", engine);
    expect(stats).toMatchObject({ count: 4, nullCount: 1, uniqueCount: 3, min: -0.5, max: 71.2833 });
    expect(stats.mean).toBeCloseTo((7.25 + 71.2833 - 0.5) / 3, 10);
  });

  it("appends to a pandas table without changing its declared types", async () => {
    const { backend } = open();
    await backend.saveData("titanic", { columns: [{ name: "id", type: "int64" }, { name: "value", type: "float64" }, { name: "name", type: "text" }, { name: "ts", type: "timestamp" }, { name: "survived", type: "int64" }], rows: [{ id: 5n, value: 1.5, name: "new", ts: SqlTimestamp.parse("1912-04-12 00:00:00"), survived: 1n }] }, "train", "append");
    const engine = await backend.getDatasetEngine("titanic");
    const types = await backend.query("SELECT type FROM pragma_table_info('train') ORDER BY cid", [], engine);
    expect(types.rows.map((r) => r.type)).toEqual(["INTEGER", "REAL", "TEXT", "TIMESTAMP", "INTEGER"]);
    expect((await backend.getTableInfo("train", engine)).rowCount).toBe(5);
  });
});

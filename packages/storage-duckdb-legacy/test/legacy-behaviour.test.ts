import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { DuckDBConnection, DuckDBListValue, DuckDBPreparedStatement } from "@duckdb/node-api";
import { defaultConfig, isMdmError, type Value } from "@mdm/storage-core";
import { openInstanceCount } from "@mdm/storage-duckdb";
import { INSERT_CHUNK_ROWS, LegacyDuckdbStorageBackend, backendFactory } from "../src/index.js";
import { tempHome } from "../../storage-duckdb/test/helpers.js";
import { expectSameRows, fixtureTable } from "../../testing/test/support/fixture-rows.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function legacy(duckdb = {}): { backend: LegacyDuckdbStorageBackend; dir: string } {
  const home = tempHome("mdm-duckdb-legacy-");
  const backend = new LegacyDuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB", ...duckdb } });
  cleanups.push(home.cleanup, () => backend.close());
  return { backend, dir: home.dir };
}

describe("legacy DuckDB behaviour", () => {
  test("one prepared INSERT per write, executed for every 10,000 rows with one bound list per column, never spliced values", async () => {
    const { backend } = legacy();
    await backend.createDataset("chunks");
    const prepare = vi.spyOn(DuckDBConnection.prototype, "prepare");
    const bind = vi.spyOn(DuckDBPreparedStatement.prototype, "bind");
    const rows = Array.from({ length: 25_001 }, (_, i) => ({ n: BigInt(i), s: `it's ${i}` }));
    await backend.saveData("chunks", { columns: [{ name: "n", type: "int64" }, { name: "s", type: "text" }], rows }, "t");
    const inserts = prepare.mock.calls.filter(([sql]) => String(sql).startsWith('INSERT INTO "t"'));
    expect(inserts.map(([sql]) => sql)).toEqual(['INSERT INTO "t" ("n", "s") SELECT UNNEST($1), UNNEST($2)']);
    expect(INSERT_CHUNK_ROWS).toBe(10_000);
    const lists = bind.mock.calls
      .filter(([values]) => Array.isArray(values) && values[0] instanceof DuckDBListValue)
      .map(([values]) => (values as DuckDBListValue[]).map((list) => list.items.length));
    expect(lists).toEqual([
      [10_000, 10_000],
      [10_000, 10_000],
      [5_001, 5_001],
    ]);
    prepare.mockRestore();
    bind.mockRestore();
    const info = await backend.getTableInfo("t", await backend.getDatasetEngine("chunks"));
    expect(info.rowCount).toBe(25_001);
    expect((await backend.readTable("t", { engine: await backend.getDatasetEngine("chunks"), where: { n: 25_000n } })).rows).toEqual([{ n: 25_000n, s: "it's 25000" }]);
  });

  test("a batch larger than one statement keeps every value of every type exactly; a row failing in the middle of a batch leaves nothing of the write", async () => {
    const { backend } = legacy();
    await backend.createDataset("big");
    const engine = await backend.getDatasetEngine("big");
    // Every fixture value the backend holds, in one batch of more rows than one execution takes, then a
    // second batch through the same statement.
    const { columns, rows } = fixtureTable(backend.capabilities, INSERT_CHUNK_ROWS + 8);
    const second = rows.splice(INSERT_CHUNK_ROWS + 7);
    expect(await backend.writeBatches("t", columns, [rows, second], { engine })).toBe(INSERT_CHUNK_ROWS + 8);
    const back: Value[][] = [];
    for await (const batch of backend.readBatches("t", { engine, orderBy: ["id"], batchSize: 4096 })) back.push(...batch.rows);
    expectSameRows(columns, back, [...rows, ...second]);

    // Atomic as before: a key the engine refuses in the second execution of the first batch, and a value the
    // writer refuses in the second batch, each roll back the whole write (the first rows included).
    await backend.executeQuery("CREATE TABLE k (id BIGINT PRIMARY KEY, s VARCHAR)", engine);
    await backend.writeBatches("k", [{ name: "id", type: "int64" }, { name: "s", type: "text" }], [[[-1n, "kept"]]], { engine, ifExists: "append" });
    const keyed = (n: number, duplicateAt: number) => Array.from({ length: n }, (_, i) => [BigInt(i === duplicateAt ? 3 : i), `row ${i}`]);
    const clash = backend.writeBatches("k", [{ name: "id", type: "int64" }, { name: "s", type: "text" }], [keyed(INSERT_CHUNK_ROWS + 500, INSERT_CHUNK_ROWS + 250)], { engine, ifExists: "append" });
    await expect(clash).rejects.toThrow(/[Dd]uplicate key|constraint/);
    expect((await backend.query("SELECT id, s FROM k", [], engine)).rows).toEqual([{ id: -1n, s: "kept" }]);
    const firstBatch = Array.from({ length: 3000 }, (_, i) => [i + 0.5]);
    const secondBatch = Array.from({ length: 5000 }, (_, i) => [i === 4321 ? -0 : i + 0.25]);
    const refused = backend.writeBatches("f", [{ name: "x", type: "float64" }], [firstBatch, secondBatch], { engine });
    await expect(refused).rejects.toMatchObject({ code: "MDM_UNSUPPORTED_VALUE" });
    expect(await backend.tableExists("f", engine)).toBe(false);
  });

  test("one cached engine: opening another dataset closes the previous one", async () => {
    const { backend } = legacy();
    const before = openInstanceCount();
    await backend.createDataset("one");
    await backend.createDataset("two");
    await backend.loadData("one", "_metadata").catch(() => undefined);
    await backend.getDatasetEngine("one");
    expect(openInstanceCount() - before).toBe(1);
    await backend.getDatasetEngine("two");
    expect(openInstanceCount() - before).toBe(1);
    expect((await backend.getMetadata("one")).dataset_name).toBe("one");
  });

  test("settings of mdm.yaml are applied (factory), metrics are off, no optimize or file import", async () => {
    const home = tempHome("mdm-duckdb-legacy-");
    cleanups.push(home.cleanup);
    const config = defaultConfig();
    config.database.duckdb.memory_limit = "256MB";
    config.database.duckdb.threads = 1;
    config.database.duckdb.temp_directory = join(home.dir, "spill");
    const backend = backendFactory.create({ homeDir: home.dir, config }) as LegacyDuckdbStorageBackend;
    cleanups.push(() => backend.close());
    expect([backendFactory.backendType, backendFactory.implementation]).toEqual(["duckdb", "legacy"]);
    await backend.createDataset("s");
    const engine = await backend.getDatasetEngine("s");
    const df = await backend.query("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, current_setting('temp_directory') AS d", [], engine);
    expect(df.rows[0]).toEqual({ m: "244.1 MiB", t: 1n, d: join(home.dir, "spill") });
    expect(backend.capabilities.metrics).toBe(false);
    expect(backend.getMetrics()).toEqual([]);
    expect(isMdmError(await backend.optimize(engine).catch((e) => e), "MDM_UNSUPPORTED_OPERATION")).toBe(true);
    expect(isMdmError(await backend.importFile("x", join(home.dir, "x.parquet"), "parquet", { engine }).catch((e) => e), "MDM_UNSUPPORTED_OPERATION")).toBe(true);
  });

  test("on the one shared connection a read waits for an open write transaction and never deadlocks a write", async () => {
    const { backend } = legacy();
    await backend.createDataset("gate");
    const engine = await backend.getDatasetEngine("gate");
    const columns = [{ name: "n", type: "int64" as const }];
    await backend.writeBatches("t", columns, [[[1n], [2n], [3n]]], { engine });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    async function* source() {
      yield [[4n], [5n]];
      started();
      await paused; // the write transaction is open with 2 of its 4 rows written
      yield [[6n], [7n]];
    }
    const write = backend.writeBatches("t", columns, source(), { engine, ifExists: "append" });
    await inside;
    const read = backend.query("SELECT COUNT(*) AS n FROM t", [], engine);
    const early = await Promise.race([read.then(() => "read finished"), new Promise((r) => setTimeout(() => r("read waiting"), 200))]);
    expect(early).toBe("read waiting");
    release();
    expect(await write).toBe(4);
    expect((await read).rows[0]!.n).toBe(7n);
    // Writing while a read is being iterated does not deadlock (reads are materialised in one statement).
    let seen = 0;
    for await (const batch of backend.readBatches("t", { engine, batchSize: 2 })) {
      seen += batch.rows.length;
      if (seen === 2) await backend.writeBatches("u", columns, [[[1n]]], { engine });
    }
    expect(seen).toBe(7);
    expect(await backend.tableExists("u", engine)).toBe(true);
  });

  test("access_mode READ_ONLY is honoured", async () => {
    const { backend, dir } = legacy();
    await backend.createDataset("ro");
    await backend.saveData("ro", { columns: [{ name: "x", type: "int64" }], rows: [{ x: 1n }] }, "t");
    await backend.close();
    const reader = new LegacyDuckdbStorageBackend({ homeDir: dir, duckdb: { memoryLimit: "1GB", accessMode: "READ_ONLY" } });
    cleanups.push(() => reader.close());
    expect((await reader.loadData("ro", "t")).rows).toEqual([{ x: 1n }]);
    expect(isMdmError(await reader.saveData("ro", [{ x: 2n }], "u").catch((e) => e), "MDM_READ_ONLY")).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, StorageBackendManager, defaultConfig, isMdmError, type ColumnDef, type Value } from "@mdm/storage-core";
import { INSERT_CHUNK_ROWS, LegacyPostgresqlStorageBackend, MAX_BIND_PARAMETERS, backendFactory } from "../src/index.js";
import { columns, expectRoundTrip, rows } from "../../storage-postgresql/test/support/every-type.js";
import { adminClient, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "../../storage-postgresql/test/support/server.js";
import { expectSameRows, fixtureTable } from "../../testing/test/support/fixture-rows.js";

const prefix = uniquePrefix();

describe.skipIf(!serverAvailable)("LegacyPostgresqlStorageBackend", () => {
  let backend: LegacyPostgresqlStorageBackend;

  beforeAll(() => {
    backend = new LegacyPostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }) });
  });

  afterAll(async () => {
    await backend?.close();
    await dropPrefixedDatabases(prefix);
  });

  it("creates one database {prefix}{name} per dataset, lists and drops it", async () => {
    await backend.createDataset("iris", { metadata: { source: "test" } });
    expect(await backend.datasetExists("iris")).toBe(true);
    expect(backend.getDatabasePath("iris")).toBe(`${prefix}iris`);
    expect(await backend.listDatasets()).toEqual(["iris"]);
    expect((await backend.getMetadata("iris")).source).toBe("test");
    // another session on the database does not stop the drop
    const other = await adminClient(`${prefix}iris`);
    await backend.dropDataset("iris");
    await other.end().catch(() => undefined);
    expect(await backend.datasetExists("iris")).toBe(false);
  });

  it("round-trips every logical type exactly", async () => {
    await backend.createDataset("types");
    const engine = await backend.getDatasetEngine("types");
    expect(await backend.writeBatches("all", columns, [rows], { engine })).toBe(3);
    const read: Value[][] = [];
    for await (const batch of backend.readBatches("all", { engine, batchSize: 2 })) read.push(...batch.rows);
    expectRoundTrip(read);
    const info = await backend.getTableInfo("all", engine);
    expect(info.columns.map((c) => c.type)).toEqual(columns.map((c) => c.type));
    expect(info.columns[3]).toMatchObject({ precision: 18, scale: 4 });
  });

  it("a batch of more values than 65,535 parameters keeps every fixture value exactly, in a narrow and in a wide table", async () => {
    await backend.createDataset("wide");
    const engine = await backend.getDatasetEngine("wide");
    const readAll = async (table: string) => {
      const back: Value[][] = [];
      for await (const batch of backend.readBatches(table, { engine, orderBy: ["id"], batchSize: 5000 })) back.push(...batch.rows);
      return back;
    };
    // Every fixture value PostgreSQL holds, 256 rows per statement: one batch of more values than one statement
    // could bind, then a second batch through the same prepared statement and a shorter last one.
    const fixtures = fixtureTable(backend.capabilities, Math.ceil(MAX_BIND_PARAMETERS / 20) + 300);
    expect(fixtures.rows.length * fixtures.columns.length).toBeGreaterThan(MAX_BIND_PARAMETERS);
    const tail = fixtures.rows.splice(fixtures.rows.length - 300);
    expect(await backend.writeBatches("t", fixtures.columns, [fixtures.rows, tail], { engine })).toBe(fixtures.rows.length + 300);
    expectSameRows(fixtures.columns, await readAll("t"), [...fixtures.rows, ...tail]);
    // 400 columns: floor(65,535 / 400) = 163 rows per statement, not 256.
    const columns: ColumnDef[] = [{ name: "id", type: "int64" }, ...Array.from({ length: 399 }, (_, i) => ({ name: `c${i}`, type: i % 2 ? ("text" as const) : ("int64" as const) }))];
    const rows = Array.from({ length: 200 }, (_, r) => columns.map((c, i) => (i === 0 ? BigInt(r) : c.type === "text" ? `r${r} c${i} 'q' \\` : BigInt(r * 1000 + i) - 2n ** 62n)));
    expect(INSERT_CHUNK_ROWS * columns.length).toBeGreaterThan(MAX_BIND_PARAMETERS);
    await backend.writeBatches("w", columns, [rows], { engine });
    expectSameRows(columns, await readAll("w"), rows);
  });

  it("a row failing in the middle of a batch leaves nothing of the write", async () => {
    await backend.createDataset("atomic");
    const engine = await backend.getDatasetEngine("atomic");
    const columns: ColumnDef[] = [{ name: "id", type: "int64" }, { name: "s", type: "text" }];
    await backend.executeQuery('CREATE TABLE "k" ("id" bigint PRIMARY KEY, "s" text)', engine);
    await backend.writeBatches("k", columns, [[[-1n, "kept"]]], { engine, ifExists: "append" });
    // A key the server refuses in the third statement of the first batch.
    const keyed = Array.from({ length: 1000 }, (_, i) => [BigInt(i === 600 ? 3 : i), `row ${i}`]);
    await expect(backend.writeBatches("k", columns, [keyed], { engine, ifExists: "append" })).rejects.toThrow(/duplicate key/);
    // A value the writer refuses (NUL in text) in a second batch, after a first one was sent.
    const nul = Array.from({ length: 700 }, (_, i) => [BigInt(5000 + i), i === 650 ? "a\0b" : "ok"]);
    await expect(backend.writeBatches("k", columns, [keyed.slice(0, 500), nul], { engine, ifExists: "append" })).rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED_VALUE });
    expect((await backend.query('SELECT "id", "s" FROM "k"', [], engine)).rows).toEqual([{ id: -1n, s: "kept" }]);
  });

  it("a statement prepared for a table is not reused when the table is recreated with other column types", async () => {
    // One connection, so the second write runs where the first one prepared its statement.
    const single = new LegacyPostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, pool_size: 1 }) });
    try {
      await single.createDataset("recreated");
      const engine = await single.getDatasetEngine("recreated");
      const many = (value: Value) => [Array.from({ length: INSERT_CHUNK_ROWS }, () => [value])];
      await single.writeBatches("t", [{ name: "a", type: "int64" }], many(7n), { engine });
      await single.executeQuery('DROP TABLE "t"; CREATE TABLE "t" ("a" text)', engine);
      await single.writeBatches("t", [{ name: "a", type: "text" }], many("007"), { engine, ifExists: "append" });
      expect((await single.query('SELECT DISTINCT "a" FROM "t"', [], engine)).rows).toEqual([{ a: "007" }]);
    } finally {
      await single.close();
    }
  });

  it("refuses NUL in text and names over 63 bytes before writing", async () => {
    await backend.createDataset("refuse");
    const engine = await backend.getDatasetEngine("refuse");
    const nul = backend.writeTable("t", { columns: [{ name: "s", type: "text" }], rows: [{ s: "ok" }, { s: "a\0b" }] }, { engine });
    await expect(nul).rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED_VALUE });
    expect(await backend.tableExists("t", engine)).toBe(false);
    const long = "x".repeat(64);
    await expect(backend.writeTable(long, [{ a: 1n }], { engine })).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAME });
    await expect(backend.writeTable("t2", [{ [long]: 1n }], { engine })).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAME });
    await expect(backend.createDataset("d".repeat(63 - prefix.length + 1))).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAME });
  });

  it("maps a missing database; the manager builds it from mdm.yaml by default (legacy is the default)", async () => {
    const error = await backend.getEngine(`${prefix}absent`).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.DATABASE_NOT_FOUND)).toBe(true);
    expect(backend.getMetrics()).toEqual([]);
    const config = defaultConfig();
    config.database.postgresql = serverConfig({ database_prefix: prefix });
    const manager = new StorageBackendManager({ homeDir: "/nonexistent-mdm-home", config, env: {} });
    manager.register(backendFactory);
    const made = await manager.getStorageBackend("postgresql");
    expect(made).toBeInstanceOf(LegacyPostgresqlStorageBackend);
    expect(await made.listDatasets()).toContain("types");
    await manager.clearCache();
  });
});

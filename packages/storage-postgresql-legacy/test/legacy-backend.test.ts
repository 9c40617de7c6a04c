import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, StorageBackendManager, defaultConfig, isMdmError, type ColumnDef, type Value } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend, MAX_BIND_PARAMETERS, backendFactory } from "../src/index.js";
import { columns, expectRoundTrip, rows } from "../../storage-postgresql/test/support/every-type.js";
import { adminClient, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "../../storage-postgresql/test/support/server.js";

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

  it("writes more rows than 65,535 parameters in one statement could hold", async () => {
    await backend.createDataset("wide");
    const columns: ColumnDef[] = Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, type: "int64" as const }));
    const count = Math.ceil(MAX_BIND_PARAMETERS / 11) * 2 + 17;
    const rows = Array.from({ length: count }, (_, r) => columns.map((_, c) => BigInt(r * 11 + c)));
    const engine = await backend.getDatasetEngine("wide");
    await backend.writeBatches("t", columns, [rows], { engine });
    const result = await backend.query('SELECT count(*) AS n, sum("c10") AS s FROM "t"', [], engine);
    expect(result.rows[0]?.n).toBe(BigInt(count));
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

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, SqlDate, SqlTimestamp, isMdmError, type ColumnDef, type Value } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend, MAX_BIND_PARAMETERS, backendFactory } from "../src/index.js";
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
    const columns: ColumnDef[] = [
      { name: "i", type: "int64" },
      { name: "f", type: "float64" },
      { name: "d", type: "decimal", precision: 30, scale: 10 },
      { name: "u", type: "decimal" },
      { name: "b", type: "boolean" },
      { name: "t", type: "text" },
      { name: "x", type: "blob" },
      { name: "day", type: "date" },
      { name: "ts", type: "timestamp" },
      { name: "tz", type: "timestamptz" },
      { name: "j", type: "json" },
    ];
    const rows: Value[][] = [
      [2n ** 63n - 1n, -0, "12345678901234567890.1234567890", "NaN", true, "tab\there\nnew \\ line 😀", new Uint8Array([0, 255, 92, 10]), SqlDate.parse("1960-06-02"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("2024-03-10T10:30:00.123456Z"), '{"a":1,"a":2,"big":12345678901234567890}'],
      [-(2n ** 63n), NaN, "-0.0000000001", "-Infinity", false, "", new Uint8Array(), SqlDate.fromParts(-43, 3, 15), SqlTimestamp.parse("0044-03-15 12:00:00.5"), SqlTimestamp.parse("1800-01-01 00:00:00Z"), '"\\u0000"'],
      [null, Infinity, null, "123456789012345678901234567890.000000001", null, null, null, SqlDate.parse("9999-12-31"), null, null, null],
    ];
    const engine = await backend.getDatasetEngine("types");
    expect(await backend.writeBatches("all", columns, [rows], { engine })).toBe(3);
    const read: Value[][] = [];
    for await (const batch of backend.readBatches("all", { engine, batchSize: 2 })) read.push(...batch.rows);
    expect(read).toHaveLength(3);
    expect(read[0]?.[0]).toBe(2n ** 63n - 1n);
    expect(Object.is(read[0]?.[1], -0)).toBe(true);
    expect(read[0]?.[2]).toBe("12345678901234567890.1234567890");
    expect(read[0]?.[3]).toBe("NaN");
    expect(read[0]?.[5]).toBe("tab\there\nnew \\ line 😀");
    expect([...(read[0]?.[6] as Uint8Array)]).toEqual([0, 255, 92, 10]);
    expect((read[0]?.[7] as SqlDate).toString()).toBe("1960-06-02");
    expect((read[0]?.[8] as SqlTimestamp).micros).toBe(SqlTimestamp.parse("1960-01-01 00:00:00.000001").micros);
    expect((read[0]?.[9] as SqlTimestamp).toISOString()).toBe("2024-03-10T10:30:00.123456Z");
    expect(read[0]?.[10]).toBe('{"a":1,"a":2,"big":12345678901234567890}');
    expect(read[1]?.[0]).toBe(-(2n ** 63n));
    expect(Number.isNaN(read[1]?.[1])).toBe(true);
    expect((read[1]?.[7] as SqlDate).days).toBe(SqlDate.fromParts(-43, 3, 15).days);
    expect(read[1]?.[10]).toBe('"\\u0000"');
    expect(read[2]?.[1]).toBe(Infinity);
    expect(read[2]?.[3]).toBe("123456789012345678901234567890.000000001");
    const info = await backend.getTableInfo("all", engine);
    expect(info.columns.map((c) => c.type)).toEqual(columns.map((c) => c.type));
    expect(info.columns[2]).toMatchObject({ precision: 30, scale: 10 });
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

  it("maps a missing database and exposes the factory", async () => {
    const error = await backend.getEngine(`${prefix}absent`).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.DATABASE_NOT_FOUND)).toBe(true);
    expect(backendFactory.implementation).toBe("legacy");
    expect(backend.getMetrics()).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, SqlDate, SqlTimestamp, type ColumnDef, type Value } from "@mdm/storage-core";
import { PostgresqlStorageBackend, backendFactory } from "../src/index.js";
import { adminClient, createScratchDatabase, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

const prefix = uniquePrefix();

const columns: ColumnDef[] = [
  { name: "i", type: "int64" },
  { name: "f", type: "float64" },
  { name: "d", type: "decimal", precision: 30, scale: 10 },
  { name: "b", type: "boolean" },
  { name: "t", type: "text" },
  { name: "x", type: "blob" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
  { name: "j", type: "json" },
];
const rows: Value[][] = [
  [2n ** 63n - 1n, -0, "12345678901234567890.1234567890", true, "tab\there\nnew \\ line\r 😀 \\N", new Uint8Array([0, 255, 92, 10, 9]), SqlDate.parse("1960-06-02"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("2024-03-10T10:30:00.123456Z"), '{"a":1,"a":2,"t":"\\t\\u0000"}'],
  [-(2n ** 63n), NaN, "-0.0000000001", false, "", new Uint8Array(), SqlDate.fromParts(-4713, 11, 24), SqlTimestamp.parse("0044-03-15 12:00:00.5"), SqlTimestamp.parse("1800-01-01 00:00:00Z"), "[]"],
  [null, -Infinity, null, null, "\\N", null, SqlDate.fromParts(5874897, 12, 31), null, null, null],
];

async function readAll(backend: PostgresqlStorageBackend, table: string, engine: Awaited<ReturnType<PostgresqlStorageBackend["getEngine"]>>): Promise<Value[][]> {
  const out: Value[][] = [];
  for await (const batch of backend.readBatches(table, { engine, batchSize: 2, orderBy: ["i"] })) out.push(...batch.rows);
  return out;
}

function expectRoundTrip(read: Value[][]): void {
  expect(read).toHaveLength(3);
  const byI = (i: Value) => read.find((r) => r[0] === i) as Value[];
  const [a, b, c] = [byI(2n ** 63n - 1n), byI(-(2n ** 63n)), byI(null)];
  expect(Object.is(a[1], -0)).toBe(true);
  expect(a.slice(2, 5)).toEqual(["12345678901234567890.1234567890", true, "tab\there\nnew \\ line\r 😀 \\N"]);
  expect([...(a[5] as Uint8Array)]).toEqual([0, 255, 92, 10, 9]);
  expect(String(a[6])).toBe("1960-06-02");
  expect((a[7] as SqlTimestamp).micros).toBe(SqlTimestamp.parse("1960-01-01 00:00:00.000001").micros);
  expect((a[8] as SqlTimestamp).toISOString()).toBe("2024-03-10T10:30:00.123456Z");
  expect(a[9]).toBe('{"a":1,"a":2,"t":"\\t\\u0000"}');
  expect(Number.isNaN(b[1])).toBe(true);
  expect(b[2]).toBe("-0.0000000001");
  expect(b[4]).toBe("");
  expect((b[5] as Uint8Array).length).toBe(0);
  expect((b[6] as SqlDate).days).toBe(SqlDate.fromParts(-4713, 11, 24).days);
  expect((b[7] as SqlTimestamp).micros).toBe(SqlTimestamp.parse("0044-03-15 12:00:00.5").micros);
  expect(c[1]).toBe(-Infinity);
  expect(c[4]).toBe("\\N");
  expect(c[5]).toBe(null);
  expect((c[6] as SqlDate).days).toBe(SqlDate.fromParts(5874897, 12, 31).days);
}

describe.skipIf(!serverAvailable)("PostgresqlStorageBackend, database per dataset", () => {
  let backend: PostgresqlStorageBackend;
  beforeAll(() => {
    backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, application_name: "mdm-test-app", statement_timeout: 1500 }) });
  });
  afterAll(async () => {
    await backend?.close();
    await dropPrefixedDatabases(prefix);
  });

  it("writes with COPY and reads with a cursor, every value exact", async () => {
    await backend.createDataset("types");
    const engine = await backend.getDatasetEngine("types");
    expect(await backend.writeBatches("all", columns, [rows.slice(0, 2), rows.slice(2)], { engine })).toBe(3);
    expectRoundTrip(await readAll(backend, "all", engine));
    const info = await backend.getTableInfo("all", engine);
    expect(info.columns.map((c) => c.type)).toEqual(columns.map((c) => c.type));
  });

  for (const copyFormat of ["binary", "text"] as const) {
    it(`COPY ${copyFormat} is exact on its own, decimals of every shape included`, async () => {
      const forced = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }), copyFormat });
      try {
        await forced.createDataset(`copy_${copyFormat}`);
        const engine = await forced.getDatasetEngine(`copy_${copyFormat}`);
        await forced.writeBatches("all", columns, [rows], { engine });
        expectRoundTrip(await readAll(forced, "all", engine));
        const decimals = ["0", "0.000", "1", "-1", "10000", "99999999.9999", "-0.0001", "12345678901234567890123.45", "0.10", "1e-3", "NaN", "Infinity", "-Infinity", "100000000000000000000"];
        const dec: ColumnDef[] = [{ name: "k", type: "int64" }, { name: "u", type: "decimal" }];
        await forced.writeBatches("dec", dec, [decimals.map((d, i) => [BigInt(i), d])], { engine });
        const back = (await forced.readTable("dec", { engine, orderBy: ["k"] })).rows.map((r) => r.u);
        expect(back).toEqual(["0", "0.000", "1", "-1", "10000", "99999999.9999", "-0.0001", "12345678901234567890123.45", "0.10", "0.001", "NaN", "Infinity", "-Infinity", "100000000000000000000"]);
      } finally {
        await forced.close();
      }
    });
  }

  it("appends with COPY text to a table whose types are not ours (int4, varchar, jsonb)", async () => {
    const engine = await backend.getDatasetEngine("types");
    await backend.executeQuery('CREATE TABLE "foreign" (n integer, s varchar(20), j jsonb, r real)', engine);
    await backend.writeBatches("foreign", [{ name: "n", type: "int64" }, { name: "s", type: "text" }, { name: "j", type: "json" }, { name: "r", type: "float64" }], [[[7n, "tab\t", '{"b":1,"a":2}', 1.5]]], { engine, ifExists: "append" });
    expect((await backend.readTable("foreign", { engine })).rows).toEqual([{ n: 7n, s: "tab\t", j: '{"a": 2, "b": 1}', r: 1.5 }]);
  });

  it("runs sessions with application_name and statement_timeout from config", async () => {
    const engine = await backend.getDatasetEngine("types");
    const settings = await backend.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('TimeZone') AS tz", [], engine);
    expect(settings.rows[0]).toEqual({ app: "mdm-test-app", st: "1500ms", tz: "UTC" });
    await expect(backend.query("SELECT pg_sleep(3)", [], engine)).rejects.toMatchObject({ code: ErrorCodes.TIMEOUT });
  });

  it("records metrics on every operation", async () => {
    const engine = await backend.getDatasetEngine("types");
    backend.resetMetrics();
    await backend.readTable("all", { engine });
    const summary = backend.getMetrics();
    expect(summary.find((m) => m.operation === "storage.read_filtered")?.rows).toBe(3);
  });

  it("stages into a database and publishes it atomically by rename", async () => {
    await backend.createDataset("pub");
    await backend.saveData("pub", [{ v: 1n }], "t");
    const staging = backend.getStagingPath("pub", "run1");
    expect(staging).toBe(`${prefix}pub.staging.run1`);
    await backend.createDatabase(staging);
    const engine = await backend.getEngine(staging);
    await backend.writeTable("t", [{ v: 2n }, { v: 3n }], { engine });
    expect(await backend.listStagingPaths("pub")).toEqual([staging]);
    expect(await backend.listDatasets()).not.toContain(`pub.staging.run1`);
    await expect(backend.publishStaging(staging, "pub")).rejects.toMatchObject({ code: ErrorCodes.DATASET_EXISTS });
    await backend.publishStaging(staging, "pub", { replace: true });
    expect((await backend.loadData("pub", "t")).rows).toEqual([{ v: 2n }, { v: 3n }]);
    expect(await backend.databaseExists(staging)).toBe(false);
    expect(await backend.listStagingPaths("pub")).toEqual([]);
  });

  it("drops a dataset while another session is connected to it", async () => {
    await backend.createDataset("busy");
    const other = await adminClient(`${prefix}busy`);
    await backend.dropDataset("busy");
    await other.end().catch(() => undefined);
    expect(await backend.datasetExists("busy")).toBe(false);
  });

  it("is the manager's new postgresql factory", () => {
    expect(backendFactory).toMatchObject({ backendType: "postgresql", implementation: "new" });
  });
});

describe.skipIf(!serverAvailable)("PostgresqlStorageBackend, schema per dataset", () => {
  const schemaPrefix = uniquePrefix();
  let backend: PostgresqlStorageBackend;
  beforeAll(async () => {
    const database = await createScratchDatabase(schemaPrefix);
    backend = new PostgresqlStorageBackend({ config: serverConfig({ database, schema_per_dataset: true }) });
  });
  afterAll(async () => {
    await backend?.close();
    await dropPrefixedDatabases(schemaPrefix);
  });

  it("keeps each dataset in a schema {prefix}{name} of one database", async () => {
    await backend.createDataset("one");
    await backend.createDataset("two");
    expect(backend.getDatabasePath("one")).toBe("mdm_one");
    expect(await backend.listDatasets()).toEqual(["one", "two"]);
    await backend.saveData("one", [{ a: 1n }], "t");
    await backend.saveData("two", [{ b: "x" }], "t");
    expect((await backend.loadData("one", "t")).rows).toEqual([{ a: 1n }]);
    expect((await backend.loadData("two", "t")).rows).toEqual([{ b: "x" }]);
    const engine = await backend.getDatasetEngine("one");
    await backend.writeBatches("all", columns, [rows], { engine });
    expectRoundTrip(await readAll(backend, "all", engine));
    await backend.dropDataset("two");
    expect(await backend.listDatasets()).toEqual(["one"]);
  });

  it("publishes a staging schema by rename in one transaction", async () => {
    const staging = backend.getStagingPath("one", "abc");
    await backend.createDatabase(staging);
    await backend.writeTable("t", [{ a: 9n }], { engine: await backend.getEngine(staging) });
    await backend.publishStaging(staging, "one", { replace: true });
    expect((await backend.loadData("one", "t")).rows).toEqual([{ a: 9n }]);
    expect(await backend.listTables("one")).toEqual(["t"]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, StorageBackendManager, TableChecksum, conformance, defaultConfig, type ColumnDef, type Value } from "@mdm/storage-core";
import { PostgresqlStorageBackend, backendFactory } from "../src/index.js";
import { columns, expectRoundTrip, rows } from "./support/every-type.js";
import { adminClient, createScratchDatabase, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

const prefix = uniquePrefix();

async function readAll(backend: PostgresqlStorageBackend, table: string, engine: Awaited<ReturnType<PostgresqlStorageBackend["getEngine"]>>): Promise<Value[][]> {
  const out: Value[][] = [];
  for await (const batch of backend.readBatches(table, { engine, batchSize: 2 })) out.push(...batch.rows);
  return out;
}

/** Run with a backend whose pool holds one connection: a connection left half-read would block its next call. */
async function withOneConnection(run: (backend: PostgresqlStorageBackend) => Promise<void>): Promise<void> {
  const small = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, pool_size: 1, max_overflow: 0 }) });
  try {
    await run(small);
  } finally {
    await small.close();
  }
}

describe.skipIf(!serverAvailable)("PostgresqlStorageBackend, database per dataset", () => {
  let backend: PostgresqlStorageBackend;
  beforeAll(() => {
    backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, application_name: "mdm-test-app", statement_timeout: 1500, lock_timeout: 700, idle_in_transaction_session_timeout: 60_000 }) });
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

  it("decodes 20,000 numerics of PostgreSQL's making from COPY BINARY as numeric_out writes them", async () => {
    await backend.createDataset("numerics");
    const engine = await backend.getDatasetEngine("numerics");
    await backend.writeBatches("numerics", [{ name: "k", type: "int64" }, { name: "u", type: "decimal" }], [], { engine });
    // Every scale 0..29, magnitudes 10^-20..10^39, both signs, zeros with a scale, values whose last
    // base-10000 group is cut by the scale, and a few NULLs.
    await backend.executeQuery(
      `INSERT INTO numerics SELECT g, CASE WHEN g % 97 = 0 THEN NULL WHEN g % 13 = 0 THEN round(0::numeric, g % 30)
         ELSE round(((random() - 0.5) * 10 ^ (g % 60 - 20))::numeric, g % 30) END FROM generate_series(1, 20000) g`,
      engine,
    );
    const expected = new Map((await backend.query("SELECT k, u::text AS t FROM numerics", [], engine)).rows.map((r) => [r.k, r.t]));
    let read = 0;
    let negative = 0;
    for await (const batch of backend.readBatches("numerics", { engine, batchSize: 3000 })) {
      for (const [k, u] of batch.rows) {
        expect(u, `row ${String(k)}`).toBe(expected.get(k));
        if (typeof u === "string" && u.startsWith("-")) negative++;
        read++;
      }
    }
    expect(read).toBe(20_000);
    expect(negative).toBeGreaterThan(5000);
  });

  it("tableChecksum hashes COPY BINARY as the decoded rows would hash: PostgreSQL's numerics, every type, long text across chunks", async () => {
    const cursorOnly = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }), readFormat: "cursor" });
    try {
      const engine = await backend.getDatasetEngine("types");
      // Multi-byte text of 1 byte to 300 KB: many values span the stream's 64 KB chunks.
      const long: ColumnDef[] = [{ name: "k", type: "int64" }, { name: "s", type: "text" }];
      const longRows = Array.from({ length: 40 }, (_, i): Value[] => [BigInt(i), i % 7 === 0 ? null : conformance.longText(1 + i * 7_700, i + 1)]);
      await backend.writeBatches("long", long, [longRows], { engine });
      const numerics = await backend.getDatasetEngine("numerics");
      for (const [table, tableEngine] of [["all", engine], ["long", engine], ["numerics", numerics]] as const) {
        const decoded = new TableChecksum((await backend.getTableInfo(table, tableEngine)).columns);
        for await (const batch of backend.readBatches(table, { engine: tableEngine, batchSize: 1000 })) decoded.addAll(batch.rows);
        const wire = await backend.tableChecksum(table, { engine: tableEngine });
        expect(wire.toJSON(), table).toEqual(decoded.toJSON());
        // The cursor path (text from the server, the default hook) agrees.
        expect((await cursorOnly.tableChecksum(table, { engine: await cursorOnly.getEngine(tableEngine.database) })).toJSON(), `${table} by cursor`).toEqual(decoded.toJSON());
      }
      expect((await backend.tableChecksum("numerics", { engine: numerics })).count).toBe(20_000);
    } finally {
      await cursorOnly.close();
    }
  });

  it("a tableChecksum aborted by its signal fails with MDM_ABORTED and leaves no half-read connection in the pool", async () => {
    await withOneConnection(async (small) => {
      const engine = await small.getDatasetEngine("types");
      await small.writeBatches("big", [{ name: "k", type: "int64" }, { name: "s", type: "text" }], [], { engine });
      await small.executeQuery(`INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g`, engine);
      const controller = new AbortController();
      const pending = small.tableChecksum("big", { engine, signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      await expect(pending).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
      expect((await small.query('SELECT count(*) AS n FROM "big"', [], engine)).rows).toEqual([{ n: 300_000n }]);
      expect((await small.tableChecksum("big", { engine })).count).toBe(300_000);
    });
  });

  it("reads through a cursor when asked (and for foreign types), the same values", async () => {
    const cursorOnly = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }), readFormat: "cursor" });
    try {
      expectRoundTrip(await readAll(cursorOnly, "all", await cursorOnly.getDatasetEngine("types")));
    } finally {
      await cursorOnly.close();
    }
  });

  it("a COPY read stopped early leaves no half-read connection in the pool", async () => {
    await withOneConnection(async (small) => {
      const engine = await small.getDatasetEngine("types");
      const many = Array.from({ length: 30_000 }, (_, i) => [BigInt(i), `row ${i}`]);
      await small.writeBatches("many", [{ name: "k", type: "int64" }, { name: "s", type: "text" }], [many], { engine });
      let seen = 0;
      for await (const batch of small.readBatches("many", { engine, batchSize: 100 })) {
        seen += batch.rows.length;
        break;
      }
      expect(seen).toBe(100);
      expect((await small.query('SELECT count(*) AS n FROM "many"', [], engine)).rows).toEqual([{ n: 30_000n }]);
      const all = await small.readTable("many", { engine, orderBy: ["k"] });
      expect(all.rows[29_999]).toEqual({ k: 29_999n, s: "row 29999" });
    });
  });

  it("appends with COPY text to a table whose types are not ours (int4, varchar, jsonb)", async () => {
    const engine = await backend.getDatasetEngine("types");
    await backend.executeQuery('CREATE TABLE "foreign" (n integer, s varchar(20), j jsonb, r real)', engine);
    await backend.writeBatches("foreign", [{ name: "n", type: "int64" }, { name: "s", type: "text" }, { name: "j", type: "json" }, { name: "r", type: "float64" }], [[[7n, "tab\t", '{"b":1,"a":2}', 1.5]]], { engine, ifExists: "append" });
    expect((await backend.readTable("foreign", { engine })).rows).toEqual([{ n: 7n, s: "tab\t", j: '{"a": 2, "b": 1}', r: 1.5 }]);
  });

  it("runs sessions with application_name and statement_timeout from config", async () => {
    const engine = await backend.getDatasetEngine("types");
    const settings = await backend.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('idle_in_transaction_session_timeout') AS it, current_setting('TimeZone') AS tz", [], engine);
    expect(settings.rows[0]).toEqual({ app: "mdm-test-app", st: "1500ms", lt: "700ms", it: "1min", tz: "UTC" });
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

  it("is the manager's new postgresql factory, built from mdm.yaml's database.postgresql", async () => {
    expect(backendFactory).toMatchObject({ backendType: "postgresql", implementation: "new" });
    const config = defaultConfig();
    config.database.postgresql = serverConfig({ database_prefix: prefix, application_name: "from-yaml" });
    const manager = new StorageBackendManager({ homeDir: "/nonexistent-mdm-home", config, env: {} });
    manager.register(backendFactory);
    const made = await manager.getStorageBackend("postgresql", { implementation: "new" });
    try {
      expect(made).toBeInstanceOf(PostgresqlStorageBackend);
      expect(await made.listDatasets()).toContain("types");
      const engine = await made.getDatasetEngine("types");
      expect((await made.query("SELECT current_setting('application_name') AS app", [], engine)).rows).toEqual([{ app: "from-yaml" }]);
    } finally {
      await manager.clearCache();
    }
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

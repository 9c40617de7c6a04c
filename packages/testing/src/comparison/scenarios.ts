import {
  ErrorCodes,
  SqlTimestamp,
  TableChecksum,
  isMdmError,
  type ColumnDef,
  type IStorageBackend,
  type Value,
} from "@mdm/storage-core";
import { checkFidelity, fidelityFixtures } from "../checks-entry.js";
import { normalizeRows, normalizeValue } from "./normalize.js";

export interface ScenarioContext {
  backend: IStorageBackend;
  /** A dataset name unique to this run, side and scenario; the runner drops it afterwards. */
  dataset(suffix?: string): string;
  /** Another backend on the same storage with its own connections (the same instance when none can be made). */
  openPeer(): Promise<IStorageBackend>;
  /** Rows of the large performance test. */
  largeRows: number;
}

export interface Scenario {
  name: string;
  kind: "functional" | "performance";
  /** The result both sides must produce (error handling); otherwise the two results must be equal. */
  expected?: unknown;
  /** A reason why one side's result is wrong by itself (whatever the other side did), or undefined. */
  assess?(result: unknown): string | undefined;
  /** A reason to skip on this backend (both sides must agree), or undefined. */
  skipReason?(backend: IStorageBackend): string | undefined;
  run(ctx: ScenarioContext): Promise<unknown>;
}

const ID_VALUE: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "value", type: "float64" },
];

function* idValueBatches(total: number, batchSize: number): Generator<Value[][]> {
  for (let start = 0; start < total; start += batchSize) {
    const rows: Value[][] = [];
    for (let i = start; i < Math.min(total, start + batchSize); i++) rows.push([BigInt(i), i * 0.5]);
    yield rows;
  }
}

async function checksumOf(backend: IStorageBackend, dataset: string, table: string, columns: ColumnDef[]): Promise<{ count: number; hash: string }> {
  const engine = await backend.getDatasetEngine(dataset);
  const sum = new TableChecksum(columns);
  for await (const batch of backend.readBatches(table, { engine, columns: columns.map((c) => c.name) })) sum.addAll(batch.rows);
  return sum.toJSON();
}

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return "no error";
  } catch (error) {
    return isMdmError(error) ? error.code : `not an MdmError: ${(error as Error)?.message ?? String(error)}`;
  }
}

/** Write then read `rows` rows of four columns, the operations of a typical job. */
async function writeAndRead(ctx: ScenarioContext, rows: number): Promise<unknown> {
  const { backend } = ctx;
  const name = ctx.dataset();
  const columns: ColumnDef[] = [
    { name: "id", type: "int64" },
    { name: "text", type: "text" },
    { name: "value", type: "float64" },
    { name: "category", type: "text" },
  ];
  await backend.createDataset(name);
  const engine = await backend.getDatasetEngine(name);
  const batches = function* () {
    for (let start = 0; start < rows; start += 10_000) {
      const batch: Value[][] = [];
      for (let i = start; i < Math.min(rows, start + 10_000); i++) batch.push([BigInt(i), `text_${i}`.repeat(3), i / 7, "ABCD"[i % 4] as string]);
      yield batch;
    }
  };
  await backend.writeBatches("data", columns, batches(), { engine });
  const sum = new TableChecksum(columns);
  for await (const batch of backend.readBatches("data", { engine })) sum.addAll(batch.rows);
  const info = await backend.getTableInfo("data", engine);
  await backend.dropDataset(name);
  return { rowCount: info.rowCount, checksum: sum.toJSON() };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "Engine creation",
    kind: "functional",
    async run(ctx) {
      const name = ctx.dataset();
      await ctx.backend.createDataset(name);
      const engine = await ctx.backend.getEngine(ctx.backend.getDatabasePath(name));
      const again = await ctx.backend.getEngine(ctx.backend.getDatabasePath(name));
      return { backendType: engine.backendType, cached: engine.id === again.id, exists: await ctx.backend.databaseExists(engine.database) };
    },
  },
  {
    name: "Table operations",
    kind: "functional",
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const engine = await backend.getDatasetEngine(name);
      const rows = Array.from({ length: 100 }, (_, i) => ({
        id: BigInt(i),
        name: `test_${i}`,
        value: (i * 37) % 101 / 3,
        timestamp: new SqlTimestamp(1_704_067_200_000_000n + BigInt(i) * 86_400_000_000n),
      }));
      const columns: ColumnDef[] = [
        { name: "id", type: "int64" },
        { name: "name", type: "text" },
        { name: "value", type: "float64" },
        { name: "timestamp", type: "timestamp" },
      ];
      await backend.createTableFromDataFrame({ columns, rows }, "test_table", engine, "fail");
      const read = await backend.readTableToDataFrame("test_table", engine);
      const filtered = await backend.readTable("test_table", { engine, columns: ["id", "name"], where: { name: "test_7" } });
      const limited = await backend.readTable("test_table", { engine, limit: 10, orderBy: ["id"] });
      const info = await backend.getTableInfo("test_table", engine);
      await backend.writeTable("test_table", { columns, rows: rows.slice(0, 5) }, { engine, ifExists: "append" });
      const afterAppend = await backend.getTableInfo("test_table", engine);
      return {
        shape: [read.rows.length, read.columns.length],
        rows: normalizeRows(read.rows.map((r) => columns.map((c) => r[c.name] as Value))),
        filtered: normalizeRows(filtered.rows.map((r) => [r.id as Value, r.name as Value])),
        limited: normalizeRows(limited.rows.map((r) => [r.id as Value]), { ordered: true }),
        info: { rowCount: info.rowCount, columns: info.columns.map((c) => [c.name, c.type]) },
        tables: await backend.getTableNames(engine),
        columns: await backend.getColumns("test_table", engine),
        afterAppend: afterAppend.rowCount,
      };
    },
  },
  {
    name: "Query execution",
    kind: "functional",
    skipReason: (b) => (b.capabilities.sql ? undefined : "the backend runs no SQL"),
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const engine = await backend.getDatasetEngine(name);
      const categories = ["A", "B", "A", "C", "B", "A"];
      const rows = Array.from({ length: 60 }, (_, i) => ({ category: categories[i % 6] as string, value: BigInt(i) }));
      await backend.saveData(name, { columns: [{ name: "category", type: "text" }, { name: "value", type: "int64" }], rows });
      const grouped = await backend.query(
        'SELECT "category", COUNT(*) AS "count", SUM("value") AS "total", MIN("value") AS "lowest" FROM "data" GROUP BY "category" ORDER BY "category"',
        [],
        engine,
      );
      const changed = await backend.executeQuery('UPDATE "data" SET "value" = "value" + 1000 WHERE "category" = \'C\'', engine);
      const after = await backend.query('SELECT COUNT(*) AS "n" FROM "data" WHERE "value" >= 1000', [], engine);
      return {
        grouped: normalizeRows(grouped.rows.map((r) => grouped.columns.map((c) => r[c.name] as Value)), { ordered: true, looseNumbers: true }),
        rowsAffected: changed.rowsAffected,
        after: normalizeValue(after.rows[0]?.n as Value, true),
      };
    },
  },
  {
    name: "Batch processing (50,000 rows in 5,000-row batches)",
    kind: "functional",
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const engine = await backend.getDatasetEngine(name);
      const seen: number[] = [];
      const written = await backend.writeBatches("batches", ID_VALUE, idValueBatches(50_000, 5_000), { engine, onBatch: (n) => seen.push(n) });
      const sizes: number[] = [];
      for await (const batch of backend.readBatches("batches", { engine, batchSize: 5_000 })) sizes.push(batch.rows.length);
      return { written, progress: seen, readBatchSizes: sizes, checksum: await checksumOf(backend, name, "batches", ID_VALUE) };
    },
  },
  {
    name: "Metadata handling",
    kind: "functional",
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name, { metadata: { test: true, description: "first" } });
      await backend.updateMetadata(name, { description: "Test dataset", version: "1.0", tags: ["a", "b"], nested: { n: 1 } });
      await backend.updateMetadata(name, { version: "2.0" });
      const metadata = await backend.getMetadata(name);
      const { created_at: createdAt, ...rest } = metadata;
      return { metadata: rest, hasCreatedAt: typeof createdAt === "string" };
    },
  },
  {
    name: "Dataset operations",
    kind: "functional",
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const rows = Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(i), value: i / 3 }));
      await backend.saveData(name, { columns: ID_VALUE, rows });
      const exists = await backend.datasetExists(name);
      const loaded = await backend.loadData(name);
      const listed = (await backend.listDatasets()).includes(name);
      const tables = await backend.listTables(name);
      await backend.dropDataset(name);
      return { exists, shape: [loaded.rows.length, loaded.columns.length], listed, tables, existsAfter: await backend.datasetExists(name) };
    },
  },
  {
    name: "Error handling",
    kind: "functional",
    expected: {
      missingDataset: ErrorCodes.DATASET_NOT_FOUND,
      missingTable: ErrorCodes.TABLE_NOT_FOUND,
      duplicateTable: ErrorCodes.TABLE_EXISTS,
      duplicateDataset: ErrorCodes.DATASET_EXISTS,
      traversalName: ErrorCodes.INVALID_NAME,
      injectionName: ErrorCodes.INVALID_NAME,
      nulInTableName: ErrorCodes.INVALID_NAME,
      wrongValueType: ErrorCodes.INVALID_ARGUMENT,
    },
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const engine = await backend.getDatasetEngine(name);
      await backend.saveData(name, { columns: ID_VALUE, rows: [{ id: 1n, value: 1 }] });
      return {
        missingDataset: await codeOf(() => backend.loadData(ctx.dataset("absent"))),
        missingTable: await codeOf(() => backend.readTable("no_such_table", { engine })),
        duplicateTable: await codeOf(() => backend.createTableFromDataFrame({ columns: ID_VALUE, rows: [] }, "data", engine, "fail")),
        duplicateDataset: await codeOf(() => backend.createDataset(name)),
        traversalName: await codeOf(() => backend.createDataset("../escape")),
        injectionName: await codeOf(() => backend.datasetExists('a"; drop table x; --')),
        nulInTableName: await codeOf(() => backend.readTable("x\0y", { engine })),
        wrongValueType: await codeOf(() => backend.saveData(name, { columns: ID_VALUE, rows: [{ id: "one", value: 1 }] as never }, "bad")),
      };
    },
  },
  {
    name: "Fidelity fixtures",
    kind: "functional",
    // Per value: held exactly or refused (MDM_UNSUPPORTED_VALUE). A value that comes back changed is a
    // failure on its own; otherwise both sides must do the same with every value.
    assess: (result) => {
      const bad = Object.entries(result as Record<string, string[]>).flatMap(([fixture, outcomes]) =>
        outcomes.filter((o) => o.endsWith(":changed") || o.endsWith(":error")).map((o) => `${fixture} ${o}`),
      );
      return bad.length > 0 ? `values not held and not refused: ${bad.join(", ")}` : undefined;
    },
    async run(ctx) {
      const name = ctx.dataset();
      await ctx.backend.createDataset(name);
      const engine = await ctx.backend.getDatasetEngine(name);
      const out: Record<string, string[]> = {};
      for (const fixture of fidelityFixtures) {
        const report = await checkFidelity(ctx.backend, fixture, engine);
        out[fixture.name] = report.values.map((v) => `${v.label}:${v.outcome}`);
      }
      return out;
    },
  },
  {
    name: "Performance - small (1,000 rows)",
    kind: "performance",
    run: (ctx) => writeAndRead(ctx, 1_000),
  },
  {
    name: "Performance - large",
    kind: "performance",
    run: (ctx) => writeAndRead(ctx, ctx.largeRows),
  },
  {
    name: "Concurrent access",
    kind: "functional",
    async run(ctx) {
      const { backend } = ctx;
      const name = ctx.dataset();
      await backend.createDataset(name);
      const engine = await backend.getDatasetEngine(name);
      await backend.writeBatches("shared", ID_VALUE, idValueBatches(20_000, 5_000), { engine });
      const expected = await checksumOf(backend, name, "shared", ID_VALUE);
      const peers = [backend, await ctx.openPeer(), await ctx.openPeer()];
      // Several writers (each its own table) and readers (the shared table) at the same time.
      const writers = peers.map(async (peer, w) => {
        const e = await peer.getDatasetEngine(name);
        return peer.writeBatches(`writer_${w}`, ID_VALUE, idValueBatches(10_000 + w, 2_500), { engine: e });
      });
      const readers = peers.map(async (peer) => {
        const e = await peer.getDatasetEngine(name);
        const sum = new TableChecksum(ID_VALUE);
        for await (const batch of peer.readBatches("shared", { engine: e, batchSize: 1_000 })) sum.addAll(batch.rows);
        return sum.toJSON();
      });
      const written = await Promise.all(writers);
      const read = await Promise.all(readers);
      const tables: Record<string, unknown> = {};
      for (let w = 0; w < peers.length; w++) tables[`writer_${w}`] = await checksumOf(backend, name, `writer_${w}`, ID_VALUE);
      return {
        written,
        readersSawWholeTable: read.every((r) => r.count === expected.count && r.hash === expected.hash),
        tables,
      };
    },
  },
];

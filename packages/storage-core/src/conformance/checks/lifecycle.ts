import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type StorageEngine } from "../../types.js";
import { check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { DATASET, NUMBERED_COLUMNS, SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, byFirstColumn, defineCheck, numberedRows, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";

const G = "lifecycle";

/** Every asynchronous member of IStorageBackend, called with plausible arguments. */
export function everyAsyncCall(backend: IStorageBackend, engine: StorageEngine, path: string): Array<[string, () => unknown]> {
  return [
    ["init", () => backend.init()],
    ["getEngine", () => backend.getEngine(path)],
    ["releaseEngine", () => backend.releaseEngine(engine)],
    ["getConnection", () => backend.getConnection(engine)],
    ["databaseExists", () => backend.databaseExists(path)],
    ["createDatabase", () => backend.createDatabase(path)],
    ["dropDatabase", () => backend.dropDatabase(path)],
    ["createTableFromDataFrame", () => backend.createTableFromDataFrame(sampleFrame(), "new_table", engine)],
    ["readTableToDataFrame", () => backend.readTableToDataFrame("train", engine)],
    ["readTable", () => backend.readTable("train", { engine })],
    ["writeTable", () => backend.writeTable("train", sampleFrame(), { engine })],
    ["query", () => backend.query("SELECT 1", [], engine)],
    ["executeQuery", () => backend.executeQuery("SELECT 1", engine)],
    ["getTableInfo", () => backend.getTableInfo("train", engine)],
    ["getColumns", () => backend.getColumns("train", engine)],
    ["analyzeColumn", () => backend.analyzeColumn("train", "id", engine)],
    ["getTableNames", () => backend.getTableNames(engine)],
    ["tableExists", () => backend.tableExists("train", engine)],
    ["dropTable", () => backend.dropTable("train", engine)],
    ["readBatches", async () => {
      for await (const _ of backend.readBatches("train", { engine })) void _;
    }],
    ["writeBatches", () => backend.writeBatches("train", NUMBERED_COLUMNS, [numberedRows(1)], { engine, ifExists: "replace" })],
    ["tableChecksum", () => backend.tableChecksum("train", { engine })],
    ["createDataset", () => backend.createDataset("another")],
    ["datasetExists", () => backend.datasetExists(DATASET)],
    ["dropDataset", () => backend.dropDataset(DATASET)],
    ["holdDataset", () => backend.holdDataset(DATASET)],
    ["listDatasets", () => backend.listDatasets()],
    ["listTables", () => backend.listTables(DATASET)],
    ["getDatasetEngine", () => backend.getDatasetEngine(DATASET)],
    ["loadData", () => backend.loadData(DATASET, "train")],
    ["saveData", () => backend.saveData(DATASET, sampleFrame(), "train")],
    ["getMetadata", () => backend.getMetadata(DATASET)],
    ["updateMetadata", () => backend.updateMetadata(DATASET, { a: 1 })],
    ["listStagingPaths", () => backend.listStagingPaths(DATASET)],
    ["publishStaging", () => backend.publishStaging(path, "another", { replace: true })],
    ["optimize", () => backend.optimize(engine)],
    ["getDatabaseSize", () => backend.getDatabaseSize(engine)],
    ["columnsContain", () => backend.columnsContain("train", [], "nulInText", engine)],
    ["importFile", () => backend.importFile("imported", "/nonexistent/file.csv", "csv", { engine })],
    ["exportFile", () => backend.exportFile("train", "/nonexistent/file.csv", "csv", { engine })],
  ];
}

/** Members of IStorageBackend that are not asynchronous calls (checked by other checks, not by MDM_CLOSED). */
export const SYNCHRONOUS_MEMBERS: readonly string[] = [
  "backendType",
  "implementation",
  "capabilities",
  "closed",
  "close",
  "closeConnections",
  "getDatabasePath",
  "placeDataset",
  "getStagingPath",
  "checkValue",
  "getMetrics",
  "resetMetrics",
];

export const lifecycleChecks: ConformanceCheck[] = [
  defineCheck(G, "init is idempotent and the backend declares its identity and capabilities", async (backend) => {
    await backend.init();
    await backend.init();
    check(["sqlite", "duckdb", "postgresql"].includes(backend.backendType), `backendType must be sqlite, duckdb or postgresql, got ${JSON.stringify(backend.backendType)}`);
    check(["legacy", "new"].includes(backend.implementation), `implementation must be legacy or new, got ${JSON.stringify(backend.implementation)}`);
    const caps = backend.capabilities;
    for (const flag of ["nan", "infinity", "negativeZero", "nulInText", "nulInJson"] as const) {
      check(typeof caps.values[flag] === "boolean", `capabilities.values.${flag} must be a boolean`);
    }
    check(typeof caps.values.maxDecimalPrecision === "number" && caps.values.maxDecimalPrecision >= 1, "capabilities.values.maxDecimalPrecision must be a number >= 1");
    for (const flag of ["sql", "concurrentReads", "serializedWrites", "metrics"] as const) check(typeof caps[flag] === "boolean", `capabilities.${flag} must be a boolean`);
    check(Array.isArray(caps.fileImportExport), "capabilities.fileImportExport must be an array");
    checkEqual(backend.closed, false, "closed of a fresh backend");
  }),

  defineCheck(G, "close is idempotent and sets closed", async (backend) => {
    await openDataset(backend);
    await backend.close();
    checkEqual(backend.closed, true, "closed after close()");
    await backend.close();
    checkEqual(backend.closed, true, "closed after a second close()");
  }),

  defineCheck(G, "after close every method rejects with MDM_CLOSED", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const path = backend.getStagingPath(DATASET, "closed");
    await backend.close();
    for (const [name, call] of everyAsyncCall(backend, engine, path)) await rejectsWith(call, ErrorCodes.CLOSED, `${name}() after close()`);
  }),

  defineCheck(G, "closeConnections is idempotent and the backend keeps working with the same data", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    await backend.closeConnections();
    await backend.closeConnections();
    checkEqual(backend.closed, false, "closed after closeConnections()");
    const df = await backend.readTable("train", { engine });
    checkRows(SAMPLE_COLUMNS, byFirstColumn(arrays(df, SAMPLE_COLUMNS)), SAMPLE_ROWS, "rows after closeConnections() (same engine handle)");
    await backend.updateMetadata(DATASET, { after: "reconnect" });
    checkEqual((await backend.getMetadata(DATASET)).after, "reconnect", "metadata written after closeConnections()");
  }),

  defineCheck(G, "concurrent writes to different tables and concurrent reads of one dataset all succeed", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeBatches("base", NUMBERED_COLUMNS, [numberedRows(50)], { engine });
    const writes = Array.from({ length: 4 }, (_, i) => backend.writeBatches(`w${i}`, NUMBERED_COLUMNS, [numberedRows(100, i * 1000)], { engine }));
    const reads = Array.from({ length: 4 }, () => backend.readTable("base", { engine }));
    const results = await Promise.all([...writes, ...reads]);
    for (let i = 0; i < 4; i++) checkEqual(results[i], 100, `rows written by concurrent write ${i}`);
    for (let i = 4; i < 8; i++) checkEqual((results[i] as { rows: unknown[] }).rows.length, 50, `rows of concurrent read ${i - 4}`);
    for (let i = 0; i < 4; i++) checkEqual((await backend.getTableInfo(`w${i}`, engine)).rowCount, 100, `rows of table w${i}`);
  }),

  defineCheck(G, "concurrent appends to one table lose no rows", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeBatches("log", NUMBERED_COLUMNS, [], { engine });
    await Promise.all(Array.from({ length: 5 }, (_, i) => backend.writeBatches("log", NUMBERED_COLUMNS, [numberedRows(20, i * 100)], { engine, ifExists: "append" })));
    checkEqual((await backend.getTableInfo("log", engine)).rowCount, 100, "rows after 5 concurrent appends of 20");
  }),

  defineCheck(G, "two concurrent creates of one dataset or one table: exactly one wins, the other fails with MDM_DATASET_EXISTS or MDM_TABLE_EXISTS", async (backend) => {
    const datasets = await Promise.allSettled([backend.createDataset("twice"), backend.createDataset("twice")]);
    checkEqual(datasets.filter((r) => r.status === "fulfilled").length, 1, "createDataset calls that succeeded");
    const lost = datasets.find((r) => r.status === "rejected") as PromiseRejectedResult;
    await rejectsWith(() => Promise.reject(lost.reason), ErrorCodes.DATASET_EXISTS, "the createDataset that lost");
    checkDeepEqual(await backend.listDatasets(), ["twice"], "datasets after the race");
    const engine = await backend.getDatasetEngine("twice");
    const tables = await Promise.allSettled([
      backend.writeBatches("t", NUMBERED_COLUMNS, [numberedRows(2)], { engine }),
      backend.writeBatches("t", NUMBERED_COLUMNS, [numberedRows(3)], { engine }),
    ]);
    checkEqual(tables.filter((r) => r.status === "fulfilled").length, 1, "writeBatches(ifExists fail) calls that succeeded");
    const lostTable = tables.find((r) => r.status === "rejected") as PromiseRejectedResult;
    await rejectsWith(() => Promise.reject(lostTable.reason), ErrorCodes.TABLE_EXISTS, "the writeBatches that lost");
    const rows = (await backend.getTableInfo("t", engine)).rowCount;
    check(rows === 2 || rows === 3, `the table holds the rows of the winner only, got ${rows}`);
  }),

  defineCheck(G, "concurrent metadata updates of different keys all land", async (backend) => {
    await openDataset(backend);
    await Promise.all(Array.from({ length: 8 }, (_, i) => backend.updateMetadata(DATASET, { [`k${i}`]: i, shared: i })));
    const meta = await backend.getMetadata(DATASET);
    for (let i = 0; i < 8; i++) checkEqual(meta[`k${i}`], i, `metadata k${i} after concurrent updates`);
    check(typeof meta.shared === "number" && meta.shared >= 0 && meta.shared < 8, `metadata written by every update holds one of the values, got ${JSON.stringify(meta.shared)}`);
  }),
];


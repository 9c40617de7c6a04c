import { ErrorCodes } from "../../errors.js";
import { type StorageEngine } from "../../types.js";
import { check, checkDeepEqual, checkEqual, rejectsWith } from "../assert.js";
import { DATASET, defineCheck, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";

const G = "engine";

export const engineChecks: ConformanceCheck[] = [
  defineCheck(G, "createDatabase, databaseExists, getEngine, getTableNames, tableExists, getConnection and dropDatabase on a database path", async (backend) => {
    const path = backend.getDatabasePath("engine_db");
    check(typeof path === "string" && path.length > 0, "getDatabasePath() must return a non-empty string");
    checkEqual(await backend.databaseExists(path), false, "databaseExists before createDatabase");
    await backend.createDatabase(path);
    checkEqual(await backend.databaseExists(path), true, "databaseExists after createDatabase");
    await backend.createDatabase(path); // no error when it exists, as in the original
    const engine = await backend.getEngine(path);
    checkEqual(engine.backendType, backend.backendType, "engine.backendType");
    check(typeof engine.database === "string" && engine.database.length > 0, "engine.database must be a non-empty string");
    await backend.createTableFromDataFrame(sampleFrame(), "t", engine);
    check((await backend.getTableNames(engine)).includes("t"), "getTableNames(engine) lists the new table");
    check((await backend.getTableNames()).includes("t"), "getTableNames() uses the engine of the last getEngine()");
    checkEqual(await backend.tableExists("t", engine), true, "tableExists(t)");
    checkEqual(await backend.tableExists("u", engine), false, "tableExists(u)");
    const connection = await backend.getConnection(engine);
    check(connection !== null && connection !== undefined, "getConnection(engine) must return the driver object");
    check((await backend.getConnection()) !== undefined, "getConnection() uses the engine of the last getEngine()");
    await backend.dropDatabase(path);
    checkEqual(await backend.databaseExists(path), false, "databaseExists after dropDatabase");
    await backend.dropDatabase(path); // dropping a missing database does nothing
  }),

  defineCheck(G, "getEngine returns the same engine for the same database, and it is the engine of the dataset", async (backend) => {
    const engine = await openDataset(backend);
    checkEqual(engine.database, backend.getDatabasePath(DATASET), "the dataset's engine database is getDatabasePath(dataset)");
    const again = await backend.getEngine(backend.getDatabasePath(DATASET));
    checkEqual(again.database, engine.database, "getEngine twice");
    await backend.createTableFromDataFrame(sampleFrame(), "t", again);
    checkEqual(await backend.tableExists("t", engine), true, "a table written through one handle is seen through the other");
  }),

  defineCheck(G, "engine-level calls without any engine fail with MDM_INVALID_ARGUMENT, and foreign engine handles are refused", async (backend) => {
    await rejectsWith(() => backend.getTableNames(), ErrorCodes.INVALID_ARGUMENT, "getTableNames() before any getEngine()");
    await rejectsWith(() => backend.tableExists("t"), ErrorCodes.INVALID_ARGUMENT, "tableExists() before any getEngine()");
    const other = backend.backendType === "sqlite" ? "duckdb" : "sqlite";
    const foreign = { backendType: other, database: "x", id: 1 } as unknown as StorageEngine;
    await rejectsWith(() => backend.getTableNames(foreign), ErrorCodes.INVALID_ARGUMENT, `an engine handle of ${other}`);
    await rejectsWith(() => backend.readTableToDataFrame("t", null as unknown as StorageEngine), [ErrorCodes.INVALID_ARGUMENT], "a null engine handle");
  }),

  defineCheck(G, "releaseEngine closes one database; the next use reopens it with the same data", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "t", engine);
    await backend.releaseEngine(engine);
    await backend.releaseEngine(engine); // releasing a released engine does nothing
    checkEqual((await backend.getTableInfo("t", engine)).rowCount, 5, "rows read through the released engine handle");
    await backend.createTableFromDataFrame(sampleFrame(), "u", engine);
    await backend.releaseEngine(engine);
    checkEqual(await backend.tableExists("u", engine), true, "a table written before releaseEngine()");
    const other = backend.backendType === "sqlite" ? "duckdb" : "sqlite";
    await rejectsWith(() => backend.releaseEngine({ backendType: other, database: "x", id: 1 } as unknown as StorageEngine), ErrorCodes.INVALID_ARGUMENT, "releaseEngine() of a foreign handle");
  }),

  defineCheck(G, "a stale engine handle of a dropped dataset fails with MDM_DATABASE_NOT_FOUND and does not bring the dataset back", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "t", engine);
    await backend.dropDataset(DATASET);
    await rejectsWith(() => backend.tableExists("t", engine), [ErrorCodes.DATABASE_NOT_FOUND, ErrorCodes.DATASET_NOT_FOUND], "tableExists() through the handle of a dropped dataset");
    await rejectsWith(() => backend.readTable("t", { engine }), [ErrorCodes.DATABASE_NOT_FOUND, ErrorCodes.DATASET_NOT_FOUND], "readTable() through the handle of a dropped dataset");
    await rejectsWith(() => backend.getTableNames(), [ErrorCodes.DATABASE_NOT_FOUND, ErrorCodes.DATASET_NOT_FOUND, ErrorCodes.INVALID_ARGUMENT], "getTableNames() with the default engine of a dropped dataset");
    checkEqual(await backend.datasetExists(DATASET), false, "datasetExists after using a stale handle");
    checkDeepEqual(await backend.listDatasets(), [], "listDatasets after using a stale handle");
  }),
];


import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { NUMBERED_COLUMNS, defineCheck, numberedRows, openDataset, type ConformanceCheck } from "./support.js";

const G = "staging";
const TARGET = "published";

/** Create the staging database of a run, write `rows` numbered rows into its table `numbers`. */
async function stage(backend: IStorageBackend, runId: string, rows: number): Promise<string> {
  const path = backend.getStagingPath(TARGET, runId);
  check(typeof path === "string" && path.length > 0, "getStagingPath() must return a non-empty string");
  check(path !== backend.getDatabasePath(TARGET), "the staging path must differ from the dataset's own path");
  await backend.createDatabase(path);
  const engine = await backend.getEngine(path);
  await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(rows)], { engine });
  return path;
}

async function numbersOf(backend: IStorageBackend): Promise<number> {
  const engine = await backend.getDatasetEngine(TARGET);
  return (await backend.getTableInfo("numbers", engine)).rowCount;
}

export const stagingChecks: ConformanceCheck[] = [
  defineCheck(G, "getStagingPath validates the run id (MDM_INVALID_ARGUMENT) and the dataset name (MDM_INVALID_NAME)", async (backend) => {
    for (const runId of ["", "RUN", "a-b", "../x", "x".repeat(17)]) {
      await rejectsWith(() => backend.getStagingPath(TARGET, runId), ErrorCodes.INVALID_ARGUMENT, `run id ${JSON.stringify(runId)}`);
    }
    await rejectsWith(() => backend.getStagingPath("../x", "run1"), ErrorCodes.INVALID_NAME, "dataset ../x");
    check(backend.getStagingPath(TARGET, "run1") !== backend.getStagingPath(TARGET, "run2"), "two runs get two staging paths");
  }),

  defineCheck(G, "a database written at getStagingPath and published becomes the dataset; listStagingPaths lists it until then", async (backend) => {
    checkDeepEqual(await backend.listStagingPaths(TARGET), [], "listStagingPaths of a dataset without staging");
    const path = await stage(backend, "run1", 4);
    checkEqual(await backend.datasetExists(TARGET), false, "the dataset is not visible before publish");
    checkDeepEqual(await backend.listStagingPaths(TARGET), [path], "listStagingPaths before publish");
    await backend.publishStaging(path, TARGET);
    checkEqual(await backend.datasetExists(TARGET), true, "datasetExists after publish");
    check((await backend.listDatasets()).includes(TARGET), "listDatasets includes the published dataset");
    const df = await backend.readTable("numbers", { engine: await backend.getDatasetEngine(TARGET), orderBy: ["id"] });
    checkRows(NUMBERED_COLUMNS, df.rows.map((r) => [r.id ?? null, r.label ?? null]), numberedRows(4), "rows of the published dataset");
    checkDeepEqual(await backend.listStagingPaths(TARGET), [], "listStagingPaths after publish");
    checkEqual(await backend.databaseExists(path), false, "the staging database is gone after publish");
  }),

  defineCheck(G, "publishStaging with replace false on an existing dataset fails with MDM_DATASET_EXISTS and leaves both untouched", async (backend) => {
    const engine = await openDataset(backend, TARGET);
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(2)], { engine });
    const path = await stage(backend, "run2", 5);
    await rejectsWith(() => backend.publishStaging(path, TARGET), ErrorCodes.DATASET_EXISTS, "publishStaging() onto an existing dataset");
    await rejectsWith(() => backend.publishStaging(path, TARGET, { replace: false }), ErrorCodes.DATASET_EXISTS, "publishStaging(replace: false) onto an existing dataset");
    checkEqual(await numbersOf(backend), 2, "rows of the existing dataset after the refused publish");
    checkEqual(await backend.databaseExists(path), true, "the staging database survives the refused publish");
    checkEqual((await backend.getTableInfo("numbers", await backend.getEngine(path))).rowCount, 5, "rows of the staging database after the refused publish");
  }),

  defineCheck(G, "publishStaging with replace true swaps the dataset", async (backend) => {
    const engine = await openDataset(backend, TARGET);
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(2)], { engine });
    await backend.writeBatches("old_only", NUMBERED_COLUMNS, [numberedRows(1)], { engine });
    const path = await stage(backend, "run3", 7);
    await backend.publishStaging(path, TARGET, { replace: true });
    checkEqual(await numbersOf(backend), 7, "rows after the swap");
    checkDeepEqual(await backend.listTables(TARGET), ["numbers"], "tables after the swap (the old dataset is gone)");
    checkEqual(await backend.databaseExists(path), false, "the staging database is gone after the swap");
  }),

  defineCheck(G, "publishStaging of a missing staging database fails with MDM_DATABASE_NOT_FOUND", async (backend) => {
    const path = backend.getStagingPath(TARGET, "ghost");
    await rejectsWith(() => backend.publishStaging(path, TARGET), ErrorCodes.DATABASE_NOT_FOUND, "publishStaging() of a missing staging database");
    checkEqual(await backend.datasetExists(TARGET), false, "no dataset after the failed publish");
  }),
];

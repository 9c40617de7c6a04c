import { ErrorCodes } from "../../errors.js";
import { check, checkEqual, rejectsWith } from "../assert.js";
import { NUMBERED_COLUMNS, defineCheck, numberedRows, openDataset, type ConformanceCheck } from "./support.js";

const G = "hold";

export const holdChecks: ConformanceCheck[] = [
  defineCheck(G, "holdDataset of a missing dataset fails with MDM_DATASET_NOT_FOUND, of a bad name with MDM_INVALID_NAME", async (backend) => {
    await rejectsWith(() => backend.holdDataset("never_created"), ErrorCodes.DATASET_NOT_FOUND, "holdDataset() of a missing dataset");
    await rejectsWith(() => backend.holdDataset("../escape"), ErrorCodes.INVALID_NAME, "holdDataset('../escape')");
  }),

  defineCheck(G, "a held dataset can be read; assertUnchanged passes while held, fails with MDM_SOURCE_CHANGED once released; release is idempotent", async (backend) => {
    const engine = await openDataset(backend, "held");
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(50)], { engine });
    const hold = await backend.holdDataset("held");
    checkEqual(hold.dataset, "held", "hold.dataset");
    let read = 0;
    for await (const batch of backend.readBatches("numbers", { engine, batchSize: 16 })) read += batch.rows.length;
    checkEqual(read, 50, "rows read while the dataset is held");
    checkEqual((await backend.tableChecksum("numbers", { engine })).count, 50, "tableChecksum while held");
    checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, 50, "getTableInfo while held");
    await hold.assertUnchanged();
    await hold.release();
    await hold.release();
    await rejectsWith(() => hold.assertUnchanged(), ErrorCodes.SOURCE_CHANGED, "assertUnchanged() after release");
    // Released: the backend writes again.
    await backend.writeBatches("more", NUMBERED_COLUMNS, [numberedRows(3)], { engine: await backend.getDatasetEngine("held") });
    checkEqual((await backend.getTableInfo("more", await backend.getDatasetEngine("held"))).rowCount, 3, "a write after release");
  }),

  defineCheck(G, "hold.dropDataset removes the dataset and ends the hold; it cannot be done twice", async (backend) => {
    const engine = await openDataset(backend, "retired");
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(5)], { engine });
    const hold = await backend.holdDataset("retired");
    await hold.dropDataset();
    checkEqual(await backend.datasetExists("retired"), false, "datasetExists after hold.dropDataset()");
    check(!(await backend.listDatasets()).includes("retired"), "listDatasets after hold.dropDataset()");
    await hold.release();
    await rejectsWith(() => hold.dropDataset(), ErrorCodes.INVALID_ARGUMENT, "a second hold.dropDataset()");
  }),
];

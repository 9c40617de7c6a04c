import { ErrorCodes } from "../../errors.js";
import { check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { DATASET, SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, byFirstColumn, defineCheck, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";

const G = "datasets";

export const datasetChecks: ConformanceCheck[] = [
  defineCheck(G, "a fresh backend lists no datasets", async (backend) => {
    checkDeepEqual(await backend.listDatasets(), [], "listDatasets() of a fresh backend");
  }),

  defineCheck(G, "createDataset makes a dataset that datasetExists and listDatasets see", async (backend) => {
    checkEqual(await backend.datasetExists("alpha"), false, "datasetExists before create");
    await backend.createDataset("beta");
    await backend.createDataset("alpha");
    checkEqual(await backend.datasetExists("alpha"), true, "datasetExists after create");
    checkEqual(await backend.datasetExists("ALPHA"), true, "datasetExists with the name in upper case (names are normalised)");
    checkDeepEqual(await backend.listDatasets(), ["alpha", "beta"], "listDatasets() (sorted)");
    checkDeepEqual(await backend.listTables("alpha"), [], "listTables of a new dataset");
  }),

  defineCheck(G, "createDataset of an existing dataset fails with MDM_DATASET_EXISTS unless ifNotExists", async (backend) => {
    await backend.createDataset(DATASET, { metadata: { description: "first" } });
    await rejectsWith(() => backend.createDataset(DATASET), ErrorCodes.DATASET_EXISTS, "createDataset twice");
    await backend.createDataset(DATASET, { ifNotExists: true, metadata: { description: "second" } });
    checkEqual((await backend.getMetadata(DATASET)).description, "first", "metadata after createDataset(ifNotExists) of an existing dataset");
  }),

  defineCheck(G, "dropDataset removes the dataset with its tables", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    await backend.dropDataset(DATASET);
    checkEqual(await backend.datasetExists(DATASET), false, "datasetExists after dropDataset");
    checkDeepEqual(await backend.listDatasets(), [], "listDatasets after dropDataset");
    await backend.createDataset(DATASET);
    checkDeepEqual(await backend.listTables(DATASET), [], "tables of a dataset re-created after a drop");
  }),

  defineCheck(G, "operations on a missing dataset fail with MDM_DATASET_NOT_FOUND", async (backend) => {
    const missing = "missing_dataset";
    const calls: Array<[string, () => unknown]> = [
      ["dropDataset", () => backend.dropDataset(missing)],
      ["getDatasetEngine", () => backend.getDatasetEngine(missing)],
      ["listTables", () => backend.listTables(missing)],
      ["loadData", () => backend.loadData(missing)],
      ["saveData", () => backend.saveData(missing, sampleFrame())],
      ["getMetadata", () => backend.getMetadata(missing)],
      ["updateMetadata", () => backend.updateMetadata(missing, { a: 1 })],
    ];
    for (const [name, call] of calls) await rejectsWith(call, ErrorCodes.DATASET_NOT_FOUND, `${name}() of a missing dataset`);
    checkEqual(await backend.datasetExists(missing), false, "a failed call must not create the dataset");
  }),

  defineCheck(G, "saveData and loadData round-trip a table (default table data, ifExists replace)", async (backend) => {
    await backend.createDataset(DATASET);
    await backend.saveData(DATASET, sampleFrame());
    checkDeepEqual(await backend.listTables(DATASET), ["data"], "listTables after saveData without a table name");
    const loaded = await backend.loadData(DATASET);
    checkRows(SAMPLE_COLUMNS, byFirstColumn(arrays(loaded, SAMPLE_COLUMNS)), SAMPLE_ROWS, "loadData()");
    await backend.saveData(DATASET, { columns: SAMPLE_COLUMNS, rows: [{ id: 9n, name: "only", score: 1, flag: true }] });
    checkEqual((await backend.loadData(DATASET)).rows.length, 1, "rows after saveData again (replace by default)");
    await backend.saveData(DATASET, sampleFrame(), "train", "append");
    await backend.saveData(DATASET, sampleFrame(), "train", "append");
    checkEqual((await backend.loadData(DATASET, "train")).rows.length, 2 * SAMPLE_ROWS.length, "rows after two appends");
    await rejectsWith(() => backend.saveData(DATASET, sampleFrame(), "train", "fail"), ErrorCodes.TABLE_EXISTS, "saveData(ifExists fail) on an existing table");
    check((await backend.listTables(DATASET)).includes("train"), "the train table is listed");
  }),
];

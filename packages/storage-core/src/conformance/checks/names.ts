import { ErrorCodes } from "../../errors.js";
import { type ColumnDef, type Value } from "../../types.js";
import { check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { DATASET, SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, defineCheck, frame, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";

const G = "names";

/** Dataset names that must never become a path, a database or a schema (reliability.md B8). */
export const HOSTILE_DATASET_NAMES: readonly string[] = [
  "../x",
  "../../etc/passwd",
  "/abs/path",
  "a/b",
  "a\\b",
  ".",
  "..",
  "",
  "   ",
  'a"; drop',
  "x'; DROP DATABASE postgres; --",
  "x\0y",
  "a".repeat(200),
  "données",
  "数据",
  "😀",
  "\u212Aelvin", // KELVIN SIGN lower-cases to an ASCII "k"
  "-flag",
  "name with spaces",
];

/** Table names that must work literally (reliability.md B1-B5). */
export const HOSTILE_TABLE_NAMES: readonly string[] = [
  'x"; DROP TABLE t; --',
  "select",
  "order",
  "group",
  "My Table",
  "Ünïcødé",
  "CamelCase",
  'a\\"b',
  "a\\",
  "O'Brien",
  "t; DELETE FROM t",
  "数据",
];

const HOSTILE_COLUMNS: ColumnDef[] = [
  { name: 'col "1"', type: "int64" },
  { name: "from", type: "text" },
  { name: "x'); DROP TABLE t; --", type: "float64" },
];

export const nameChecks: ConformanceCheck[] = [
  defineCheck(G, "hostile dataset names are refused with MDM_INVALID_NAME before anything is created", async (backend) => {
    for (const name of HOSTILE_DATASET_NAMES) {
      const shown = JSON.stringify(name.length > 30 ? `${name.slice(0, 30)}...` : name);
      await rejectsWith(() => backend.createDataset(name), ErrorCodes.INVALID_NAME, `createDataset(${shown})`);
      await rejectsWith(() => backend.datasetExists(name), ErrorCodes.INVALID_NAME, `datasetExists(${shown})`);
      await rejectsWith(() => backend.dropDataset(name), ErrorCodes.INVALID_NAME, `dropDataset(${shown})`);
      await rejectsWith(() => backend.getMetadata(name), ErrorCodes.INVALID_NAME, `getMetadata(${shown})`);
      await rejectsWith(() => backend.saveData(name, sampleFrame()), ErrorCodes.INVALID_NAME, `saveData(${shown})`);
      await rejectsWith(() => backend.getDatabasePath(name), ErrorCodes.INVALID_NAME, `getDatabasePath(${shown})`);
      await rejectsWith(() => backend.listStagingPaths(name), ErrorCodes.INVALID_NAME, `listStagingPaths(${shown})`);
    }
    checkDeepEqual(await backend.listDatasets(), [], "listDatasets after refused names");
  }),

  defineCheck(G, "placeDataset: a dataset is found where its registry entry says, until the place is forgotten", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const location = backend.getDatabasePath(DATASET);
    checkEqual(await backend.datasetExists("placed_elsewhere"), false, "datasetExists of a dataset not created");
    backend.placeDataset("placed_elsewhere", location);
    checkEqual(backend.getDatabasePath("placed_elsewhere"), location, "getDatabasePath of a placed dataset");
    checkEqual(await backend.datasetExists("placed_elsewhere"), true, "datasetExists of a placed dataset");
    checkEqual((await backend.loadData("placed_elsewhere", "train")).rows.length, SAMPLE_ROWS.length, "rows read through the placed name");
    await rejectsWith(() => backend.placeDataset("placed_elsewhere", "x\0y"), ErrorCodes.INVALID_NAME, "placeDataset at a location with NUL");
    await rejectsWith(() => backend.placeDataset("../x", location), ErrorCodes.INVALID_NAME, "placeDataset of a hostile dataset name");
    checkEqual(backend.getDatabasePath("placed_elsewhere"), location, "a refused place leaves the earlier one");
    backend.placeDataset("placed_elsewhere", null);
    checkEqual(await backend.datasetExists("placed_elsewhere"), false, "datasetExists once the place is forgotten");
    checkEqual(await backend.datasetExists(DATASET), true, "the dataset itself");
  }),

  defineCheck(G, "hostile table and column names work literally without touching other tables", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "t", engine);
    const rows: Value[][] = [
      [1n, "one", 1.5],
      [2n, null, -0.5],
    ];
    for (const name of HOSTILE_TABLE_NAMES) {
      await backend.createTableFromDataFrame(frame(HOSTILE_COLUMNS, rows), name, engine);
      checkEqual(await backend.tableExists(name, engine), true, `tableExists(${JSON.stringify(name)})`);
      const df = await backend.readTable(name, { engine, orderBy: ['col "1"'] });
      checkRows(HOSTILE_COLUMNS, arrays(df, HOSTILE_COLUMNS), rows, `rows of ${JSON.stringify(name)}`);
      const filtered = await backend.readTable(name, { engine, where: { from: "one" }, columns: ["from"] });
      checkEqual(filtered.rows.length, 1, `where on column "from" of ${JSON.stringify(name)}`);
      checkDeepEqual(await backend.getColumns(name, engine), HOSTILE_COLUMNS.map((c) => c.name), `getColumns(${JSON.stringify(name)})`);
      checkEqual((await backend.analyzeColumn(name, 'col "1"', engine)).count, 2, `analyzeColumn of a quoted column in ${JSON.stringify(name)}`);
    }
    const names = await backend.getTableNames(engine);
    checkDeepEqual(names, [...HOSTILE_TABLE_NAMES, "t"].sort(), "getTableNames() lists every hostile name exactly");
    for (const name of HOSTILE_TABLE_NAMES) await backend.dropTable(name, engine);
    checkDeepEqual(await backend.getTableNames(engine), ["t"], "only t is left after dropping the hostile tables");
    const t = await backend.readTable("t", { engine, orderBy: ["id"] });
    checkRows(SAMPLE_COLUMNS, arrays(t, SAMPLE_COLUMNS), SAMPLE_ROWS, "rows of t are untouched");
  }),

  defineCheck(G, "empty, blank and NUL table or column names are refused with MDM_INVALID_NAME", async (backend) => {
    const engine = await openDataset(backend);
    for (const name of ["", "   ", "a\0b", "\0"]) {
      const shown = JSON.stringify(name);
      await rejectsWith(() => backend.createTableFromDataFrame(sampleFrame(), name, engine), ErrorCodes.INVALID_NAME, `createTableFromDataFrame(table ${shown})`);
      await rejectsWith(() => backend.writeBatches(name, SAMPLE_COLUMNS, [], { engine }), ErrorCodes.INVALID_NAME, `writeBatches(table ${shown})`);
      await rejectsWith(() => backend.readTable(name, { engine }), ErrorCodes.INVALID_NAME, `readTable(${shown})`);
      await rejectsWith(() => backend.tableExists(name, engine), ErrorCodes.INVALID_NAME, `tableExists(${shown})`);
      await rejectsWith(() => backend.getTableInfo(name, engine), ErrorCodes.INVALID_NAME, `getTableInfo(${shown})`);
      await rejectsWith(() => backend.dropTable(name, engine), ErrorCodes.INVALID_NAME, `dropTable(${shown})`);
      await rejectsWith(() => backend.writeBatches("t", [{ name, type: "int64" }], [], { engine }), ErrorCodes.INVALID_NAME, `column ${shown}`);
    }
    await rejectsWith(() => backend.createTableFromDataFrame(sampleFrame(), "bad\uD800", engine), ErrorCodes.INVALID_NAME, "a table name with a lone surrogate");
    checkDeepEqual(await backend.getTableNames(engine), [], "no table was created");
    check((await backend.listDatasets()).length === 1, "no dataset was created");
  }),
];

import { ErrorCodes } from "../../errors.js";
import { type ColumnDef } from "../../types.js";
import { check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, byFirstColumn, defineCheck, frame, openDataset, sampleFrame, typesOf, type ConformanceCheck } from "./support.js";

const G = "tables";

const OTHER_COLUMNS: ColumnDef[] = [
  { name: "key", type: "text" },
  { name: "amount", type: "decimal", precision: 10, scale: 2 },
];

export const tableChecks: ConformanceCheck[] = [
  defineCheck(G, "createTableFromDataFrame creates a table with the given columns and rows", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    checkEqual(await backend.tableExists("train", engine), true, "tableExists after create");
    const info = await backend.getTableInfo("train", engine);
    checkDeepEqual(typesOf(info.columns), typesOf(SAMPLE_COLUMNS), "columns and logical types of the created table");
    const read = await backend.readTableToDataFrame("train", engine);
    checkRows(SAMPLE_COLUMNS, byFirstColumn(arrays(read, SAMPLE_COLUMNS)), SAMPLE_ROWS, "rows read back");
  }),

  defineCheck(G, "ifExists fail (the default) on an existing table fails with MDM_TABLE_EXISTS and keeps its rows", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine, "fail");
    await rejectsWith(() => backend.createTableFromDataFrame(sampleFrame(), "train", engine), ErrorCodes.TABLE_EXISTS, "second create (default ifExists)");
    await rejectsWith(() => backend.createTableFromDataFrame(sampleFrame(), "train", engine, "fail"), ErrorCodes.TABLE_EXISTS, "second create (ifExists fail)");
    checkEqual((await backend.getTableInfo("train", engine)).rowCount, SAMPLE_ROWS.length, "rows kept after the refused create");
  }),

  defineCheck(G, "ifExists replace replaces the rows and the columns", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const rows = [
      ["a", "1.50"],
      ["b", "-2.00"],
    ];
    await backend.createTableFromDataFrame(frame(OTHER_COLUMNS, rows), "train", engine, "replace");
    const info = await backend.getTableInfo("train", engine);
    checkDeepEqual(typesOf(info.columns), typesOf(OTHER_COLUMNS), "columns after replace");
    checkEqual(info.rowCount, 2, "rowCount after replace");
    const read = await backend.readTable("train", { engine, orderBy: ["key"] });
    checkRows(OTHER_COLUMNS, arrays(read, OTHER_COLUMNS), rows, "rows after replace");
  }),

  defineCheck(G, "ifExists append adds rows, matching columns by name in any order", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const reordered = [...SAMPLE_COLUMNS].reverse();
    const extra = [[false, 7.5, "zeta", 6n]];
    await backend.createTableFromDataFrame(frame(reordered, extra), "train", engine, "append");
    const read = await backend.readTable("train", { engine, orderBy: ["id"] });
    checkRows(SAMPLE_COLUMNS, arrays(read, SAMPLE_COLUMNS), [...SAMPLE_ROWS, [6n, "zeta", 7.5, false]], "rows after append");
    await rejectsWith(
      () => backend.createTableFromDataFrame(frame([{ name: "id", type: "int64" }], [[7n]]), "train", engine, "append"),
      ErrorCodes.INVALID_ARGUMENT,
      "append with missing columns",
    );
    checkEqual((await backend.getTableInfo("train", engine)).rowCount, SAMPLE_ROWS.length + 1, "rows kept after the refused append");
  }),

  defineCheck(G, "ifExists append and replace on a missing table create it; an unknown ifExists fails with MDM_INVALID_ARGUMENT", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "a", engine, "append");
    await backend.createTableFromDataFrame(sampleFrame(), "r", engine, "replace");
    checkDeepEqual(await backend.getTableNames(engine), ["a", "r"], "tables created by append and replace");
    await rejectsWith(() => backend.createTableFromDataFrame(sampleFrame(), "x", engine, "upsert" as never), ErrorCodes.INVALID_ARGUMENT, "ifExists upsert");
    checkEqual(await backend.tableExists("x", engine), false, "no table after an invalid ifExists");
  }),

  defineCheck(G, "writeTable defaults to ifExists replace", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeTable("t", sampleFrame(), { engine });
    await backend.writeTable("t", frame(SAMPLE_COLUMNS, SAMPLE_ROWS.slice(0, 2)), { engine });
    checkEqual((await backend.getTableInfo("t", engine)).rowCount, 2, "rows after a second writeTable");
    await backend.writeTable("t", frame(SAMPLE_COLUMNS, SAMPLE_ROWS.slice(0, 1)), { engine, ifExists: "append" });
    checkEqual((await backend.getTableInfo("t", engine)).rowCount, 3, "rows after writeTable(append)");
  }),

  defineCheck(G, "an empty DataFrame with explicit columns makes an empty table; without columns it is MDM_INVALID_ARGUMENT", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame({ columns: SAMPLE_COLUMNS, rows: [] }, "empty", engine);
    const info = await backend.getTableInfo("empty", engine);
    checkEqual(info.rowCount, 0, "rowCount of an empty table");
    checkDeepEqual(typesOf(info.columns), typesOf(SAMPLE_COLUMNS), "columns of an empty table");
    checkEqual((await backend.readTable("empty", { engine })).rows.length, 0, "rows read from an empty table");
    await rejectsWith(() => backend.createTableFromDataFrame({ rows: [] }, "nothing", engine), ErrorCodes.INVALID_ARGUMENT, "empty DataFrame without columns");
    checkEqual(await backend.tableExists("nothing", engine), false, "no table after the refused create");
  }),

  defineCheck(G, "columns are inferred from plain row objects", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame([{ id: 1n, x: 1.5, s: "a" }, { id: 2n, x: 2, s: null }], "inferred", engine);
    const info = await backend.getTableInfo("inferred", engine);
    checkDeepEqual(typesOf(info.columns), [["id", "int64"], ["x", "float64"], ["s", "text"]], "inferred columns");
  }),

  defineCheck(G, "tableExists, getTableNames (sorted, system tables only with includeSystem) and dropTable", async (backend) => {
    const engine = await openDataset(backend);
    for (const name of ["train", "test", "validation", "sample_submission"]) await backend.createTableFromDataFrame(sampleFrame(), name, engine);
    checkDeepEqual(await backend.getTableNames(engine), ["sample_submission", "test", "train", "validation"], "getTableNames()");
    checkDeepEqual(await backend.getTableNames(), ["sample_submission", "test", "train", "validation"], "getTableNames() with the default engine");
    const all = await backend.getTableNames(engine, { includeSystem: true });
    check(all.includes("_metadata"), `getTableNames({ includeSystem: true }) must list _metadata, got ${JSON.stringify(all)}`);
    checkDeepEqual(all, [...all].sort(), "getTableNames({ includeSystem: true }) is sorted");
    checkDeepEqual(await backend.listTables("conformance"), ["sample_submission", "test", "train", "validation"], "listTables()");
    checkDeepEqual(await backend.listTables("conformance", { includeSystem: true }), all, "listTables({ includeSystem: true })");
    await backend.dropTable("test", engine);
    checkEqual(await backend.tableExists("test", engine), false, "tableExists after dropTable");
    checkDeepEqual(await backend.getTableNames(engine), ["sample_submission", "train", "validation"], "getTableNames after dropTable");
    await rejectsWith(() => backend.dropTable("test", engine), ErrorCodes.TABLE_NOT_FOUND, "dropTable of a missing table");
  }),

  defineCheck(G, "operations on a missing table fail with MDM_TABLE_NOT_FOUND", async (backend) => {
    const engine = await openDataset(backend);
    const calls: Array<[string, () => unknown]> = [
      ["readTableToDataFrame", () => backend.readTableToDataFrame("nope", engine)],
      ["readTable", () => backend.readTable("nope", { engine })],
      ["getTableInfo", () => backend.getTableInfo("nope", engine)],
      ["getColumns", () => backend.getColumns("nope", engine)],
      ["analyzeColumn", () => backend.analyzeColumn("nope", "id", engine)],
      ["dropTable", () => backend.dropTable("nope", engine)],
      ["loadData", () => backend.loadData("conformance", "nope")],
      ["readBatches", async () => {
        for await (const _ of backend.readBatches("nope", { engine })) void _;
      }],
      ["tableChecksum", () => backend.tableChecksum("nope", { engine })],
    ];
    for (const [name, call] of calls) await rejectsWith(call, ErrorCodes.TABLE_NOT_FOUND, `${name}() of a missing table`);
    checkEqual(await backend.tableExists("nope", engine), false, "tableExists of a missing table");
  }),

  defineCheck(G, "a NOT NULL column refuses NULL and the write leaves nothing", async (backend) => {
    const engine = await openDataset(backend);
    const columns: ColumnDef[] = [{ name: "id", type: "int64", nullable: false }];
    await rejectsWith(
      () => backend.createTableFromDataFrame(frame(columns, [[1n], [null]]), "strict", engine),
      [ErrorCodes.INVALID_ARGUMENT, ErrorCodes.QUERY_FAILED, ErrorCodes.UNSUPPORTED_VALUE],
      "NULL in a NOT NULL column",
    );
    checkEqual(await backend.tableExists("strict", engine), false, "no table after the refused write");
  }),
];

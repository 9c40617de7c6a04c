import { ErrorCodes } from "../../errors.js";
import { type ColumnDef, type Value } from "../../types.js";
import { check, checkDeepEqual, checkEqual, checkValue, rejectsWith } from "../assert.js";
import { EVERY_TYPE_COLUMNS, SAMPLE_COLUMNS, SAMPLE_ROWS, defineCheck, frame, openDataset, sampleFrame, typesOf, type ConformanceCheck } from "./support.js";

const G = "table info";

function near(actual: number | null, expected: number, what: string): void {
  check(typeof actual === "number" && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

export const infoChecks: ConformanceCheck[] = [
  defineCheck(G, "getTableInfo returns the name, columns with logical types, rowCount and columnCount", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const info = await backend.getTableInfo("train", engine);
    checkEqual(info.name, "train", "name");
    checkDeepEqual(typesOf(info.columns), typesOf(SAMPLE_COLUMNS), "columns");
    checkEqual(info.rowCount, SAMPLE_ROWS.length, "rowCount");
    checkEqual(info.columnCount, SAMPLE_COLUMNS.length, "columnCount");
    checkDeepEqual(typesOf((await backend.getTableInfo("train")).columns), typesOf(SAMPLE_COLUMNS), "getTableInfo with the default engine");
  }),

  defineCheck(G, "getTableInfo keeps every logical type and decimal precision", async (backend) => {
    const engine = await openDataset(backend);
    const columns = EVERY_TYPE_COLUMNS;
    await backend.createTableFromDataFrame({ columns, rows: [] }, "typed", engine);
    const info = await backend.getTableInfo("typed", engine);
    checkDeepEqual(typesOf(info.columns), typesOf(columns), "logical types");
    const d = info.columns.find((c) => c.name === "d");
    check(d?.precision === undefined || (d.precision === 18 && d.scale === 4), `decimal(18,4) read back as precision ${d?.precision}, scale ${d?.scale}`);
  }),

  defineCheck(G, "getColumns returns the column names in table order", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    checkDeepEqual(await backend.getColumns("train", engine), SAMPLE_COLUMNS.map((c) => c.name), "getColumns()");
  }),

  defineCheck(G, "analyzeColumn of a numeric column: counts, nulls, unique, min, max, mean, sample std", async (backend) => {
    const engine = await openDataset(backend);
    const columns: ColumnDef[] = [{ name: "v", type: "int64" }];
    const values: Value[] = [1n, 2n, 2n, 5n, null, 10n];
    await backend.createTableFromDataFrame(frame(columns, values.map((x) => [x])), "nums", engine);
    const a = await backend.analyzeColumn("nums", "v", engine);
    checkEqual(a.table, "nums", "table");
    checkEqual(a.column, "v", "column");
    checkEqual(a.type, "int64", "type");
    checkEqual(a.count, 6, "count");
    checkEqual(a.nullCount, 1, "nullCount");
    near(a.nullPercentage, (1 / 6) * 100, "nullPercentage");
    checkEqual(a.uniqueCount, 4, "uniqueCount");
    checkValue("int64", a.min, 1n, "min");
    checkValue("int64", a.max, 10n, "max");
    near(a.mean, 4, "mean");
    near(a.std, Math.sqrt(((1 - 4) ** 2 + (2 - 4) ** 2 * 2 + (5 - 4) ** 2 + (10 - 4) ** 2) / 4), "std");
  }),

  defineCheck(G, "analyzeColumn of a text column: min and max, no mean or std", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const a = await backend.analyzeColumn("train", "name", engine);
    checkEqual(a.count, 5, "count");
    checkEqual(a.nullCount, 1, "nullCount");
    checkEqual(a.uniqueCount, 4, "uniqueCount");
    checkValue("text", a.min, "alpha", "min");
    checkValue("text", a.max, "epsilon", "max");
    checkEqual(a.mean, null, "mean of a text column");
    checkEqual(a.std, null, "std of a text column");
  }),

  defineCheck(G, "analyzeColumn of an empty table and of an all-NULL column", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame({ columns: SAMPLE_COLUMNS, rows: [] }, "empty", engine);
    const a = await backend.analyzeColumn("empty", "score", engine);
    checkEqual(a.count, 0, "count of an empty table");
    checkEqual(a.nullPercentage, 0, "nullPercentage of an empty table");
    checkEqual(a.min, null, "min of an empty table");
    checkEqual(a.mean, null, "mean of an empty table");
    await backend.createTableFromDataFrame(frame([{ name: "v", type: "float64" }], [[null], [null]]), "nulls", engine);
    const b = await backend.analyzeColumn("nulls", "v", engine);
    checkEqual(b.nullCount, 2, "nullCount of an all-NULL column");
    checkEqual(b.nullPercentage, 100, "nullPercentage of an all-NULL column");
    checkEqual(b.uniqueCount, 0, "uniqueCount of an all-NULL column");
    checkEqual(b.mean, null, "mean of an all-NULL column");
  }),

  defineCheck(G, "analyzeColumn of a missing column fails with MDM_COLUMN_NOT_FOUND", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    await rejectsWith(() => backend.analyzeColumn("train", "nope", engine), ErrorCodes.COLUMN_NOT_FOUND, "analyzeColumn of a missing column");
  }),
];

import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type ColumnDef, type StorageEngine, type Value } from "../../types.js";
import { SqlDate, SqlTimestamp, valuesEqual } from "../../values.js";
import { checkDeepEqual, checkEqual, checkRows, rejectsWith, show } from "../assert.js";
import { EVERY_TYPE_COLUMNS, SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, byFirstColumn, defineCheck, frame, openDataset, quoteName, sampleFrame, typesOf, type ConformanceCheck } from "./support.js";

const G = "reads";

async function withSample(backend: IStorageBackend): Promise<StorageEngine> {
  const engine = await openDataset(backend);
  await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
  return engine;
}

const pick = (names: string[]): ColumnDef[] => names.map((n) => SAMPLE_COLUMNS.find((c) => c.name === n) as ColumnDef);
const project = (names: string[]) => SAMPLE_ROWS.map((row) => names.map((n) => row[SAMPLE_COLUMNS.findIndex((c) => c.name === n)]));

export const readChecks: ConformanceCheck[] = [
  defineCheck(G, "readTableToDataFrame returns every row, or the first limit rows", async (backend) => {
    const engine = await withSample(backend);
    const all = await backend.readTableToDataFrame("train", engine);
    checkDeepEqual(typesOf(all.columns), typesOf(SAMPLE_COLUMNS), "columns of the DataFrame");
    checkRows(SAMPLE_COLUMNS, byFirstColumn(arrays(all, SAMPLE_COLUMNS)), SAMPLE_ROWS, "every row");
    checkEqual((await backend.readTableToDataFrame("train", engine, 2)).rows.length, 2, "rows with limit 2");
    checkEqual((await backend.readTableToDataFrame("train", engine, 0)).rows.length, 0, "rows with limit 0");
    checkEqual((await backend.readTableToDataFrame("train", engine, 100)).rows.length, SAMPLE_ROWS.length, "rows with a limit above the row count");
  }),

  defineCheck(G, "readTable returns the columns asked for, in that order", async (backend) => {
    const engine = await withSample(backend);
    const df = await backend.readTable("train", { engine, columns: ["score", "id"], orderBy: ["id"] });
    checkDeepEqual(df.columns.map((c) => c.name), ["score", "id"], "column order of the DataFrame");
    checkDeepEqual(Object.keys(df.rows[0] ?? {}).sort(), ["id", "score"], "keys of a row");
    checkRows(pick(["score", "id"]), arrays(df, pick(["score", "id"])), project(["score", "id"]), "rows of the projection");
    await rejectsWith(() => backend.readTable("train", { engine, columns: ["nope"] }), ErrorCodes.COLUMN_NOT_FOUND, "readTable of an unknown column");
  }),

  defineCheck(G, "readTable filters with a where object (equality, several keys, NULL)", async (backend) => {
    const engine = await withSample(backend);
    const one = await backend.readTable("train", { engine, where: { name: "beta" } });
    checkRows(SAMPLE_COLUMNS, arrays(one, SAMPLE_COLUMNS), [SAMPLE_ROWS[1]!], "where name = beta");
    const two = await backend.readTable("train", { engine, where: { flag: true, id: 4n }, orderBy: ["id"] });
    checkRows(SAMPLE_COLUMNS, arrays(two, SAMPLE_COLUMNS), [SAMPLE_ROWS[3]!], "where flag = true and id = 4");
    const nulls = await backend.readTable("train", { engine, where: { name: null } });
    checkRows(SAMPLE_COLUMNS, arrays(nulls, SAMPLE_COLUMNS), [SAMPLE_ROWS[2]!], "where name IS NULL");
    const none = await backend.readTable("train", { engine, where: { name: "x'; DROP TABLE train; --" } });
    checkEqual(none.rows.length, 0, "a where value with SQL in it matches nothing");
    checkEqual(await backend.tableExists("train", engine), true, "the table survives a hostile where value");
    await rejectsWith(() => backend.readTable("train", { engine, where: { nope: 1n } }), ErrorCodes.COLUMN_NOT_FOUND, "where on an unknown column");
  }),

  defineCheck(G, "readTable filters with raw SQL where when capabilities.sql (MDM_UNSUPPORTED_OPERATION otherwise)", async (backend) => {
    const engine = await withSample(backend);
    const where = `${quoteName("id")} >= 2 AND ${quoteName("id")} < 4`;
    if (!backend.capabilities.sql) {
      await rejectsWith(() => backend.readTable("train", { engine, where }), ErrorCodes.UNSUPPORTED_OPERATION, "raw SQL where without SQL support");
      return;
    }
    const df = await backend.readTable("train", { engine, where, orderBy: ["id"] });
    checkRows(SAMPLE_COLUMNS, arrays(df, SAMPLE_COLUMNS), SAMPLE_ROWS.slice(1, 3), "rows of the raw SQL where");
  }),

  defineCheck(G, "readTable orders by columns and applies limit after ordering", async (backend) => {
    const engine = await withSample(backend);
    const desc = await backend.readTable("train", { engine, orderBy: ["flag", "id"], where: { flag: false } });
    checkRows(SAMPLE_COLUMNS, arrays(desc, SAMPLE_COLUMNS), [SAMPLE_ROWS[1]!, SAMPLE_ROWS[4]!], "where flag = false order by flag, id");
    const byName = await backend.readTable("train", { engine, orderBy: ["name"], where: { flag: true } });
    checkRows(SAMPLE_COLUMNS, arrays(byName, SAMPLE_COLUMNS), [SAMPLE_ROWS[0]!, SAMPLE_ROWS[3]!], "order by name");
    const top = await backend.readTable("train", { engine, orderBy: ["id"], limit: 2, columns: ["id"] });
    checkRows(pick(["id"]), arrays(top, pick(["id"])), [[1n], [2n]], "order by id limit 2");
    const skipNulls = await backend.readTable("train", { engine, orderBy: ["score"], where: { flag: false } });
    checkRows(SAMPLE_COLUMNS, arrays(skipNulls, SAMPLE_COLUMNS), [SAMPLE_ROWS[1]!, SAMPLE_ROWS[4]!], "order by score");
    await rejectsWith(() => backend.readTable("train", { engine, orderBy: ["nope"] }), ErrorCodes.COLUMN_NOT_FOUND, "orderBy an unknown column");
  }),

  defineCheck(G, "a negative or fractional limit fails with MDM_INVALID_ARGUMENT", async (backend) => {
    const engine = await withSample(backend);
    await rejectsWith(() => backend.readTable("train", { engine, limit: -1 }), ErrorCodes.INVALID_ARGUMENT, "limit -1");
    await rejectsWith(() => backend.readTable("train", { engine, limit: 1.5 }), ErrorCodes.INVALID_ARGUMENT, "limit 1.5");
  }),

  defineCheck(G, "a where object binds every comparable type exactly (int64 beyond 2^53, float, boolean, text, date, timestamps)", async (backend) => {
    const engine = await openDataset(backend);
    // Columns b, i, f, s, day, at, attz: the types whose `=` is exact on every engine.
    const comparable = new Set(["boolean", "int64", "float64", "text", "date", "timestamp", "timestamptz"]);
    const columns: ColumnDef[] = [{ name: "id", type: "int64" }, ...EVERY_TYPE_COLUMNS.filter((c) => comparable.has(c.type))];
    const rows: Value[][] = [
      [1n, true, 2n ** 53n, 0.1, "a", SqlDate.parse("1969-12-31"), SqlTimestamp.parse("2024-01-01 00:00:00.123456"), SqlTimestamp.parse("2024-01-01 00:00:00.000001Z")],
      [2n, false, 2n ** 53n + 1n, 0.30000000000000004, "a ", SqlDate.parse("1970-01-01"), SqlTimestamp.parse("2024-01-01 00:00:00.123457"), SqlTimestamp.parse("2024-01-01 00:00:00.000002Z")],
      [3n, true, -(2n ** 63n), 0.3, "é", SqlDate.parse("0001-01-01"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("1960-01-01 00:00:00Z")],
    ];
    await backend.createTableFromDataFrame(frame(columns, rows), "typed", engine);
    for (let c = 1; c < columns.length; c++) {
      const column = columns[c] as ColumnDef;
      for (const row of rows) {
        const wanted = row[c] as Value;
        const expected = rows.filter((r) => valuesEqual(column.type, r[c] as Value, wanted));
        const df = await backend.readTable("typed", { engine, where: { [column.name]: wanted }, orderBy: ["id"] });
        checkRows(columns, arrays(df, columns), expected, `where ${column.name} = ${show(wanted)}`);
      }
    }
  }),
];


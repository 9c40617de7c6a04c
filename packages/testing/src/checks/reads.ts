import { ErrorCodes, type ColumnDef, type StorageEngine, type IStorageBackend } from "@mdm/storage-core";
import { checkDeepEqual, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, byFirstColumn, defineCheck, openDataset, quoteName, sampleFrame, typesOf, type ConformanceCheck } from "./support.js";

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
];

import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type ColumnDef, type StorageEngine } from "../../types.js";
import { check, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { SAMPLE_COLUMNS, SAMPLE_ROWS, arrays, defineCheck, openDataset, placeholder, quoteName, sampleFrame, type ConformanceCheck } from "./support.js";

const G = "sql";

async function withSample(backend: IStorageBackend): Promise<StorageEngine> {
  const engine = await openDataset(backend);
  await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
  return engine;
}

const ID_NAME: ColumnDef[] = [SAMPLE_COLUMNS[0]!, SAMPLE_COLUMNS[1]!];

export const sqlChecks: ConformanceCheck[] = [
  defineCheck(G, "query returns typed rows and binds parameters (MDM_UNSUPPORTED_OPERATION without capabilities.sql)", async (backend) => {
    const engine = await withSample(backend);
    const sql = `SELECT ${quoteName("id")}, ${quoteName("name")} FROM ${quoteName("train")} WHERE ${quoteName("id")} > ${placeholder(backend, 0)} ORDER BY ${quoteName("id")}`;
    if (!backend.capabilities.sql) {
      await rejectsWith(() => backend.query(sql, [2n], engine), ErrorCodes.UNSUPPORTED_OPERATION, "query() without SQL support");
      return;
    }
    const df = await backend.query(sql, [2n], engine);
    checkEqual(df.columns.length, 2, "result columns");
    checkRows(ID_NAME, arrays(df, ID_NAME), SAMPLE_ROWS.filter((r) => (r[0] as bigint) > 2n).map((r) => r.slice(0, 2)), "rows of the query");
    const hostile = await backend.query(`SELECT ${quoteName("id")} FROM ${quoteName("train")} WHERE ${quoteName("name")} = ${placeholder(backend, 0)}`, ["x'; DROP TABLE train; --"], engine);
    checkEqual(hostile.rows.length, 0, "a parameter with SQL in it matches nothing");
    const count = await backend.query(`SELECT COUNT(*) AS n FROM ${quoteName("train")}`, [], engine);
    checkEqual(Number(count.rows[0]?.n), SAMPLE_ROWS.length, "COUNT(*)");
    const byDefault = await backend.query(`SELECT ${quoteName("id")} FROM ${quoteName("train")}`);
    checkEqual(byDefault.rows.length, SAMPLE_ROWS.length, "query() with the default engine");
  }),

  defineCheck(G, "executeQuery changes rows, reports rowsAffected and commits (MDM_UNSUPPORTED_OPERATION without capabilities.sql)", async (backend) => {
    const engine = await withSample(backend);
    const update = `UPDATE ${quoteName("train")} SET ${quoteName("name")} = ${placeholder(backend, 0)} WHERE ${quoteName("id")} = ${placeholder(backend, 1)}`;
    if (!backend.capabilities.sql) {
      await rejectsWith(() => backend.executeQuery(update, engine, ["changed", 1n]), ErrorCodes.UNSUPPORTED_OPERATION, "executeQuery() without SQL support");
      return;
    }
    checkEqual((await backend.executeQuery(update, engine, ["changed", 1n])).rowsAffected, 1, "rowsAffected of an UPDATE of one row");
    const deleted = await backend.executeQuery(`DELETE FROM ${quoteName("train")} WHERE ${quoteName("id")} >= ${placeholder(backend, 0)}`, engine, [4n]);
    checkEqual(deleted.rowsAffected, 2, "rowsAffected of a DELETE of two rows");
    await backend.executeQuery(`CREATE TABLE ${quoteName("made by sql")} (${quoteName("x")} BIGINT)`, engine);
    await backend.closeConnections();
    checkEqual(await backend.tableExists("made by sql", engine), true, "a table created by executeQuery exists after closeConnections");
    const df = await backend.readTable("train", { engine, orderBy: ["id"], columns: ["id", "name"] });
    checkRows(ID_NAME, arrays(df, ID_NAME), [[1n, "changed"], [2n, "beta"], [3n, null]], "rows after UPDATE and DELETE, after closeConnections");
  }),

  defineCheck(G, "invalid SQL fails with MDM_QUERY_FAILED and empty SQL with MDM_INVALID_ARGUMENT", async (backend) => {
    const engine = await withSample(backend);
    await rejectsWith(() => backend.query("   ", [], engine), backend.capabilities.sql ? ErrorCodes.INVALID_ARGUMENT : [ErrorCodes.INVALID_ARGUMENT, ErrorCodes.UNSUPPORTED_OPERATION], "query('   ')");
    await rejectsWith(() => backend.executeQuery("", engine), backend.capabilities.sql ? ErrorCodes.INVALID_ARGUMENT : [ErrorCodes.INVALID_ARGUMENT, ErrorCodes.UNSUPPORTED_OPERATION], "executeQuery('')");
    if (!backend.capabilities.sql) return;
    await rejectsWith(() => backend.query("SELEKT nonsense FROM", [], engine), ErrorCodes.QUERY_FAILED, "query() of invalid SQL");
    await rejectsWith(() => backend.executeQuery("UPDATE no_such_table SET x = 1", engine), [ErrorCodes.QUERY_FAILED, ErrorCodes.TABLE_NOT_FOUND], "executeQuery() on a missing table");
    const still = await backend.readTable("train", { engine });
    check(still.rows.length === SAMPLE_ROWS.length, "the data survives failed statements");
  }),

  defineCheck(G, "query of table columns returns values in the value model (bigint, number, boolean, string, NULL)", async (backend) => {
    const engine = await withSample(backend);
    if (!backend.capabilities.sql) return; // covered by the MDM_UNSUPPORTED_OPERATION check above
    const cols = SAMPLE_COLUMNS.map((c) => quoteName(c.name)).join(", ");
    const df = await backend.query(`SELECT ${cols} FROM ${quoteName("train")} ORDER BY ${quoteName("id")}`, [], engine);
    checkRows(SAMPLE_COLUMNS, arrays(df, SAMPLE_COLUMNS), SAMPLE_ROWS, "rows of SELECT * through query()");
  }),
];


import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCodes, SqlDate, isMdmError, type IStorageBackend } from "@mdm/storage-core";
import { ALL_TYPES, allTypeRows, tempHome } from "./helpers.js";
import { IMPLEMENTATIONS } from "./implementations.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A dataset file made by someone else (another tool, by hand), then opened with the backend. */
function foreign(create: (home: string) => IStorageBackend, sql: string): IStorageBackend {
  const { home, cleanup } = tempHome("mdm-foreign-");
  cleanups.push(cleanup);
  const backend = create(home);
  cleanups.push(() => backend.close());
  const path = backend.getDatabasePath("ext");
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.exec(sql);
  db.close();
  return backend;
}

describe.each(IMPLEMENTATIONS)("SQLite type mapping ($name)", ({ create }) => {
  it("declares types that keep every value in the storage class it was written in", async () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const backend = create(home);
    cleanups.push(() => backend.close());
    await backend.createDataset("m");
    await backend.saveData("m", { columns: ALL_TYPES, rows: allTypeRows() }, "t");
    const engine = await backend.getDatasetEngine("m");
    const declared = await backend.query("SELECT name, type FROM pragma_table_info('t') ORDER BY cid", [], engine);
    expect(declared.rows.map((r) => r.type)).toEqual(["INTEGER", "REAL", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "DECIMAL_TEXT(30,10)", "JSON_TEXT", "BLOB", "TEXT"]);
    const classes = await backend.query('SELECT typeof("id") a, typeof("f") b, typeof("flag") c, typeof("d") d, typeof("ts") e, typeof("tz") f, typeof("dec") g, typeof("j") h, typeof("bin") i, "d" AS dv, "ts" AS tsv, CAST("tz" AS TEXT) AS tzv FROM "t" LIMIT 1', [], engine);
    expect(classes.rows[0]).toMatchObject({ a: "integer", b: "real", c: "integer", d: "text", e: "text", f: "text", g: "text", h: "text", i: "blob" });
    expect(classes.rows[0]?.dv).toEqual(SqlDate.parse("1960-02-29"));
    expect(classes.rows[0]?.tzv).toBe("2024-01-01 10:00:00.123456+00:00");
  });

  it("maps foreign declared types by SQLite's affinity rules", async () => {
    const backend = foreign(
      create,
      `CREATE TABLE t (a BIGINT, b UNSIGNED BIG INT, c VARCHAR(20), d NVARCHAR, e CLOB, f DOUBLE PRECISION, g FLOAT, h NUMERIC, i DECIMAL(10,2), j, k BLOB, l DATETIME, m JSON, n BOOL, o TIMESTAMP WITH TIME ZONE);
       INSERT INTO t VALUES (1, 2, 'x', 'y', 'z', 1.5, 2.5, 3, '12.30', x'00', x'01', '2020-01-01 00:00:00', '123', 1, '2020-01-01T00:00:00Z');`,
    );
    const info = await backend.getTableInfo("t", await backend.getDatasetEngine("ext"));
    expect(info.columns.map((c) => c.type)).toEqual(["int64", "int64", "text", "text", "text", "float64", "float64", "decimal", "decimal", "blob", "blob", "timestamp", "json", "boolean", "timestamptz"]);
    expect(info.columns[8]).toMatchObject({ precision: 10, scale: 2 });
    const row = (await backend.loadData("ext", "t")).rows[0];
    // NUMERIC affinity already turned '12.30' into the REAL 12.3 when it was inserted: that is what the file holds.
    expect(row).toMatchObject({ a: 1n, h: "3", i: "12.3", m: "123", n: true, g: 2.5 });
  });

  it("raises MDM_UNSUPPORTED_VALUE naming table, column and row on type drift, and leaves the file unchanged", async () => {
    const backend = foreign(create, `CREATE TABLE "train" (id INTEGER, d DATE, ts TIMESTAMP); INSERT INTO "train" VALUES (1, '2020-01-01', '2020-01-01 00:00:00'), (2, '2020-01-02', NULL), ('toto', '2020-01-03', NULL);`);
    const error = await backend.loadData("ext", "train").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.UNSUPPORTED_VALUE)).toBe(true);
    expect((error as Error).message).toMatch(/table "train", column "id", row 2: the TEXT value "toto" is not a int64/);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ table: "train", column: "id", row: 2 });
    const engine = await backend.getDatasetEngine("ext");
    expect((await backend.query('SELECT CAST(id AS TEXT) AS id FROM "train" WHERE rowid = 3', [], engine)).rows).toEqual([{ id: "toto" }]);
    // Other columns still read.
    expect((await backend.readTable("train", { engine, columns: ["d"] })).rows).toHaveLength(3);
  });

  it.each([
    ["an epoch integer in a TIMESTAMP column", "ts TIMESTAMP", "1700000000", /not a timestamp/],
    ["a zone offset in a TIMESTAMP column", "ts TIMESTAMP", "'2020-01-01 00:00:00+02:00'", /time-zone offset/],
    ["1.5 in a BOOLEAN column", "b BOOLEAN", "1.5", /boolean is stored as 0 or 1/],
    ["text in a DATE column", "d DATE", "'yesterday'", /not a date/],
    ["a BLOB in a TEXT column", "t TEXT", "x'00'", /BLOB value/],
    ["invalid JSON in a JSON_TEXT column", "j JSON_TEXT", "'{oops'", /not valid JSON/],
    ["a REAL too big for int64 in an INTEGER column", "i INTEGER", "9223372036854775808", /REAL value/],
  ])("refuses %s", async (_title, column, value, pattern) => {
    const backend = foreign(create, `CREATE TABLE t (${column}); INSERT INTO t VALUES (${value});`);
    const error = await backend.loadData("ext", "t").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.UNSUPPORTED_VALUE)).toBe(true);
    expect((error as Error).message).toMatch(pattern);
  });
});

import { describe, expect, test } from "vitest";
import {
  AsyncMutex,
  ErrorCodes,
  SqlDate,
  SqlTimestamp,
  decodeMetadataValue,
  encodeMetadataValue,
  isMdmError,
  selectSql,
  type ColumnDef,
  type RowBatch,
  type Value,
} from "../src/index.js";
import { FileTableBackend } from "./helpers/file-table-backend.js";
import { tempDir } from "./helpers/temp-dir.js";
import { asyncCodeOf } from "./helpers/error-code.js";

function backend(options: Partial<ConstructorParameters<typeof FileTableBackend>[0]> = {}): FileTableBackend {
  return new FileTableBackend({ homeDir: tempDir(), ...options });
}

const COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "x", type: "float64" },
  { name: "label", type: "text" },
];

const ALL_TYPES: ColumnDef[] = [
  { name: "b", type: "boolean" },
  { name: "i", type: "int64" },
  { name: "f", type: "float64" },
  { name: "d", type: "decimal" },
  { name: "s", type: "text" },
  { name: "x", type: "blob" },
  { name: "dt", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
  { name: "j", type: "json" },
];

describe("lifecycle", () => {
  test("init is idempotent and lazy; a failed init is retried", async () => {
    const b = backend();
    b.failInit = new Error("driver missing");
    expect(await asyncCodeOf(b.init())).toBe(ErrorCodes.QUERY_FAILED);
    b.failInit = undefined;
    await b.init();
    await b.init();
    expect(b.calls.init).toBe(2);
    await b.close();
  });

  test("close is idempotent; every method afterwards is MDM_CLOSED", async () => {
    const b = backend();
    await b.createDataset("iris");
    await b.close();
    await b.close();
    expect(b.closed).toBe(true);
    expect(await asyncCodeOf(b.init())).toBe(ErrorCodes.CLOSED);
    expect(await asyncCodeOf(b.listDatasets())).toBe(ErrorCodes.CLOSED);
    expect(await asyncCodeOf(b.getEngine("/tmp/x.sqlite"))).toBe(ErrorCodes.CLOSED);
    const iterator = b.readBatches("t", {})[Symbol.asyncIterator]();
    expect(await asyncCodeOf(iterator.next())).toBe(ErrorCodes.CLOSED);
  });

  test("closeConnections closes engines and the next call opens them again", async () => {
    const b = backend();
    await b.createDataset("iris");
    await b.saveData("iris", { columns: COLUMNS, rows: [{ id: 1n, x: 1.5, label: "a" }] });
    const closesBefore = b.calls.close;
    await b.closeConnections();
    expect(b.calls.close).toBe(closesBefore + 1);
    expect((await b.loadData("iris")).rows).toEqual([{ id: 1n, x: 1.5, label: "a" }]);
    expect(b.closed).toBe(false);
    await b.close();
  });
});

describe("engines and databases (original engine-level API)", () => {
  test("getEngine caches per database and becomes the default engine", async () => {
    const b = backend();
    const dir = tempDir();
    const e1 = await b.getEngine(`${dir}/a.sqlite`);
    const e1again = await b.getEngine(`${dir}/./a.sqlite`);
    expect(e1again).toBe(e1);
    expect(Object.isFrozen(e1)).toBe(true);
    expect(e1).toMatchObject({ backendType: "sqlite", database: `${dir}/a.sqlite` });
    const e2 = await b.getEngine(`${dir}/b.sqlite`);
    expect(e2.id).not.toBe(e1.id);
    // engine-less calls use the most recent engine
    await b.writeTable("t", { columns: COLUMNS, rows: [{ id: 1n, x: 0, label: "b" }] });
    expect(await b.tableExists("t", e2)).toBe(true);
    expect(await b.tableExists("t", e1)).toBe(false);
    expect(await b.getConnection()).toMatchObject({ path: `${dir}/b.sqlite` });
    expect(b.calls.open).toBe(2);
    await b.close();
  });

  test("no engine yet, or an engine of another backend, is MDM_INVALID_ARGUMENT", async () => {
    const b = backend();
    expect(await asyncCodeOf(b.getTableNames())).toBe(ErrorCodes.INVALID_ARGUMENT);
    const foreign = { backendType: "duckdb", database: "/x", id: 1 } as const;
    expect(await asyncCodeOf(b.getTableNames(foreign))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.getTableNames("nope" as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("databaseExists / createDatabase / dropDatabase / getDatabasePath", async () => {
    const b = backend();
    const path = `${tempDir()}/sub/db.sqlite`;
    expect(await b.databaseExists(path)).toBe(false);
    await b.createDatabase(path);
    await b.createDatabase(path); // exists: no error, as in the original
    expect(await b.databaseExists(path)).toBe(true);
    const engine = await b.getEngine(path);
    await b.dropDatabase(path);
    expect(await b.databaseExists(path)).toBe(false);
    await b.dropDatabase(path); // already gone: no error
    expect(await asyncCodeOf(b.getTableNames())).toBe(ErrorCodes.INVALID_ARGUMENT); // the default engine went with it
    expect(engine.database).toBe(path);
    expect(b.getDatabasePath("Iris")).toBe(`${b.home.root}/datasets/iris/iris.sqlite`);
    expect(await asyncCodeOf(() => b.getDatabasePath("../etc"))).toBe(ErrorCodes.INVALID_NAME);
    expect(await asyncCodeOf(b.databaseExists(""))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.databaseExists("a\0b"))).toBe(ErrorCodes.INVALID_NAME);
    expect(await b.databaseExists(":memory:")).toBe(true);
    await b.close();
  });

  test("releaseEngine closes one database's engine; the next use reopens it from storage", async () => {
    const b = backend();
    const dir = tempDir();
    const keep = await b.getEngine(`${dir}/keep.sqlite`);
    const engine = await b.getEngine(`${dir}/r.sqlite`);
    await b.writeTable("t", [{ a: 1n }], { engine });
    const { opens, closes } = { opens: b.calls.open, closes: b.calls.close };
    await b.releaseEngine(engine);
    expect(b.calls.close).toBe(closes + 1);
    expect((await b.readTable("t", { engine })).rows).toEqual([{ a: 1n }]); // re-read from the file
    expect(b.calls.open).toBe(opens + 1);
    expect(await b.tableExists("t", keep)).toBe(false); // the other engine stayed open
    expect(await asyncCodeOf(b.releaseEngine({ backendType: "duckdb", database: "x", id: 0 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.releaseEngine(null as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("maxOpenEngines closes the least recently used engine", async () => {
    const b = backend({ maxOpenEngines: 2 });
    const dir = tempDir();
    await b.getEngine(`${dir}/1.sqlite`);
    await b.getEngine(`${dir}/2.sqlite`);
    expect(b.calls.close).toBe(0);
    await b.getEngine(`${dir}/3.sqlite`);
    expect(b.calls.close).toBe(1);
    await b.getEngine(`${dir}/2.sqlite`); // still open
    expect(b.calls.open).toBe(3);
    await b.getEngine(`${dir}/1.sqlite`); // reopened
    expect(b.calls.open).toBe(4);
    await b.close();
  });
});

describe("tables", () => {
  test("createTableFromDataFrame: fail / replace / append", async () => {
    const b = backend();
    const engine = await b.getEngine(`${tempDir()}/t.sqlite`);
    await b.createTableFromDataFrame({ columns: COLUMNS, rows: [{ id: 1n, x: 0.5, label: "a" }] }, "train", engine);
    expect(await asyncCodeOf(b.createTableFromDataFrame({ columns: COLUMNS, rows: [] }, "train", engine))).toBe(ErrorCodes.TABLE_EXISTS);
    // append with the columns in another order and different case
    await b.createTableFromDataFrame(
      { columns: [{ name: "LABEL", type: "text" }, { name: "id", type: "int64" }, { name: "x", type: "float64" }], rows: [{ LABEL: "b", id: 2n, x: 1 }] },
      "train",
      engine,
      "append",
    );
    expect((await b.readTableToDataFrame("train", engine)).rows).toEqual([
      { id: 1n, x: 0.5, label: "a" },
      { id: 2n, x: 1, label: "b" },
    ]);
    // append with a missing or extra column is refused and nothing is written
    expect(await asyncCodeOf(b.createTableFromDataFrame({ columns: [{ name: "id", type: "int64" }], rows: [{ id: 3n }] }, "train", engine, "append"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.createTableFromDataFrame({ columns: [...COLUMNS, { name: "y", type: "text" }], rows: [] }, "train", engine, "append"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.createTableFromDataFrame([{ only: "z" }], "train", engine, "replace");
    expect(await b.getColumns("train", engine)).toEqual(["only"]);
    expect(await asyncCodeOf(b.createTableFromDataFrame([{ a: 1n }], "t2", engine, "merge" as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("every logical type round-trips exactly through write and read (A1–A24 values)", async () => {
    const b = backend();
    const engine = await b.getEngine(`${tempDir()}/types.sqlite`);
    const rows: Value[][] = [
      [true, -(2n ** 63n), Number.NaN, "12345678901234567890.1234567890", "a\0b", new Uint8Array([0, 255]), SqlDate.parse("0001-01-01"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("2024-01-01 00:00:00+05"), '{"b":1,"a":2,"a":3}'],
      [false, 2n ** 63n - 1n, -0, "0.10", "", new Uint8Array(0), SqlDate.parse("9999-12-31"), SqlTimestamp.parse("1969-12-31 23:59:59.999999"), SqlTimestamp.parse("2024-01-01 00:00:00-12"), "[1.0, 1e2]"],
      [null, null, null, null, null, null, null, null, null, null],
      [true, 2n ** 53n + 1n, Infinity, "-1e-30", "NULL", Buffer.from("héllo"), SqlDate.parse("1969-12-31"), SqlTimestamp.parse("9999-12-31 23:59:59.999999"), SqlTimestamp.parse("0001-01-01 00:00:00Z"), "null"],
    ];
    const written = await b.writeBatches("all", ALL_TYPES, [rows]);
    expect(written).toBe(4);
    await b.closeConnections(); // force a re-read from the file
    const back: Value[][] = [];
    for await (const batch of b.readBatches("all", { engine: await b.getEngine(engine.database), batchSize: 3 })) back.push(...batch.rows);
    expect(back).toHaveLength(4);
    const { valuesEqual } = await import("../src/index.js");
    for (let r = 0; r < rows.length; r++) {
      for (let c = 0; c < ALL_TYPES.length; c++) {
        const expected = ALL_TYPES[c]!.type === "decimal" && rows[r]![c] === "-1e-30" ? "-0.000000000000000000000000000001" : rows[r]![c];
        expect(valuesEqual(ALL_TYPES[c]!.type, back[r]![c] as Value, expected as Value), `row ${r} column ${ALL_TYPES[c]!.name}`).toBe(true);
      }
    }
    expect(Object.is(back[1]![2], -0)).toBe(true);
    expect(typeof back[0]![1]).toBe("bigint");
    await b.close();
  });

  test("readTable: columns, equality filter (bound, not spliced), orderBy, limit", async () => {
    const b = backend();
    const engine = await b.getEngine(`${tempDir()}/r.sqlite`);
    await b.writeTable("t", {
      columns: COLUMNS,
      rows: [
        { id: 3n, x: 1, label: "b" },
        { id: 1n, x: 2, label: "a" },
        { id: 2n, x: 3, label: "b" },
        { id: 4n, x: 4, label: null },
      ],
    });
    expect((await b.readTable("t", { columns: ["label", "id"], orderBy: ["id"], limit: 2 })).rows).toEqual([
      { label: "a", id: 1n },
      { label: "b", id: 2n },
    ]);
    const filtered = await b.readTable("t", { where: { label: "b" }, orderBy: ["ID"], engine });
    expect(filtered.rows.map((r) => r.id)).toEqual([2n, 3n]);
    expect(filtered.columns.map((c) => c.name)).toEqual(["id", "x", "label"]);
    expect((await b.readTable("t", { where: { label: null } })).rows.map((r) => r.id)).toEqual([4n]);
    expect((await b.readTable("t", { where: { id: 1 } })).rows.map((r) => r.label)).toEqual(["a"]); // normalised to 1n
    expect((await b.readTable("t", { where: "  " })).rows).toHaveLength(4);
    expect(await asyncCodeOf(b.readTable("t", { where: "label = 'b'" }))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.readTable("t", { columns: ["nope"] }))).toBe(ErrorCodes.COLUMN_NOT_FOUND);
    expect(await asyncCodeOf(b.readTable("t", { columns: [] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.readTable("t", { limit: -1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.readTable("t", { limit: 1.5 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.readTable("missing"))).toBe(ErrorCodes.TABLE_NOT_FOUND);
    expect(await asyncCodeOf(b.readTable('x"; DROP TABLE t; --'))).toBe(ErrorCodes.TABLE_NOT_FOUND);
    expect(await asyncCodeOf(b.readTable("a\0b"))).toBe(ErrorCodes.INVALID_NAME);
    expect((await b.readTableToDataFrame("t", engine, 1)).rows).toHaveLength(1);
    await b.close();
  });

  test("writeTable defaults to replace; bad values name table, row and column and write nothing", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/w.sqlite`);
    await b.writeTable("t", [{ id: 1n }]);
    await b.writeTable("t", [{ id: 2n }, { id: 3n }]);
    expect((await b.readTable("t")).rows).toEqual([{ id: 2n }, { id: 3n }]);
    const error = await b.writeTable("t", { columns: [{ name: "id", type: "int64" }], rows: [{ id: 4n }, { id: "five" }] }).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect((error as Error).message).toContain('Table "t", row 1');
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ table: "t", row: 1, column: "id" });
    expect((await b.readTable("t")).rows).toEqual([{ id: 2n }, { id: 3n }]); // the replace was rolled back
    expect(await asyncCodeOf(b.writeTable("t", { columns: [{ name: "a", type: "text" }, { name: "A", type: "text" }], rows: [] }))).toBe(ErrorCodes.INVALID_NAME);
    expect(await asyncCodeOf(b.writeTable("t", { columns: [{ name: "a\0", type: "text" }], rows: [] }))).toBe(ErrorCodes.INVALID_NAME);
    expect(await asyncCodeOf(b.writeTable("t", { columns: [{ name: "a", type: "uuid" as never }], rows: [] }))).toBe(ErrorCodes.UNSUPPORTED_TYPE);
    expect(await asyncCodeOf(b.writeTable("t", { columns: [], rows: [] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("a value the backend cannot hold is MDM_UNSUPPORTED_VALUE, before anything is written (checkValue agrees)", async () => {
    const b = backend({ refuseNaN: true });
    await b.getEngine(`${tempDir()}/nan.sqlite`);
    const f: ColumnDef = { name: "f", type: "float64" };
    expect(await asyncCodeOf(b.writeTable("t", { columns: [f], rows: [{ f: 1 }, { f: Number.NaN }] }))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(await b.tableExists("t")).toBe(false);
    expect(() => b.checkValue(f, 1.5)).not.toThrow();
    expect(() => b.checkValue(f, null)).not.toThrow();
    expect(await asyncCodeOf(() => b.checkValue(f, Number.NaN))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(await asyncCodeOf(() => b.checkValue({ name: "i", type: "int64" }, "x"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("getTableInfo, getColumns, getTableNames (system tables hidden by default), tableExists, dropTable", async () => {
    const b = backend();
    await b.createDataset("ds");
    const engine = await b.getDatasetEngine("ds");
    await b.writeTable("train", { columns: COLUMNS, rows: [{ id: 1n, x: 1, label: "a" }, { id: 2n, x: 2, label: "b" }] }, { engine });
    await b.writeTable("Test", { columns: COLUMNS, rows: [] }, { engine });
    expect(await b.getTableInfo("train", engine)).toEqual({ name: "train", columns: COLUMNS.map((c) => ({ ...c })), rowCount: 2, columnCount: 3 });
    expect(await b.getColumns("train", engine)).toEqual(["id", "x", "label"]);
    expect(await b.getTableNames(engine)).toEqual(["Test", "train"]);
    expect(await b.getTableNames(engine, { includeSystem: true })).toEqual(["Test", "_metadata", "train"]);
    expect(await b.tableExists("train", engine)).toBe(true);
    await b.dropTable("train", engine);
    expect(await b.tableExists("train", engine)).toBe(false);
    expect(await asyncCodeOf(b.dropTable("train", engine))).toBe(ErrorCodes.TABLE_NOT_FOUND);
    expect(await asyncCodeOf(b.getTableInfo("train", engine))).toBe(ErrorCodes.TABLE_NOT_FOUND);
    expect(await asyncCodeOf(b.getColumns("", engine))).toBe(ErrorCodes.INVALID_NAME);
    await b.close();
  });

  test("analyzeColumn (table first, column second): counts, nulls, unique, min, max, mean, std", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/a.sqlite`);
    await b.writeTable("t", { columns: COLUMNS, rows: [{ id: 1n, x: 2, label: "a" }, { id: 2n, x: 4, label: "a" }, { id: 3n, x: 4, label: null }, { id: 4n, x: 6, label: "c" }] });
    const x = await b.analyzeColumn("t", "X");
    expect(x).toMatchObject({ table: "t", column: "x", type: "float64", count: 4, nullCount: 0, nullPercentage: 0, uniqueCount: 3, min: 2, max: 6, mean: 4 });
    expect(x.std).toBeCloseTo(Math.sqrt(8 / 3), 12); // sample standard deviation of 2,4,4,6
    const label = await b.analyzeColumn("t", "label");
    expect(label).toMatchObject({ count: 4, nullCount: 1, nullPercentage: 25, uniqueCount: 2, min: "a", max: "c", mean: null, std: null });
    expect(await asyncCodeOf(b.analyzeColumn("t", "nope"))).toBe(ErrorCodes.COLUMN_NOT_FOUND);
    await b.writeTable("empty", { columns: COLUMNS, rows: [] });
    expect(await b.analyzeColumn("empty", "x")).toMatchObject({ count: 0, nullPercentage: 0, mean: null, std: null });
    await b.close();
  });

  test("query and executeQuery: refused on a backend without SQL, empty SQL is an argument error", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/q.sqlite`);
    expect(await asyncCodeOf(b.query("SELECT 1"))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.executeQuery("DELETE FROM t"))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.query("  "))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.executeQuery(""))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });
});

describe("streaming", () => {
  test("readBatches yields batches of batchSize with the column schema", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/s.sqlite`);
    await b.writeBatches("t", COLUMNS, [Array.from({ length: 25 }, (_, i) => [BigInt(i), i / 2, `r${i}`])]);
    const sizes: number[] = [];
    let schema: ColumnDef[] | undefined;
    for await (const batch of b.readBatches("t", { batchSize: 10, orderBy: ["id"], columns: ["id", "label"] })) {
      sizes.push(batch.rows.length);
      schema = batch.columns;
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(schema?.map((c) => c.name)).toEqual(["id", "label"]);
    expect(b.calls.acquire).toBe(b.calls.release);
    expect(await asyncCodeOf(async () => { for await (const _ of b.readBatches("t", { batchSize: 0 })) void _; })).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(async () => { for await (const _ of b.readBatches("missing")) void _; })).toBe(ErrorCodes.TABLE_NOT_FOUND);
    expect(b.calls.acquire).toBe(b.calls.release); // sessions released on failure too
    await b.close();
  });

  test("a consumer that stops early releases the session", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/early.sqlite`);
    await b.writeBatches("t", COLUMNS, [Array.from({ length: 30 }, (_, i) => [BigInt(i), 0, "x"])]);
    const acquiredBefore = b.calls.acquire;
    for await (const batch of b.readBatches("t", { batchSize: 10 })) {
      expect(batch.rows).toHaveLength(10);
      break;
    }
    expect(b.calls.acquire).toBe(acquiredBefore + 1);
    expect(b.calls.release).toBe(b.calls.acquire);
    await b.close();
  });

  test("an aborted read stops with MDM_ABORTED", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/s.sqlite`);
    await b.writeBatches("t", COLUMNS, [Array.from({ length: 30 }, (_, i) => [BigInt(i), 0, "x"])]);
    const controller = new AbortController();
    let seen = 0;
    const code = await asyncCodeOf(async () => {
      for await (const batch of b.readBatches("t", { batchSize: 10, signal: controller.signal })) {
        seen += batch.rows.length;
        controller.abort();
      }
    });
    expect(code).toBe(ErrorCodes.ABORTED);
    expect(seen).toBe(10);
    await b.close();
  });

  test("writeBatches: async sources, RowBatch items, onBatch progress, empty batches skipped", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/w.sqlite`);
    async function* source(): AsyncGenerator<Value[][] | RowBatch> {
      yield [[1n, 1, "a"]];
      yield [];
      yield { columns: COLUMNS, rows: [[2n, 2, "b"], [3n, 3, "c"]] };
    }
    const progress: number[] = [];
    const n = await b.writeBatches("t", COLUMNS, source(), { onBatch: (w) => progress.push(w) });
    expect(n).toBe(3);
    expect(progress).toEqual([1, 3]);
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, [[[4n, 4, "d"]]]))).toBe(ErrorCodes.TABLE_EXISTS); // default ifExists: fail
    expect(await b.writeBatches("t", COLUMNS, [[[4n, 4, "d"]]], { ifExists: "append" })).toBe(1);
    expect((await b.getTableInfo("t")).rowCount).toBe(4);
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, [[[5n, 5]]], { ifExists: "append" }))).toBe(ErrorCodes.INVALID_ARGUMENT); // short row
    await b.close();
  });

  test("writeBatches leaves the caller's rows as they were, and normalises handed-over rows in place", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/hand.sqlite`);
    const kept: unknown[][] = [[1, 1, "a"]];
    await b.writeBatches("kept", COLUMNS, [kept as Value[][]]);
    expect(kept).toEqual([[1, 1, "a"]]); // the number stays a number: the row was copied
    const handed: unknown[][] = [[2, 2, "b"]];
    await b.writeBatches("handed", COLUMNS, [handed as Value[][]], { handOverRows: true });
    expect(handed).toEqual([[2n, 2, "b"]]); // normalised where it was, not copied
    expect((await b.readTable("handed")).rows).toEqual([{ id: 2n, x: 2, label: "b" }]);
    expect((await b.readTable("kept")).rows).toEqual([{ id: 1n, x: 1, label: "a" }]);
    await b.close();
  });

  test("a failure in the middle of writeBatches leaves nothing of that call (one transaction)", async () => {
    const b = backend();
    const engine = await b.getEngine(`${tempDir()}/tx.sqlite`);
    await b.writeBatches("t", COLUMNS, [[[1n, 1, "kept"]]]);
    b.failInsert = new Error("disk I/O error");
    b.failInsertAfter = b.calls.insert + 2;
    const batches = [[[2n, 2, "x"]], [[3n, 3, "y"]], [[4n, 4, "z"]]] as Value[][][];
    const error = await b.writeBatches("t", COLUMNS, batches, { ifExists: "append" }).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.QUERY_FAILED)).toBe(true);
    expect((error as Error).message).toContain("disk I/O error");
    expect((error as Error).cause).toBeInstanceOf(Error);
    b.failInsert = undefined;
    expect((await b.readTable("t", { engine })).rows.map((r) => r.label)).toEqual(["kept"]);
    // and a new table of a failed call does not exist afterwards
    b.failInsert = new Error("boom");
    b.failInsertAfter = 0;
    expect(await asyncCodeOf(b.writeBatches("fresh", COLUMNS, [[[1n, 1, "a"]]]))).toBe(ErrorCodes.QUERY_FAILED);
    b.failInsert = undefined;
    expect(await b.tableExists("fresh")).toBe(false);
    await b.close();
  });

  test("a write that fails in the bulk hook ends its source: an open read of the source is released", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/src.sqlite`);
    let closed = false;
    let produced = 0;
    async function* source(): AsyncGenerator<Value[][]> {
      try {
        for (let i = 0; i < 10; i++) {
          produced++;
          yield [[BigInt(i), i, `r${i}`]];
        }
      } finally {
        closed = true;
      }
    }
    b.failInsert = new Error("disk I/O error");
    b.failInsertAfter = b.calls.insert + 2;
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, source()))).toBe(ErrorCodes.QUERY_FAILED);
    expect(closed).toBe(true);
    expect(produced).toBe(3);
    b.failInsert = undefined;
    // With commits every 2 rows, the same source is read to its end and every row lands.
    closed = false;
    produced = 0;
    expect(await b.writeBatches("u", COLUMNS, source(), { commitEveryRows: 2 })).toBe(10);
    expect(closed).toBe(true);
    expect((await b.getTableInfo("u")).rowCount).toBe(10);
    await b.close();
  });

  test("an aborted write is MDM_ABORTED and rolled back", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/ab.sqlite`);
    const controller = new AbortController();
    function* source(): Generator<Value[][]> {
      yield [[1n, 1, "a"]];
      controller.abort();
      yield [[2n, 2, "b"]];
    }
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, source(), { signal: controller.signal }))).toBe(ErrorCodes.ABORTED);
    expect(await b.tableExists("t")).toBe(false);
    await b.close();
  });

  test("writes are serialised per engine when the backend needs it", async () => {
    const b = backend({ serializedWrites: true });
    await b.getEngine(`${tempDir()}/ser.sqlite`);
    b.insertDelayMs = 5;
    await Promise.all(Array.from({ length: 4 }, (_, i) => b.writeBatches(`t${i}`, COLUMNS, [[[1n, 1, "a"]], [[2n, 2, "b"]]])));
    expect(b.maxActiveInserts).toBe(1);
    await b.close();
    const parallel = backend({ serializedWrites: false });
    await parallel.getEngine(`${tempDir()}/par.sqlite`);
    parallel.insertDelayMs = 5;
    await Promise.all(Array.from({ length: 4 }, (_, i) => parallel.writeBatches(`t${i}`, COLUMNS, [[[1n, 1, "a"]]])));
    expect(parallel.maxActiveInserts).toBeGreaterThan(1);
    await parallel.close();
  });
});

describe("datasets and metadata", () => {
  test("create, exists, list, tables, load/save, drop", async () => {
    const b = backend();
    expect(await b.listDatasets()).toEqual([]);
    await b.createDataset("Titanic", { metadata: { source: "kaggle" } });
    expect(await asyncCodeOf(b.createDataset("titanic"))).toBe(ErrorCodes.DATASET_EXISTS);
    await b.createDataset("titanic", { ifNotExists: true });
    await b.createDataset("iris");
    expect(await b.listDatasets()).toEqual(["iris", "titanic"]);
    expect(await b.datasetExists("TITANIC")).toBe(true);
    await b.saveData("titanic", [{ a: 1n }]);
    await b.saveData("titanic", [{ a: 2n }], "train");
    await b.saveData("titanic", [{ a: 3n }], "train", "append");
    expect(await b.listTables("titanic")).toEqual(["data", "train"]);
    expect(await b.listTables("titanic", { includeSystem: true })).toEqual(["_metadata", "data", "train"]);
    expect((await b.loadData("titanic", "train")).rows).toEqual([{ a: 2n }, { a: 3n }]);
    expect((await b.loadData("titanic")).rows).toEqual([{ a: 1n }]);
    await b.dropDataset("titanic");
    expect(await b.datasetExists("titanic")).toBe(false);
    expect(await asyncCodeOf(b.dropDataset("titanic"))).toBe(ErrorCodes.DATASET_NOT_FOUND);
    expect(await asyncCodeOf(b.loadData("titanic"))).toBe(ErrorCodes.DATASET_NOT_FOUND);
    expect(await asyncCodeOf(b.getDatasetEngine("titanic"))).toBe(ErrorCodes.DATASET_NOT_FOUND);
    expect(await asyncCodeOf(b.createDataset("../evil"))).toBe(ErrorCodes.INVALID_NAME);
    expect(await b.listDatasets()).toEqual(["iris"]);
    await b.close();
  });

  test("metadata: written at creation, merged by updateMetadata, JSON values kept", async () => {
    const b = backend();
    await b.createDataset("m", { metadata: { rows: 10, tags: ["a", "b"], note: "'); DROP TABLE x; --" } });
    const first = await b.getMetadata("m");
    expect(first).toMatchObject({ dataset_name: "m", backend_type: "sqlite", rows: 10, tags: ["a", "b"], note: "'); DROP TABLE x; --" });
    expect(Number.isNaN(Date.parse(String(first.created_at)))).toBe(false);
    await b.updateMetadata("m", { rows: 11, extra: { nested: true } });
    expect(await b.getMetadata("m")).toMatchObject({ rows: 11, tags: ["a", "b"], extra: { nested: true } });
    expect(await asyncCodeOf(b.updateMetadata("m", [] as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.updateMetadata("m", { "a\0": 1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.updateMetadata("m", { f: (() => 1) as never }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await asyncCodeOf(b.updateMetadata("m", { c: circular as never }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.getMetadata("nope"))).toBe(ErrorCodes.DATASET_NOT_FOUND);
    await b.close();
  });

  test("decodeMetadataValue: JSON text, or the plain text Python MDM wrote", () => {
    expect(decodeMetadataValue('{"a":1}')).toEqual({ a: 1 });
    expect(decodeMetadataValue("plain text")).toBe("plain text");
    expect(decodeMetadataValue(null)).toBeNull();
    expect(decodeMetadataValue(5n)).toBe(5);
  });

  test("encodeMetadataValue: a string as itself (Python's str()), JSON where the text would read back as something else", () => {
    expect(encodeMetadataValue("k", "Quarterly sales")).toBe("Quarterly sales");
    expect(encodeMetadataValue("k", "")).toBe("");
    expect(encodeMetadataValue("k", "/data/train.csv")).toBe("/data/train.csv");
    expect(encodeMetadataValue("k", 5)).toBe("5");
    expect(encodeMetadataValue("k", 0.1)).toBe("0.1");
    for (const ambiguous of ["5", " 5", "true", "null", "[1]", '"quoted"', '{"a":1}', "-0", "1e3"]) {
      expect(encodeMetadataValue("k", ambiguous)).toBe(JSON.stringify(ambiguous));
    }
    for (const value of ["Quarterly sales", "", "5", "true", '"quoted"', 5, -2.5, true, false, null, [1, "a"], { a: { b: [null] } }, "été 😀"]) {
      expect(decodeMetadataValue(encodeMetadataValue("k", value))).toEqual(value);
    }
    expect(() => encodeMetadataValue("k", 5n)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => encodeMetadataValue("k", () => 1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });
});

describe("metrics", () => {
  test("the new implementation records every operation with backend, implementation and table tags", async () => {
    const b = backend({ metrics: true });
    await b.createDataset("m");
    await b.saveData("m", [{ a: 1n }, { a: 2n }], "train");
    await b.loadData("m", "train");
    await asyncCodeOf(b.loadData("m", "missing"));
    const summary = b.getMetrics();
    const load = summary.filter((s) => s.operation === "storage.load_data");
    expect(load.find((s) => s.tags.table === "train")).toMatchObject({ count: 1, errors: 0, rows: 2, tags: { backend: "sqlite", implementation: "new", table: "train" } });
    expect(load.find((s) => s.tags.table === "missing")).toMatchObject({ count: 1, errors: 1 });
    expect(summary.some((s) => s.operation === "storage.create_dataset")).toBe(true);
    for await (const _ of b.readBatches("train", { engine: await b.getDatasetEngine("m") })) void _;
    expect(b.getMetrics().find((s) => s.operation === "storage.read_batches")).toMatchObject({ count: 1, rows: 2 });
    b.resetMetrics();
    expect(b.getMetrics()).toEqual([]);
    await b.close();
  });

  test("a backend without the metrics capability records nothing", async () => {
    const b = backend({ metrics: false, implementation: "legacy" });
    await b.createDataset("m");
    await b.saveData("m", [{ a: 1n }]);
    expect(b.getMetrics()).toEqual([]);
    await b.close();
  });
});

describe("secrets in errors", () => {
  test("a driver error carrying the password is redacted and its cause dropped", async () => {
    const b = backend({ secrets: () => ["Sentinel-Pa55"] });
    await b.getEngine(`${tempDir()}/s.sqlite`);
    b.failInsert = new Error("auth failed for postgresql://u:Sentinel-Pa55@h/db");
    const error = await b.writeTable("t", [{ a: 1n }]).catch((e: unknown) => e);
    const { inspect } = await import("node:util");
    expect(isMdmError(error, ErrorCodes.QUERY_FAILED)).toBe(true);
    expect(inspect(error, { depth: 10 })).not.toContain("Sentinel-Pa55");
    expect(JSON.stringify(error)).not.toContain("Sentinel-Pa55");
    await b.close();
  });
});

describe("maintenance and files", () => {
  test("optimize and getDatabaseSize", async () => {
    const b = backend();
    await b.createDataset("o");
    await b.saveData("o", [{ a: 1n }]);
    const engine = await b.getDatasetEngine("o");
    await b.optimize(engine);
    expect(b.calls.optimize).toBe(1);
    expect(await b.getDatabaseSize(engine)).toBeGreaterThan(10);
    await b.close();
  });

  test("importFile / exportFile with ifExists handling", async () => {
    const b = backend();
    const dir = tempDir();
    await b.getEngine(`${dir}/f.sqlite`);
    await b.writeTable("src", { columns: COLUMNS, rows: [{ id: 1n, x: 1, label: "a" }] });
    await b.exportFile("src", `${dir}/out.json`, "json");
    expect(await b.importFile("dst", `${dir}/out.json`, "json")).toBe(1);
    expect(await asyncCodeOf(b.importFile("dst", `${dir}/out.json`, "json"))).toBe(ErrorCodes.TABLE_EXISTS);
    expect(await b.importFile("dst", `${dir}/out.json`, "json", { ifExists: "append" })).toBe(1);
    expect((await b.getTableInfo("dst")).rowCount).toBe(2);
    expect(await b.importFile("dst", `${dir}/out.json`, "json", { ifExists: "replace" })).toBe(1);
    expect((await b.getTableInfo("dst")).rowCount).toBe(1);
    expect(await asyncCodeOf(b.importFile("x", `${dir}/out.json`, "parquet"))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.importFile("x", "", "json"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.exportFile("src", "", "json"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.exportFile("missing", `${dir}/m.json`, "json"))).toBe(ErrorCodes.TABLE_NOT_FOUND);
    await b.close();
  });
});

describe("selectSql", () => {
  const id: ColumnDef = { name: "id", type: "int64" };
  const name: ColumnDef = { name: 'we"ird', type: "text" };
  test("quotes every identifier, binds values, IS NULL for null, ORDER BY and LIMIT", () => {
    const q = selectSql(
      { table: 'x"; DROP TABLE t; --', columns: [id, name], where: { equals: [[id, 5n], [name, null], [name, "a'b"]] }, orderBy: [id], limit: 10, batchSize: 100, keepInCache: true },
      (i) => `$${i + 1}`,
    );
    expect(q.sql).toBe('SELECT "id", "we""ird" FROM "x""; DROP TABLE t; --" WHERE "id" = $1 AND "we""ird" IS NULL AND "we""ird" = $2 ORDER BY "id" LIMIT 10');
    expect(q.params).toEqual([5n, "a'b"]);
    expect(selectSql({ table: "t", columns: [id], where: { sql: "id > 1" }, orderBy: [], batchSize: 1, keepInCache: true }, () => "?").sql).toBe('SELECT "id" FROM "t" WHERE id > 1');
    expect(selectSql({ table: "t", columns: [id], where: { equals: [] }, orderBy: [], batchSize: 1, keepInCache: true }, () => "?").sql).toBe('SELECT "id" FROM "t"');
  });
});

describe("AsyncMutex", () => {
  test("runs holders one at a time in call order, also after a failure", async () => {
    const mutex = new AsyncMutex();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) =>
      mutex.run(async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a", 10), task("b", 1, true), task("c", 1)]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });
});

describe("edges of the base class", () => {
  test("rows of the wrong width and tables without columns are refused", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/edge.sqlite`);
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, [[[1n, 1]]]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.writeBatches("t", COLUMNS, [[[1n, 1, "a", "extra"]]]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(b.writeBatches("t", [], [[]]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await b.tableExists("t")).toBe(false);
    await b.close();
  });

  test("a backend without optimize or native files says MDM_UNSUPPORTED_OPERATION", async () => {
    const b = backend({ withoutExtras: true });
    const dir = tempDir();
    await b.getEngine(`${dir}/x.sqlite`);
    await b.writeTable("t", [{ a: 1n }]);
    expect(await asyncCodeOf(b.optimize())).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.exportFile("t", `${dir}/t.json`, "json"))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await asyncCodeOf(b.importFile("u", `${dir}/t.json`, "json"))).toBe(ErrorCodes.UNSUPPORTED_OPERATION);
    expect(await b.tableExists("u")).toBe(false);
    await b.close();
  });

  test("an error mapper that throws still gives an MdmError (MDM_INTERNAL), redacted", async () => {
    const b = backend({ secrets: () => ["pw-123"] });
    await b.getEngine(`${tempDir()}/m.sqlite`);
    b.mapErrorThrows = true;
    b.failInsert = new Error("failed with pw-123");
    const error = await b.writeTable("t", [{ a: 1n }]).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.INTERNAL)).toBe(true);
    expect((error as Error).message).not.toContain("pw-123");
    b.failInsert = undefined;
    b.mapErrorThrows = false;
    await b.close();
  });

  test("closeConnections reports a failing close after closing the others", async () => {
    const b = backend();
    const dir = tempDir();
    await b.getEngine(`${dir}/1.sqlite`);
    await b.getEngine(`${dir}/2.sqlite`);
    b.failClose = new Error("close failed");
    expect(await asyncCodeOf(b.closeConnections())).toBe(ErrorCodes.QUERY_FAILED);
    expect(b.calls.close).toBe(2);
    b.failClose = undefined;
    await b.close();
  });

  test("concurrent opens of one database share one engine; close waits for an open in progress", async () => {
    const b = backend();
    const path = `${tempDir()}/c.sqlite`;
    const [e1, e2] = await Promise.all([b.getEngine(path), b.getEngine(path)]);
    expect(e1).toBe(e2);
    expect(b.calls.open).toBe(1);
    const opening = b.getEngine(`${tempDir()}/d.sqlite`);
    await b.closeConnections();
    await opening;
    await b.close();
  });

  test("a failed createDataset leaves nothing behind", async () => {
    const b = backend();
    expect(await asyncCodeOf(b.createDataset("bad", { metadata: { f: (() => 1) as never } }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await b.datasetExists("bad")).toBe(false);
    expect(await b.listDatasets()).toEqual([]);
    await b.close();
  });

  test("dropping the dataset of the default engine forgets the default", async () => {
    const b = backend();
    await b.createDataset("d");
    await b.getEngine(b.getDatabasePath("d"));
    await b.dropDataset("d");
    expect(await asyncCodeOf(b.getTableNames())).toBe(ErrorCodes.INVALID_ARGUMENT);
    await b.close();
  });

  test("a dataset database without a _metadata table has empty metadata", async () => {
    const b = backend();
    await b.createDatabase(b.getDatabasePath("bare"));
    expect(await b.getMetadata("bare")).toEqual({});
    await b.close();
  });

  test("analyzeColumn of a single value has a mean and no standard deviation", async () => {
    const b = backend();
    await b.getEngine(`${tempDir()}/one.sqlite`);
    await b.writeTable("t", { columns: COLUMNS, rows: [{ id: 1n, x: 3, label: "a" }] });
    expect(await b.analyzeColumn("t", "x")).toMatchObject({ mean: 3, std: null, count: 1 });
    await b.close();
  });
});

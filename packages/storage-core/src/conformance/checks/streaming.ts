import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type ColumnDef, type RowBatch, type SpecialValue, type StorageEngine, type Value } from "../../types.js";
import { check, checkDeepEqual, checkEqual, checkRows, drain, rejectsWith } from "../assert.js";
import { NUMBERED_COLUMNS, byFirstColumn, defineCheck, numberedRows, openDataset, typesOf, type ConformanceCheck } from "./support.js";

const G = "streaming";

async function numbered(backend: IStorageBackend, rows: number): Promise<StorageEngine> {
  const engine = await openDataset(backend);
  await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(rows)], { engine });
  return engine;
}

async function batchSizes(backend: IStorageBackend, engine: StorageEngine, batchSize: number): Promise<{ sizes: number[]; rows: Value[][] }> {
  const batches = await drain(backend.readBatches("numbers", { engine, batchSize, orderBy: ["id"] }));
  for (const batch of batches) checkDeepEqual(typesOf(batch.columns), typesOf(NUMBERED_COLUMNS), "columns of a batch");
  return { sizes: batches.map((b) => b.rows.length), rows: batches.flatMap((b) => b.rows) };
}

const WRITE_DEADLINE_MS = 10_000;

/**
 * Race a promise against a timer, clearing the timer afterwards. The timer is not unref'd: outside a test
 * runner (the validator in a CLI) an unref'd timer let Node exit in the middle of a check whose other side
 * was waiting for it.
 */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function* asyncBatches(batches: Value[][][], failAt?: number): AsyncGenerator<Value[][]> {
  for (let i = 0; i < batches.length; i++) {
    if (i === failAt) throw new Error(`source failed at batch ${i + 1}`);
    await new Promise((resolve) => setImmediate(resolve));
    yield batches[i] as Value[][];
  }
}

export const streamingChecks: ConformanceCheck[] = [
  defineCheck(G, "readBatches yields batches of the requested size (7 rows by 3: 3, 3, 1)", async (backend) => {
    const engine = await numbered(backend, 7);
    const { sizes, rows } = await batchSizes(backend, engine, 3);
    checkDeepEqual(sizes, [3, 3, 1], "batch sizes");
    checkRows(NUMBERED_COLUMNS, rows, numberedRows(7), "rows of every batch, in order");
  }),

  defineCheck(G, "readBatches of an exact multiple of the batch size yields no empty batch", async (backend) => {
    const engine = await numbered(backend, 6);
    const { sizes, rows } = await batchSizes(backend, engine, 3);
    checkDeepEqual(sizes, [3, 3], "batch sizes");
    checkRows(NUMBERED_COLUMNS, rows, numberedRows(6), "rows");
  }),

  defineCheck(G, "readBatches of an empty table yields no rows", async (backend) => {
    const engine = await numbered(backend, 0);
    const { sizes } = await batchSizes(backend, engine, 3);
    checkEqual(sizes.reduce((a, b) => a + b, 0), 0, "rows read from an empty table");
    check(sizes.every((s) => s === 0) && sizes.length <= 1, `an empty table yields at most one empty batch, got sizes ${JSON.stringify(sizes)}`);
  }),

  defineCheck(G, "readBatches streams many batches with the default and a large batch size, and the same rows with keepInCache: false", async (backend) => {
    const engine = await numbered(backend, 2500);
    const small = await batchSizes(backend, engine, 1000);
    checkDeepEqual(small.sizes, [1000, 1000, 500], "batch sizes of 2,500 rows by 1,000");
    checkRows(NUMBERED_COLUMNS, small.rows, numberedRows(2500), "rows");
    const all = await drain(backend.readBatches("numbers", { engine }));
    checkEqual(all.reduce((n, b) => n + b.rows.length, 0), 2500, "rows with the default batch size");
    const once = await drain(backend.readBatches("numbers", { engine, batchSize: 1000, keepInCache: false }));
    checkDeepEqual(once.map((b) => b.rows.length), [1000, 1000, 500], "batch sizes with keepInCache: false");
    checkRows(NUMBERED_COLUMNS, once.flatMap((b) => b.rows), numberedRows(2500), "rows read with keepInCache: false");
  }),

  defineCheck(G, "readBatches selects and orders columns", async (backend) => {
    const engine = await numbered(backend, 5);
    const batches = await drain(backend.readBatches("numbers", { engine, columns: ["label", "id"], orderBy: ["id"], batchSize: 2 }));
    checkDeepEqual(batches[0]?.columns.map((c) => c.name), ["label", "id"], "columns of the batches");
    checkRows([NUMBERED_COLUMNS[1]!, NUMBERED_COLUMNS[0]!], batches.flatMap((b) => b.rows), numberedRows(5).map(([id, label]) => [label, id]), "rows");
  }),

  defineCheck(G, "leaving a readBatches loop early releases the table (a write afterwards succeeds)", async (backend) => {
    const engine = await numbered(backend, 10);
    let rows = 10;
    for (const keepInCache of [true, false]) {
      for await (const batch of backend.readBatches("numbers", { engine, batchSize: 2, keepInCache })) {
        checkEqual(batch.rows.length, 2, `first batch (keepInCache: ${keepInCache})`);
        break;
      }
      rows += 1;
      await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(1, rows)], { engine, ifExists: "append" });
      checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, rows, `rows after the write that followed the early exit (keepInCache: ${keepInCache})`);
    }
  }),

  defineCheck(G, "writeBatches writes several batches from an async source, returns the row count and reports progress", async (backend) => {
    const engine = await openDataset(backend);
    const progress: number[] = [];
    const batches = [numberedRows(3, 1), numberedRows(3, 4), numberedRows(2, 7)];
    const written = await backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches(batches), { engine, onBatch: (n) => progress.push(n) });
    checkEqual(written, 8, "rows written");
    checkDeepEqual(progress, [3, 6, 8], "onBatch progress");
    const read = await backend.readTable("numbers", { engine, orderBy: ["id"] });
    checkRows(NUMBERED_COLUMNS, read.rows.map((r) => [r.id as Value, r.label as Value]), numberedRows(8), "rows read back");
  }),

  defineCheck(G, "writeBatches accepts RowBatch items, plain arrays and sync iterables, and skips empty batches", async (backend) => {
    const engine = await openDataset(backend);
    const items: Array<Value[][] | RowBatch> = [{ columns: NUMBERED_COLUMNS, rows: numberedRows(2, 1) }, [], numberedRows(2, 3)];
    const written = await backend.writeBatches("numbers", NUMBERED_COLUMNS, items, { engine });
    checkEqual(written, 4, "rows written");
    const empty = await backend.writeBatches("none", NUMBERED_COLUMNS, [], { engine });
    checkEqual(empty, 0, "rows written from an empty source");
    checkEqual(await backend.tableExists("none", engine), true, "an empty source still creates the table");
    const read = await drain(backend.readBatches("numbers", { engine }));
    checkRows(NUMBERED_COLUMNS, byFirstColumn(read.flatMap((b) => b.rows)), numberedRows(4), "rows read back");
  }),

  defineCheck(G, "writeBatches defaults to ifExists fail (MDM_TABLE_EXISTS) and appends or replaces when asked", async (backend) => {
    const engine = await numbered(backend, 3);
    await rejectsWith(() => backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(1, 4)], { engine }), ErrorCodes.TABLE_EXISTS, "writeBatches on an existing table");
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(2, 4)], { engine, ifExists: "append" });
    checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, 5, "rows after append");
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(1, 9)], { engine, ifExists: "replace" });
    checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, 1, "rows after replace");
  }),

  defineCheck(G, "writeBatches is atomic: a bad value in batch 3 leaves no table", async (backend) => {
    const engine = await openDataset(backend);
    const bad = numberedRows(3, 7);
    (bad[1] as Value[])[0] = "not a number" as unknown as Value;
    await rejectsWith(
      () => backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches([numberedRows(3, 1), numberedRows(3, 4), bad]), { engine }),
      ErrorCodes.INVALID_ARGUMENT,
      "a string in an int64 column in batch 3",
    );
    checkEqual(await backend.tableExists("numbers", engine), false, "no table after the failed writeBatches");
    checkDeepEqual(await backend.getTableNames(engine), [], "no table listed after the failed writeBatches");
  }),

  defineCheck(G, "writeBatches with commitEveryRows writes every row across its commits and keeps what it committed when a later batch fails", async (backend) => {
    const engine = await openDataset(backend);
    const batches = [numberedRows(3, 1), numberedRows(3, 4), numberedRows(3, 7), numberedRows(2, 10)];
    const written = await backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches(batches), { engine, commitEveryRows: 5 });
    checkEqual(written, 11, "rows written");
    const read = await backend.readTable("numbers", { engine, orderBy: ["id"] });
    checkRows(NUMBERED_COLUMNS, read.rows.map((r) => [r.id as Value, r.label as Value]), numberedRows(11), "rows read back");
    // Commits after batch 2 (6 rows since the start) and batch 4 (5 since the last commit); batch 5 is
    // rolled back when batch 6 fails: the 11 rows of batches 1-4 stay.
    await rejectsWith(
      () => backend.writeBatches("partial", NUMBERED_COLUMNS, asyncBatches([...batches, numberedRows(1, 12), [[1n]] as Value[][]]), { engine, commitEveryRows: 5 }),
      ErrorCodes.INVALID_ARGUMENT,
      "a row of the wrong width after two commits",
    );
    checkEqual((await backend.getTableInfo("partial", engine)).rowCount, 11, "rows committed before the failure");
    await rejectsWith(() => backend.writeBatches("bad", NUMBERED_COLUMNS, [numberedRows(1)], { engine, commitEveryRows: 0 }), ErrorCodes.INVALID_ARGUMENT, "commitEveryRows 0");
  }),

  defineCheck(G, "writeBatches append is atomic: a failure in batch 3 leaves the existing rows unchanged", async (backend) => {
    const engine = await numbered(backend, 2);
    const wrongWidth = [[100n]] as Value[][];
    await rejectsWith(
      () => backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches([numberedRows(3, 10), numberedRows(3, 20), wrongWidth]), { engine, ifExists: "append" }),
      ErrorCodes.INVALID_ARGUMENT,
      "a row of the wrong width in batch 3",
    );
    const read = await backend.readTable("numbers", { engine, orderBy: ["id"] });
    checkRows(NUMBERED_COLUMNS, read.rows.map((r) => [r.id as Value, r.label as Value]), numberedRows(2), "rows after the failed append");
  }),

  defineCheck(G, "writeBatches replace is atomic: a failing source keeps the old table", async (backend) => {
    const engine = await numbered(backend, 2);
    let failure: unknown;
    try {
      await backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches([numberedRows(3, 10), numberedRows(3, 20), numberedRows(3, 30)], 2), { engine, ifExists: "replace" });
    } catch (error) {
      failure = error;
    }
    check(failure instanceof Error, "writeBatches must reject when its source throws");
    check(String((failure as Error).message).includes("source failed at batch 3"), `the error must carry the source's message, got ${JSON.stringify((failure as Error).message)}`);
    const read = await backend.readTable("numbers", { engine, orderBy: ["id"] });
    checkRows(NUMBERED_COLUMNS, read.rows.map((r) => [r.id as Value, r.label as Value]), numberedRows(2), "rows after the failed replace");
  }),

  defineCheck(G, "writeBatches aborted by an AbortSignal fails with MDM_ABORTED and leaves nothing", async (backend) => {
    const engine = await openDataset(backend);
    const controller = new AbortController();
    await rejectsWith(
      () =>
        backend.writeBatches("numbers", NUMBERED_COLUMNS, asyncBatches([numberedRows(2, 1), numberedRows(2, 3), numberedRows(2, 5)]), {
          engine,
          signal: controller.signal,
          onBatch: (n) => {
            if (n >= 4) controller.abort();
          },
        }),
      ErrorCodes.ABORTED,
      "writeBatches aborted after batch 2",
    );
    checkEqual(await backend.tableExists("numbers", engine), false, "no table after the aborted write");
  }),

  defineCheck(G, "writeBatches refuses invalid columns (none, duplicate names, unknown type)", async (backend) => {
    const engine = await openDataset(backend);
    await rejectsWith(() => backend.writeBatches("t", [], [], { engine }), ErrorCodes.INVALID_ARGUMENT, "no columns");
    const dup: ColumnDef[] = [{ name: "a", type: "int64" }, { name: "A", type: "text" }];
    await rejectsWith(() => backend.writeBatches("t", dup, [], { engine }), ErrorCodes.INVALID_NAME, "columns a and A");
    await rejectsWith(() => backend.writeBatches("t", [{ name: "a", type: "uuid" as never }], [], { engine }), [ErrorCodes.UNSUPPORTED_TYPE, ErrorCodes.INVALID_ARGUMENT], "an unknown logical type");
    checkEqual(await backend.tableExists("t", engine), false, "no table after refused columns");
  }),

  defineCheck(G, "a reader concurrent with writeBatches never sees a partial write", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(3)], { engine });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<Value[][]> {
      yield numberedRows(5, 100);
      await gate; // the first batch is written, inside the transaction, when the reader looks
      yield numberedRows(5, 200);
    }
    let firstBatchWritten!: () => void;
    const written = new Promise<void>((resolve) => (firstBatchWritten = resolve));
    const writing = backend.writeBatches("numbers", NUMBERED_COLUMNS, slow(), { engine, ifExists: "append", onBatch: () => firstBatchWritten() });
    await Promise.race([written, writing]);
    // A backend may make readers wait for the writer: then the read is let through after a while.
    const reading = backend.readTable("numbers", { engine }).then((df) => df.rows.length);
    reading.catch(() => undefined);
    await within(reading, 1000, undefined);
    release();
    const seen = await reading;
    checkEqual(await writing, 10, "rows written by the slow writeBatches");
    check(seen === 3 || seen === 13, `a reader during writeBatches saw ${seen} rows: only 3 (before) or 13 (after) are allowed`);
    checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, 13, "rows after the write");
  }),

  defineCheck(G, "a write while a readBatches iteration is open succeeds, and the read sees one consistent snapshot", async (backend) => {
    const engine = await numbered(backend, 6);
    await backend.writeBatches("other", NUMBERED_COLUMNS, [numberedRows(1)], { engine });
    const seen: Value[][] = [];
    let wrote = false;
    for await (const batch of backend.readBatches("numbers", { engine, batchSize: 2, orderBy: ["id"] })) {
      seen.push(...batch.rows);
      if (!wrote) {
        wrote = true;
        const writes = (async () => {
          await backend.writeBatches("other", NUMBERED_COLUMNS, [numberedRows(2, 10)], { engine, ifExists: "append" });
          await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(2, 50)], { engine, ifExists: "append" });
          return true;
        })();
        const done = await within(writes, WRITE_DEADLINE_MS, false);
        check(done, `writes did not finish within ${WRITE_DEADLINE_MS / 1000} s while a readBatches iteration was open (a lock held by the read?)`);
      }
    }
    checkRows(NUMBERED_COLUMNS, seen, numberedRows(6), "rows of the read that was open during the writes");
    checkEqual((await backend.getTableInfo("numbers", engine)).rowCount, 8, "rows after the writes");
    checkEqual((await backend.getTableInfo("other", engine)).rowCount, 3, "rows of the other table");
  }),

  defineCheck(G, "an AbortSignal aborted before the call: writeBatches and readBatches fail with MDM_ABORTED and write nothing", async (backend) => {
    const engine = await numbered(backend, 3);
    const controller = new AbortController();
    controller.abort();
    const signal = controller.signal;
    await rejectsWith(() => backend.writeBatches("empty_source", NUMBERED_COLUMNS, [], { engine, signal }), ErrorCodes.ABORTED, "writeBatches() of an empty source");
    await rejectsWith(() => backend.writeBatches("one_batch", NUMBERED_COLUMNS, [numberedRows(2)], { engine, signal }), ErrorCodes.ABORTED, "writeBatches() of one batch");
    checkDeepEqual(await backend.getTableNames(engine), ["numbers"], "tables after the aborted writes");
    await rejectsWith(() => drain(backend.readBatches("numbers", { engine, signal })), ErrorCodes.ABORTED, "readBatches()");
  }),

  defineCheck(G, "writeBatches of batches beyond the bound-parameter limits (20,000 rows x 4 columns; 300 columns)", async (backend) => {
    const engine = await openDataset(backend);
    // 80,000 values in one batch: more than PostgreSQL's 65,535 and SQLite's 32,766 parameters per statement.
    const columns: ColumnDef[] = [...NUMBERED_COLUMNS, { name: "x", type: "float64" }, { name: "flag", type: "boolean" }];
    const rows: Value[][] = Array.from({ length: 20_000 }, (_, i) => [BigInt(i), `row-${i}`, i / 7, i % 3 === 0]);
    checkEqual(await backend.writeBatches("long", columns, [rows], { engine }), 20_000, "rows written in one batch");
    const read = await drain(backend.readBatches("long", { engine, orderBy: ["id"], batchSize: 5_000 }));
    checkRows(columns, read.flatMap((b) => b.rows), rows, "rows read back");
    // 300 columns: more than SQLite's default 999 variables once three rows share a statement.
    const wide: ColumnDef[] = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, type: i % 2 === 0 ? "int64" : "text" }));
    const wideRows: Value[][] = Array.from({ length: 50 }, (_, r) => wide.map((c, i) => (c.type === "int64" ? BigInt(r * 1000 + i) : `${r}:${i}`)));
    checkEqual(await backend.writeBatches("wide", wide, [wideRows], { engine }), 50, "rows of the wide table");
    const back = await backend.readTable("wide", { engine, orderBy: ["c0"] });
    checkRows(wide, back.rows.map((row) => wide.map((c) => row[c.name] as Value)), wideRows, "rows of the wide table read back");
  }),
  defineCheck(G, "columnsContain finds NaN, infinities, -0.0 and NULs, answers false for values the backend cannot hold, or undefined when it cannot ask", async (backend) => {
    const engine = await openDataset(backend);
    const columns: ColumnDef[] = [{ name: "id", type: "int64" }, { name: "a", type: "text" }, { name: "b", type: "text" }, { name: "x", type: "float64" }, { name: "y", type: "float64" }];
    // Near misses: a backslash-zero that is not a NUL, 0.0 beside -0.0, the largest finite double.
    await backend.writeBatches("specials", columns, [[[1n, "x", "y", 0, 1.5], [2n, null, "", null, Number.MAX_VALUE], [3n, "é", "\\0 is not a NUL", -1e-300, -Number.MAX_VALUE]]], { engine });
    // Each kind goes into the second column of its pair; the first keeps its near miss.
    const offending: Array<[SpecialValue, [string, string], Value]> = [
      ["nulInText", ["a", "b"], "p\0q"],
      ["nan", ["x", "y"], Number.NaN],
      ["infinity", ["x", "y"], Number.NEGATIVE_INFINITY],
      ["negativeZero", ["x", "y"], -0],
    ];
    let id = 10n;
    for (const [kind, names, value] of offending) {
      const column = names[1];
      const clean = await backend.columnsContain("specials", names, kind, engine);
      if (!backend.capabilities.values[kind]) {
        checkEqual(clean, false, `${kind}, which the backend does not hold`);
        continue;
      }
      check(clean === false || clean === undefined, `${kind} in a table without one: expected false or undefined, got ${String(clean)}`);
      checkEqual(await backend.columnsContain("specials", [], kind, engine), false, `${kind} in no columns`);
      const row: Value[] = [id++, "ok", "ok", 2, 2];
      row[columns.findIndex((c) => c.name === column)] = value;
      await backend.writeBatches("specials", columns, [[row]], { engine, ifExists: "append" });
      checkEqual(await backend.columnsContain("specials", names, kind, engine), clean === undefined ? undefined : true, `${kind} in column ${column}`);
      checkEqual(await backend.columnsContain("specials", [names[0]], kind, engine), clean === undefined ? undefined : false, `${kind} in column ${names[0]} alone`);
    }
    await rejectsWith(() => backend.columnsContain("specials", ["missing"], "nulInText", engine), ErrorCodes.COLUMN_NOT_FOUND, "a missing column");
    await rejectsWith(() => backend.columnsContain("specials", ["id"], "nulInText", engine), ErrorCodes.INVALID_ARGUMENT, "an int64 column asked for NULs");
    await rejectsWith(() => backend.columnsContain("specials", ["a"], "nan", engine), ErrorCodes.INVALID_ARGUMENT, "a text column asked for NaN");
    await rejectsWith(() => backend.columnsContain("specials", ["x"], "bogus" as SpecialValue, engine), ErrorCodes.INVALID_ARGUMENT, "an unknown kind");
    await rejectsWith(() => backend.columnsContain("nothing_here", ["a"], "nulInText", engine), ErrorCodes.TABLE_NOT_FOUND, "a missing table");
  }),
];


import { TableChecksum } from "../../checksum.js";
import { ErrorCodes } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type ColumnDef, type StorageEngine, type Value } from "../../types.js";
import { checkEqual, drain, rejectsWith } from "../assert.js";
import { columnMayBeRefused, expectedOutcome, fidelityFixtures } from "../fixtures.js";
import { NUMBERED_COLUMNS, defineCheck, numberedRows, openDataset, type ConformanceCheck } from "./support.js";

const G = "checksum";

/** TableChecksum.add of every row readBatches returns: what tableChecksum must equal. */
async function checksumOfRead(backend: IStorageBackend, engine: StorageEngine, table: string, columns?: string[]): Promise<TableChecksum> {
  let sum: TableChecksum | undefined;
  for (const batch of await drain(backend.readBatches(table, { engine, columns }))) {
    sum ??= new TableChecksum(batch.columns);
    sum.addAll(batch.rows);
  }
  if (sum) return sum;
  // No batch at all (an empty table): the table's columns, in the order asked.
  const all = (await backend.getTableInfo(table, engine)).columns;
  return new TableChecksum(columns ? columns.map((name) => all.find((c) => c.name === name) as ColumnDef) : all);
}

async function checkSameChecksum(backend: IStorageBackend, engine: StorageEngine, table: string, what: string, columns?: string[]): Promise<TableChecksum> {
  const expected = await checksumOfRead(backend, engine, table, columns);
  const actual = await backend.tableChecksum(table, { engine, columns });
  checkEqual(actual.count, expected.count, `${what}: rows counted by tableChecksum`);
  checkEqual(actual.hash, expected.hash, `${what}: tableChecksum against TableChecksum of the rows readBatches returns`);
  return actual;
}

/**
 * One column per fidelity fixture (those whose column the backend can create), one row per fixture value:
 * the value where the backend must hold it, else NULL. Row r holds value r of every fixture.
 */
function everyValueTable(backend: IStorageBackend): { columns: ColumnDef[]; rows: Value[][] } {
  const fixtures = fidelityFixtures.filter((f) => !columnMayBeRefused(f.column, backend.capabilities));
  const columns: ColumnDef[] = [{ name: "id", type: "int64" }, ...fixtures.map((f, i) => ({ ...f.column, name: `c${i}`, nullable: true }))];
  const height = Math.max(...fixtures.map((f) => f.values.length));
  const rows = Array.from({ length: height }, (_, r): Value[] => [
    BigInt(r),
    ...fixtures.map((f) => {
      const item = f.values[r];
      return item !== undefined && expectedOutcome(f, item, backend.capabilities) === "hold" ? item.value : null;
    }),
  ]);
  return { columns, rows };
}

export const checksumChecks: ConformanceCheck[] = [
  defineCheck(G, "tableChecksum equals TableChecksum of the rows readBatches returns, for every fixture value the backend holds", async (backend) => {
    const engine = await openDataset(backend);
    const { columns, rows } = everyValueTable(backend);
    await backend.writeBatches("every_value", columns, [rows], { engine });
    await checkSameChecksum(backend, engine, "every_value", "every fixture value");
    const last = (columns[columns.length - 1] as ColumnDef).name;
    await checkSameChecksum(backend, engine, "every_value", `columns ${last} and id`, [last, "id"]);
  }),

  defineCheck(G, "tableChecksum covers every row of several batches, sees one changed value, and hashes an empty table", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(2500)], { engine });
    const whole = await checkSameChecksum(backend, engine, "numbers", "2,500 rows");
    const written = new TableChecksum(NUMBERED_COLUMNS);
    written.addAll(numberedRows(2500));
    checkEqual(whole.hash, written.hash, "tableChecksum of 2,500 rows against the rows written");
    const changed = numberedRows(2500);
    (changed[1234] as Value[])[1] = "row-1235 ";
    await backend.writeBatches("changed", NUMBERED_COLUMNS, [changed], { engine });
    const other = await checkSameChecksum(backend, engine, "changed", "2,500 rows, one label changed");
    checkEqual(other.hash === whole.hash, false, "a changed value changes tableChecksum");
    await backend.writeBatches("empty", NUMBERED_COLUMNS, [], { engine });
    const empty = await checkSameChecksum(backend, engine, "empty", "an empty table");
    checkEqual(empty.count, 0, "rows of an empty table");
    const hostile = 'x"; DROP TABLE numbers; --';
    await backend.writeBatches(hostile, NUMBERED_COLUMNS, [numberedRows(3)], { engine });
    await checkSameChecksum(backend, engine, hostile, "a table with a hostile name");
    checkEqual((await backend.tableChecksum("numbers", { engine })).hash, whole.hash, "the table the hostile name would drop");
  }),

  defineCheck(G, "tableChecksum refuses a missing table, a missing column, a bad name and an aborted signal", async (backend) => {
    const engine = await openDataset(backend);
    await backend.writeBatches("numbers", NUMBERED_COLUMNS, [numberedRows(3)], { engine });
    await rejectsWith(() => backend.tableChecksum("nope", { engine }), ErrorCodes.TABLE_NOT_FOUND, "tableChecksum of a missing table");
    await rejectsWith(() => backend.tableChecksum("numbers", { engine, columns: ["id", "nope"] }), ErrorCodes.COLUMN_NOT_FOUND, "tableChecksum of a missing column");
    await rejectsWith(() => backend.tableChecksum("a\0b", { engine }), ErrorCodes.INVALID_NAME, "tableChecksum of a name with a NUL");
    await rejectsWith(() => backend.tableChecksum("numbers", { engine, signal: AbortSignal.abort() }), ErrorCodes.ABORTED, "tableChecksum with an aborted signal");
    checkEqual((await backend.tableChecksum("numbers", { engine })).count, 3, "rows after the refusals");
  }),
];

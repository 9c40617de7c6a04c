/**
 * Many rows of every fidelity fixture a backend holds, for tests of bulk write paths (batches larger than one
 * statement must keep every value exactly). Used by the legacy backends' tests.
 */
import { expect } from "vitest";
import { valuesEqual, type BackendCapabilities, type ColumnDef, type Value } from "@mdm/storage-core";
import { expectedOutcome, fidelityFixtures } from "../../src/index.js";

/**
 * An int64 `id` and one nullable column per fixture (`c0`, `c1`, ...; "long text" left out, its values are
 * megabytes), `count` rows: row r holds, in each column, value r modulo the fixture's values that a backend
 * of these capabilities must hold.
 */
export function fixtureTable(capabilities: BackendCapabilities, count: number): { columns: ColumnDef[]; rows: Value[][] } {
  const used = fidelityFixtures
    .filter((f) => f.name !== "long text")
    .map((f) => ({ column: f.column, values: f.values.filter((item) => expectedOutcome(f, item, capabilities) === "hold").map((item) => item.value) }))
    .filter((f) => f.values.length > 0);
  const columns: ColumnDef[] = [{ name: "id", type: "int64", nullable: false }, ...used.map((f, i) => ({ ...f.column, name: `c${i}`, nullable: true }))];
  const rows = Array.from({ length: count }, (_, r) => [BigInt(r), ...used.map((f) => f.values[r % f.values.length] as Value)]);
  return { columns, rows };
}

/** Every cell of `actual` equals `expected` (core's valuesEqual: bit-exact floats, decimals by value, bytes, µs); the first difference is named. */
export function expectSameRows(columns: ColumnDef[], actual: Value[][], expected: Value[][]): void {
  expect(actual.length).toBe(expected.length);
  for (let r = 0; r < expected.length; r++) {
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c] as ColumnDef;
      const [a, b] = [(actual[r] as Value[])[c] as Value, (expected[r] as Value[])[c] as Value];
      if (!valuesEqual(column.type, a, b)) expect.fail(`row ${r}, column ${column.name} (${column.type}): read ${String(a)}, wrote ${String(b)}`);
    }
  }
}

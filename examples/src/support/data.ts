/** The example data: deterministic rows of id, name, value, category. */
import type { ColumnDef, DataFrame } from "@mdm/storage-core";

export const SAMPLE_COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64", nullable: false },
  { name: "name", type: "text" },
  { name: "value", type: "float64" },
  { name: "category", type: "text" },
];

const CATEGORIES = ["A", "B", "C", "D"];

/** `count` rows starting at id `first`; values come from a small linear congruential generator. */
export function sampleRows(count: number, first = 1): DataFrame {
  let state = 12345 + first;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const rows = [];
  for (let i = 0; i < count; i++) {
    const id = first + i;
    rows.push({ id: BigInt(id), name: `item_${id}`, value: Math.round(next() * 1e6) / 100, category: CATEGORIES[id % CATEGORIES.length] });
  }
  return { columns: SAMPLE_COLUMNS, rows };
}

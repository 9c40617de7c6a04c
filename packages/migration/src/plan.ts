import { isSystemTable } from "@mdm/storage-core";

/** MDM's data tables first, in this order; then other tables, feature tables, and MDM's own tables. */
const DATA_TABLE_ORDER = ["train", "test", "validation", "sample_submission", "data"];

function rank(name: string): [number, number, string] {
  if (name === "_metadata") return [4, 0, name];
  if (isSystemTable(name)) return [3, 0, name];
  const dataIndex = DATA_TABLE_ORDER.indexOf(name);
  if (dataIndex >= 0) return [0, dataIndex, name];
  if (name.endsWith("_features")) {
    const base = DATA_TABLE_ORDER.indexOf(name.slice(0, -"_features".length));
    return [2, base >= 0 ? base : DATA_TABLE_ORDER.length, name];
  }
  return [1, 0, name];
}

/** The deterministic order in which a dataset's tables are copied. */
export function orderTables(names: readonly string[]): string[] {
  return [...names].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || (ra[2] < rb[2] ? -1 : ra[2] > rb[2] ? 1 : 0);
  });
}

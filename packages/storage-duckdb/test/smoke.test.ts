import { afterEach, expect, test } from "vitest";
import { valuesEqual } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "../src/index.js";
import { ALL_TYPES, edgeRows, tempHome } from "./helpers.js";

const homes: Array<() => void> = [];
afterEach(() => homes.splice(0).forEach((c) => c()));

test("smoke", async () => {
  const home = tempHome();
  homes.push(home.cleanup);
  const backend = new DuckdbStorageBackend({ homeDir: home.dir });
  await backend.createDataset("demo");
  await backend.saveData("demo", { columns: ALL_TYPES, rows: edgeRows() }, "data");
  const df = await backend.loadData("demo", "data");
  expect(df.rows.length).toBe(5);
  const sorted = [...df.rows].sort((a, b) => Number(a.id) - Number(b.id));
  for (const [r, row] of edgeRows().entries()) for (const c of ALL_TYPES) expect(valuesEqual(c.type, sorted[r]![c.name]!, row[c.name] ?? null), `${c.name} row ${r}`).toBe(true);
  expect(df.columns).toEqual(ALL_TYPES.map((c) => ({ ...c, nullable: c.nullable ?? true })));
  await backend.close();
});

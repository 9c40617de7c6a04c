import { afterEach, describe, expect, test } from "vitest";
import { valuesEqual, type ColumnDef, type IStorageBackend, type Row } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { LegacyDuckdbStorageBackend } from "../src/index.js";
import { ALL_TYPES, edgeRows, tempHome } from "../../storage-duckdb/test/helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Every logical type, plus the text-encoded decimals. */
const COLUMNS: ColumnDef[] = [...ALL_TYPES, { name: "free", type: "decimal" }, { name: "wide", type: "decimal", precision: 45, scale: 5 }];
const rows = (): Row[] =>
  edgeRows().map((r, i) => ({ ...r, free: ["NaN", "0.000000000000000000000000000000001", null, "-12.50", "1e2"][i] ?? null, wide: i % 2 === 0 ? "1234567890123456789012345678901234567890.12345" : null }));

async function writeThenRead(make: (dir: string) => [IStorageBackend, IStorageBackend]): Promise<void> {
  const home = tempHome("mdm-duckdb-cross-");
  cleanups.push(home.cleanup);
  const [writer, reader] = make(home.dir);
  await writer.createDataset("shared", { metadata: { source: "writer" } });
  await writer.saveData("shared", { columns: COLUMNS, rows: rows() }, "train");
  await writer.close(); // one DuckDB instance per file: the writer lets go before the reader opens it
  cleanups.push(() => reader.close());
  expect(await reader.listDatasets()).toEqual(["shared"]);
  expect((await reader.getMetadata("shared")).source).toBe("writer");
  const df = await reader.loadData("shared", "train");
  expect(df.columns).toEqual(COLUMNS.map((c) => ({ ...c, nullable: c.nullable ?? true })));
  const byId = new Map(df.rows.map((r) => [r.id, r]));
  for (const want of rows()) {
    const got = byId.get(want.id ?? null)!;
    for (const c of COLUMNS) expect(valuesEqual(c.type, got[c.name] ?? null, want[c.name] ?? null), `${c.name} of ${String(want.id)}`).toBe(true);
  }
  // And the reader can append to what the other wrote.
  await reader.saveData("shared", { columns: COLUMNS, rows: rows().map((r) => ({ ...r, id: (r.id as bigint) + 100n })) }, "train", "append");
  expect((await reader.getTableInfo("train", await reader.getDatasetEngine("shared"))).rowCount).toBe(10);
}

describe("legacy and new read each other's files", () => {
  test("legacy writes, new reads (all types)", () =>
    writeThenRead((dir) => [new LegacyDuckdbStorageBackend({ homeDir: dir, duckdb: { memoryLimit: "1GB" } }), new DuckdbStorageBackend({ homeDir: dir, duckdb: { memoryLimit: "1GB" } })]));

  test("new writes, legacy reads (all types)", () =>
    writeThenRead((dir) => [new DuckdbStorageBackend({ homeDir: dir, duckdb: { memoryLimit: "1GB" } }), new LegacyDuckdbStorageBackend({ homeDir: dir, duckdb: { memoryLimit: "1GB" } })]));

  test("with the same settings both share one instance of a file at the same time", async () => {
    const home = tempHome("mdm-duckdb-cross-");
    cleanups.push(home.cleanup);
    const settings = { memoryLimit: "1GB", threads: 2 };
    const legacy = new LegacyDuckdbStorageBackend({ homeDir: home.dir, duckdb: settings });
    const fresh = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: settings });
    cleanups.push(() => legacy.close(), () => fresh.close());
    await legacy.createDataset("both");
    await legacy.saveData("both", [{ x: 1n }], "t");
    expect((await fresh.loadData("both", "t")).rows).toEqual([{ x: 1n }]);
    await fresh.saveData("both", [{ x: 2n }], "t", "append");
    expect((await legacy.loadData("both", "t")).rows).toEqual([{ x: 1n }, { x: 2n }]);
  });
});

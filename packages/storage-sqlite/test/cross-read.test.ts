import { afterEach, describe, expect, it } from "vitest";
import { valuesEqual, type ColumnDef, type Row, type Value } from "@mdm/storage-core";
import { ALL_TYPES, allTypeRows, tempHome } from "./helpers.js";
import { IMPLEMENTATIONS } from "./implementations.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function expectSameRows(columns: ColumnDef[], actual: Row[], expected: Row[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((row, r) => {
    for (const c of columns) {
      const ok = valuesEqual(c.type, (actual[r]?.[c.name] ?? null) as Value, (row[c.name] ?? null) as Value);
      expect(ok, `row ${r}, column ${c.name}`).toBe(true);
    }
  });
}

const [legacy, fresh] = IMPLEMENTATIONS as [(typeof IMPLEMENTATIONS)[0], (typeof IMPLEMENTATIONS)[0]];

describe.each([
  { writer: legacy, reader: fresh },
  { writer: fresh, reader: legacy },
])("$writer.name writes, $reader.name reads the same files", ({ writer, reader }) => {
  it("every value type, the metadata and the layout", async () => {
    const { home, cleanup } = tempHome("mdm-cross-");
    cleanups.push(cleanup);
    const w = writer.create(home);
    await w.createDataset("shared", { metadata: { source: writer.name, n: 1 } });
    await w.saveData("shared", { columns: ALL_TYPES, rows: allTypeRows() }, "train");
    // A stream larger than one legacy INSERT chunk (floor(32766 / 10) = 3276 rows) and than one read batch.
    const many = Array.from({ length: 7000 }, (_, i) => [BigInt(i), i / 7, i % 3 === 0, null, null, null, `${i}.5`, `[${i}]`, null, `row ${i}`] as Value[]);
    await w.writeBatches("big", ALL_TYPES, [many.slice(0, 5000), many.slice(5000)], { engine: await w.getDatasetEngine("shared") });
    await w.updateMetadata("shared", { n: 2 });
    await w.close();

    const r = reader.create(home);
    cleanups.push(() => r.close());
    expect(await r.listDatasets()).toEqual(["shared"]);
    expect(await r.listTables("shared")).toEqual(["big", "train"]);
    expect(await r.getMetadata("shared")).toMatchObject({ source: writer.name, n: 2, dataset_name: "shared", backend_type: "sqlite" });
    const df = await r.loadData("shared", "train");
    expect(df.columns).toEqual(ALL_TYPES.map((c) => ({ nullable: true, ...c })));
    expectSameRows(ALL_TYPES, df.rows, allTypeRows());
    let count = 0;
    let sum = 0n;
    for await (const batch of r.readBatches("big", { engine: await r.getDatasetEngine("shared"), batchSize: 3000 })) {
      count += batch.rows.length;
      for (const row of batch.rows) sum += row[0] as bigint;
      expect(batch.rows[0]?.[6]).toMatch(/^\d+\.5$/);
    }
    expect([count, sum]).toEqual([7000, BigInt((6999 * 7000) / 2)]);
    // The reader appends; the writer's implementation reads it back.
    await r.saveData("shared", { columns: ALL_TYPES, rows: allTypeRows() }, "train", "append");
    await r.close();
    const again = writer.create(home);
    cleanups.push(() => again.close());
    expectSameRows(ALL_TYPES, (await again.loadData("shared", "train")).rows, [...allTypeRows(), ...allTypeRows()]);
  });
});

/** Both implementations use the same layout: what one writes, the other reads, value for value. */
import { afterAll, describe, expect, it } from "vitest";
import { SqlDate, SqlTimestamp, valuesEqual, type ColumnDef, type Value } from "@mdm/storage-core";
import { EVERY_TYPE_COLUMNS } from "@mdm/testing";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/src/index.js";
import { PostgresqlStorageBackend } from "../src/index.js";
import { dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

const prefix = uniquePrefix();
const columns: ColumnDef[] = EVERY_TYPE_COLUMNS;

function makeRows(n: number): Value[][] {
  return Array.from({ length: n }, (_, i) => [
    i % 3 === 0 ? null : i % 2 === 0,
    BigInt(i) * 1_000_000_007n - 2n ** 62n,
    [NaN, -0, Infinity, -Infinity, 0.1 + i, null][i % 6] as Value,
    i % 7 === 0 ? null : `${i}.${String(i % 10000).padStart(4, "0")}`,
    ["NaN", "Infinity", "-Infinity", `0.${"0".repeat(29)}${i}`, null][i % 5] as Value,
    i % 4 === 0 ? "" : `row ${i}\t"quoted" \\ \n😀`,
    i % 5 === 0 ? new Uint8Array() : new Uint8Array([i % 256, 0, 255]),
    new SqlDate(i - 800_000),
    new SqlTimestamp(BigInt(i) * 123_456_789_001n - 10n ** 17n),
    new SqlTimestamp(BigInt(i) * 987_654_321n),
    i % 2 === 0 ? `{"i":${i},"i":${i + 1}}` : "null",
  ]);
}

describe.skipIf(!serverAvailable)("cross-read between legacy and new", () => {
  const legacy = new LegacyPostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }) });
  const modern = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }) });
  afterAll(async () => {
    await legacy.close();
    await modern.close();
    await dropPrefixedDatabases(prefix);
  });

  const cases = [
    { writer: legacy, reader: modern, name: "legacy writes, new reads" },
    { writer: modern, reader: legacy, name: "new writes, legacy reads" },
  ];
  for (const [n, { writer, reader, name }] of cases.entries()) {
    it(name, async () => {
      const dataset = `cross${n}`;
      const rows = makeRows(2500);
      await writer.createDataset(dataset, { metadata: { writer: writer.implementation } });
      await writer.writeBatches("data", columns, [rows], { engine: await writer.getDatasetEngine(dataset) });
      expect(await reader.listDatasets()).toContain(dataset);
      expect((await reader.getMetadata(dataset)).writer).toBe(writer.implementation);
      const engine = await reader.getDatasetEngine(dataset);
      const info = await reader.getTableInfo("data", engine);
      expect(info.columns).toEqual(
        columns.map((c) => ({ ...c, nullable: c.nullable ?? true })),
      );
      const read: Value[][] = [];
      for await (const batch of reader.readBatches("data", { engine, orderBy: ["i"], batchSize: 700 })) read.push(...batch.rows);
      expect(read).toHaveLength(rows.length);
      for (let r = 0; r < rows.length; r++) {
        for (let c = 0; c < columns.length; c++) {
          const col = columns[c] as ColumnDef;
          if (!valuesEqual(col.type, rows[r]?.[c] as Value, read[r]?.[c] as Value)) {
            throw new Error(`row ${r} column ${col.name}: wrote ${String(rows[r]?.[c])}, read ${String(read[r]?.[c])}`);
          }
        }
      }
    });
  }
});

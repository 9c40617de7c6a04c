import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { type Value } from "@mdm/storage-core";
import { SqliteStorageBackend } from "../src/index.js";
import { rowidName } from "../src/keyset-reader.js";
import { tempHome } from "./helpers.js";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A backend on a fresh home, and a dataset file made by hand with better-sqlite3 (as Python MDM or a user would). */
async function datasetMadeBy(sql: string): Promise<{ backend: SqliteStorageBackend; path: string }> {
  const home = tempHome();
  cleanups.push(home.cleanup);
  const backend = new SqliteStorageBackend({ homeDir: home.home });
  cleanups.push(() => backend.close());
  await backend.createDataset("k");
  const path = backend.getDatabasePath("k");
  await backend.closeConnections(); // the file alone, for better-sqlite3 to write into
  const db = new Database(path);
  db.exec(sql);
  db.close();
  return { backend, path };
}

async function readAll(backend: SqliteStorageBackend, table: string, batchSize: number): Promise<{ rows: Value[][]; sizes: number[] }> {
  const engine = await backend.getDatasetEngine("k");
  const rows: Value[][] = [];
  const sizes: number[] = [];
  for await (const batch of backend.readBatches(table, { engine, batchSize, keepInCache: false })) {
    sizes.push(batch.rows.length);
    rows.push(...batch.rows);
  }
  return { rows, sizes };
}

describe("whole-table reads by keyset pages", () => {
  it("read every row once, in rowid order, across gaps, the extreme rowids and an exact multiple of the batch", async () => {
    const { backend } = await datasetMadeBy(`
      CREATE TABLE t (a INTEGER, b TEXT);
      INSERT INTO t (rowid, a, b) VALUES (9223372036854775807, 10, 'max'), (1000000, 4, 'gap'), (-5, 2, 'neg'), (3, 3, 'x'),
        (-9223372036854775808, 1, 'min'), (1000001, 5, 'v1'), (1000002, 6, 'v2'), (1000003, 7, 'v3'), (1000004, 8, 'v4'), (1000005, 9, 'v5');
    `);
    const { rows, sizes } = await readAll(backend, "t", 5);
    expect(rows.map((r) => r[1])).toEqual(["min", "neg", "x", "gap", "v1", "v2", "v3", "v4", "v5", "max"]);
    expect(rows.map((r) => r[0])).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(sizes).toEqual([5, 5]);
    expect((await readAll(backend, "t", 3)).sizes).toEqual([3, 3, 3, 1]);
  });

  it("page by _rowid_ or oid when a column is called rowid, and read the column's own values", async () => {
    const { backend, path } = await datasetMadeBy(`
      CREATE TABLE t ("rowid" TEXT, n INTEGER);
      INSERT INTO t VALUES ('b', 1), ('a', 2), ('b', 3), (NULL, 4), ('a', 5);
      CREATE TABLE u ("ROWID" INTEGER, "_rowid_" INTEGER, n INTEGER);
      INSERT INTO u VALUES (1, 1, 1), (1, 1, 2), (1, 1, 3);
    `);
    const db = new Database(path, { readonly: true });
    expect(rowidName(db, "t")).toBe("_rowid_");
    expect(rowidName(db, "u")).toBe("oid");
    db.close();
    expect((await readAll(backend, "t", 2)).rows).toEqual([["b", 1n], ["a", 2n], ["b", 3n], [null, 4n], ["a", 5n]]);
    expect((await readAll(backend, "u", 2)).rows).toEqual([[1n, 1n, 1n], [1n, 1n, 2n], [1n, 1n, 3n]]);
  });

  it("read tables that cannot be paged by rowid in one statement: WITHOUT ROWID, and every alias taken", async () => {
    const { backend, path } = await datasetMadeBy(`
      CREATE TABLE w (k INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
      INSERT INTO w VALUES (3, 'c'), (1, 'a'), (2, 'b');
      CREATE TABLE all3 ("rowid" INTEGER, "_rowid_" INTEGER, "oid" INTEGER);
      INSERT INTO all3 VALUES (9, 9, 9), (8, 8, 8), (7, 7, 7);
    `);
    const db = new Database(path, { readonly: true });
    expect(rowidName(db, "w")).toBeUndefined();
    expect(rowidName(db, "all3")).toBeUndefined();
    db.close();
    expect((await readAll(backend, "w", 2)).rows).toEqual([[1n, "a"], [2n, "b"], [3n, "c"]]);
    expect((await readAll(backend, "all3", 2)).rows).toEqual([[9n, 9n, 9n], [8n, 8n, 8n], [7n, 7n, 7n]]);
  });

  it("see one snapshot: rows written between pages are not read, and the read's transaction ends with it", async () => {
    const { backend } = await datasetMadeBy(`
      CREATE TABLE t (n INTEGER);
      INSERT INTO t VALUES (1), (2), (3), (4), (5), (6);
    `);
    const engine = await backend.getDatasetEngine("k");
    const seen: Value[] = [];
    let pages = 0;
    for await (const batch of backend.readBatches("t", { engine, batchSize: 2 })) {
      seen.push(...batch.rows.map((r) => r[0] as Value));
      if (pages++ === 0) await backend.writeBatches("t", [{ name: "n", type: "int64" }], [[[7n], [8n], [9n]]], { engine, ifExists: "append" });
    }
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect((await backend.getTableInfo("t", engine)).rowCount).toBe(9);
    // Stopped after the first page: the transaction is closed, and a later write and read work.
    for await (const batch of backend.readBatches("t", { engine, batchSize: 2 })) {
      expect(batch.rows).toHaveLength(2);
      break;
    }
    await backend.writeBatches("t", [{ name: "n", type: "int64" }], [[[10n]]], { engine, ifExists: "append" });
    expect((await backend.readTable("t", { engine })).rows).toHaveLength(10);
  });
});

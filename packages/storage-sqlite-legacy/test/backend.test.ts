import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCodes, defaultConfig, isMdmError, sqliteRowsPerInsert, type Value } from "@mdm/storage-core";
import { LegacySqliteStorageBackend, backendFactory } from "../src/index.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function make(options: ConstructorParameters<typeof LegacySqliteStorageBackend>[0] = {}): { backend: LegacySqliteStorageBackend; home: string } {
  const home = mkdtempSync(join(tmpdir(), "mdm-legacy-"));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const backend = new LegacySqliteStorageBackend({ homeDir: home, ...options });
  cleanups.push(() => backend.close());
  return { backend, home };
}

function pragmas(db: Database.Database): Record<string, unknown> {
  const read = (name: string) => db.pragma(name, { simple: true });
  return { journal_mode: read("journal_mode"), synchronous: Number(read("synchronous")), cache_size: Number(read("cache_size")), temp_store: Number(read("temp_store")), mmap_size: Number(read("mmap_size")) };
}

describe("LegacySqliteStorageBackend", () => {
  it("applies the configured PRAGMAs (Python MDM's defaults) to its connection", async () => {
    const { backend } = make();
    await backend.createDataset("p");
    const db = (await backend.getConnection(await backend.getDatasetEngine("p"))) as Database.Database;
    expect(pragmas(db)).toEqual({ journal_mode: "wal", synchronous: 1, cache_size: -64000, temp_store: 2, mmap_size: 268435456 });
    const custom = make({ sqlite: { synchronous: "FULL", cache_size: -1000, temp_store: "FILE", mmap_size: 0, journal_mode: "DELETE" } }).backend;
    await custom.createDataset("c");
    expect(pragmas((await custom.getConnection(await custom.getDatasetEngine("c"))) as Database.Database)).toEqual({ journal_mode: "delete", synchronous: 2, cache_size: -1000, temp_store: 1, mmap_size: 0 });
    expect(() => new LegacySqliteStorageBackend({ sqlite: { temp_store: "RAM" as "MEMORY" } })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
  });

  it("keeps one cached connection: opening another dataset closes the previous one", async () => {
    const { backend } = make();
    await backend.createDataset("a");
    await backend.createDataset("b");
    const dbA = (await backend.getConnection(await backend.getDatasetEngine("a"))) as Database.Database;
    expect(dbA.open).toBe(true);
    const dbB = (await backend.getConnection(await backend.getDatasetEngine("b"))) as Database.Database;
    expect([dbA.open, dbB.open]).toEqual([false, true]);
    // Same connection for every call on one dataset.
    expect(await backend.getConnection(await backend.getDatasetEngine("b"))).toBe(dbB);
  });

  it("writes like pandas to_sql: multi-row INSERTs cut to the bound-variable limit", async () => {
    expect(sqliteRowsPerInsert(3)).toBe(10_000);
    expect(sqliteRowsPerInsert(11)).toBe(2978);
    expect(sqliteRowsPerInsert(40_000)).toBe(1);
    const { backend } = make();
    await backend.createDataset("wide");
    // 30 columns × 10,000 rows would be 300,000 variables in one statement: SQLite allows 32,766.
    const columns = Array.from({ length: 30 }, (_, i) => ({ name: `c${i}`, type: "int64" as const }));
    const rows = Array.from({ length: 2500 }, (_, r) => columns.map((_, c) => BigInt(r * 100 + c)) as Value[]);
    const engine = await backend.getDatasetEngine("wide");
    await backend.writeBatches("t", columns, [rows], { engine });
    const check = await backend.query('SELECT COUNT(*) AS n, SUM(c29) AS s FROM "t"', [], engine);
    expect(check.rows[0]).toEqual({ n: 2500n, s: BigInt(rows.reduce((s, r) => s + Number(r[29]), 0)) });
  });

  it("records no metrics", async () => {
    const { backend } = make();
    await backend.createDataset("m");
    await backend.saveData("m", [{ a: 1n }], "t");
    expect(backend.capabilities.metrics).toBe(false);
    expect(backend.getMetrics()).toEqual([]);
  });

  it("creates files owner-only, leaves nothing after a failed create, and checkpoints the WAL on close", async () => {
    const { backend, home } = make();
    await backend.createDataset("f");
    expect(statSync(backend.getDatabasePath("f")).mode & 0o777).toBe(0o600);
    const error = await backend.createDataset("g", { metadata: { bad: 1n as unknown as number } }).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect(existsSync(backend.getDatabasePath("g"))).toBe(false);
    await backend.saveData("f", [{ a: "x" }], "t");
    expect(statSync(`${backend.getDatabasePath("f")}-wal`).size).toBeGreaterThan(0);
    await backend.closeConnections();
    expect(readdirSync(join(home, "datasets", "f"))).toEqual(["f.sqlite"]);
  });

  it("publishes a staging file", async () => {
    const { backend } = make();
    const staging = backend.getStagingPath("s", "abc");
    await backend.writeTable("t", [{ a: 1n }, { a: 2n }], { engine: await backend.getEngine(staging) });
    await backend.publishStaging(staging, "s");
    expect((await backend.loadData("s", "t")).rows).toEqual([{ a: 1n }, { a: 2n }]);
  });

  it("streams on a connection of its own while the cached one keeps working", async () => {
    const { backend } = make();
    await backend.createDataset("st");
    await backend.saveData("st", Array.from({ length: 30 }, (_, i) => ({ i: BigInt(i) })), "t");
    const engine = await backend.getDatasetEngine("st");
    let n = 0;
    for await (const batch of backend.readBatches("t", { engine, batchSize: 10 })) {
      n += batch.rows.length;
      await backend.saveData("st", [{ x: BigInt(n) }], "log", "append");
    }
    expect(n).toBe(30);
    expect((await backend.getTableInfo("log", engine)).rowCount).toBe(3);
  });

  it("maps SQLITE_BUSY to MDM_LOCKED", async () => {
    const { backend } = make();
    await backend.createDataset("busy");
    await backend.closeConnections();
    const other = new Database(backend.getDatabasePath("busy"), { timeout: 0 });
    other.exec("BEGIN EXCLUSIVE");
    try {
      const db = (await backend.getConnection(await backend.getDatasetEngine("busy").catch(() => undefined))) as Database.Database | undefined;
      db?.pragma("busy_timeout = 20");
      const error = await backend.saveData("busy", [{ a: 1n }], "t").catch((e: unknown) => e);
      expect(isMdmError(error, ErrorCodes.LOCKED)).toBe(true);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
  });

  it("is built by its backendFactory", () => {
    const backend = backendFactory.create({ homeDir: tmpdir(), config: defaultConfig() });
    cleanups.push(() => backend.close());
    expect([backendFactory.implementation, backend.implementation, backend.backendType]).toEqual(["legacy", "legacy", "sqlite"]);
  });
});

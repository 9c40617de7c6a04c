import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { ErrorCodes, defaultConfig, isMdmError, valuesEqual, type Value } from "@mdm/storage-core";
import { SqliteStorageBackend, backendFactory } from "../src/index.js";
import { ALL_TYPES, allTypeRows, backendsOnTempHomes, tempHome } from "./helpers.js";

const { make, cleanup } = backendsOnTempHomes();

afterEach(cleanup);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (isMdmError(error)) return error.code;
    throw error;
  }
  throw new Error("expected a failure");
}

describe("SqliteStorageBackend", () => {
  it("round-trips every logical type exactly", async () => {
    const { backend } = make();
    await backend.createDataset("types");
    const rows = allTypeRows();
    await backend.saveData("types", { columns: ALL_TYPES, rows }, "t1");
    const df = await backend.loadData("types", "t1");
    expect(df.columns.map((c) => c.type)).toEqual(ALL_TYPES.map((c) => c.type));
    expect(df.columns.find((c) => c.name === "dec")).toMatchObject({ precision: 30, scale: 10 });
    expect(df.rows).toHaveLength(rows.length);
    rows.forEach((row, r) => {
      for (const c of ALL_TYPES) {
        const ok = valuesEqual(c.type, (df.rows[r] as Record<string, Value>)[c.name] as Value, (row[c.name] ?? null) as Value);
        expect(ok, `row ${r} column ${c.name}`).toBe(true);
      }
    });
    expect(df.rows[0]?.dec).toBe("12345678901234567890.1234567890");
    expect(df.rows[0]?.j).toBe("123");
  });

  it("refuses NaN and -0.0 with MDM_UNSUPPORTED_VALUE and writes nothing", async () => {
    const { backend } = make();
    await backend.createDataset("nan");
    const cols = [{ name: "x", type: "float64" as const }];
    expect(await code(backend.saveData("nan", { columns: cols, rows: [{ x: 1 }, { x: NaN }] }, "n"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(await code(backend.saveData("nan", { columns: cols, rows: [{ x: -0 }] }, "z"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(await backend.listTables("nan")).toEqual([]);
    expect(backend.capabilities.values).toMatchObject({ nan: false, negativeZero: false, infinity: true });
    expect(() => backend.checkValue({ name: "x", type: "float64" }, NaN)).toThrow(/NaN/);
  });

  it("creates database files owner-only, and a failed create leaves no file behind", async () => {
    const { backend, home } = make();
    await backend.createDataset("secret");
    const path = backend.getDatabasePath("secret");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "datasets", "secret")).mode & 0o777).toBe(0o700);
    await backend.saveData("secret", [{ a: 1n }], "t");
    for (const f of readdirSync(join(home, "datasets", "secret"))) expect(statSync(join(home, "datasets", "secret", f)).mode & 0o077).toBe(0);
    // Metadata that is not JSON fails after the file was created: nothing stays.
    expect(await code(backend.createDataset("broken", { metadata: { x: 1n as unknown as number } }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(existsSync(backend.getDatabasePath("broken"))).toBe(false);
    expect(await backend.listDatasets()).toEqual(["secret"]);
  });

  it("applies every PRAGMA on every connection and reads it back", async () => {
    const { backend } = make({ sqlite: { busy_timeout: 1234, cache_size: -2000 } });
    await backend.createDataset("p");
    const db = (await backend.getConnection(await backend.getDatasetEngine("p"))) as Database.Database;
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(Number(db.pragma("synchronous", { simple: true }))).toBe(1);
    expect(Number(db.pragma("cache_size", { simple: true }))).toBe(-2000);
    expect(Number(db.pragma("temp_store", { simple: true }))).toBe(2);
    expect(Number(db.pragma("mmap_size", { simple: true }))).toBe(268435456);
    expect(Number(db.pragma("busy_timeout", { simple: true }))).toBe(1234);
    // A second connection (a stream holds the first) is configured too.
    await backend.saveData("p", [{ a: 1n }, { a: 2n }], "t");
    const stream = backend.readBatches("t", { engine: await backend.getDatasetEngine("p"), batchSize: 1 })[Symbol.asyncIterator]();
    await stream.next();
    const info = await backend.query("SELECT * FROM pragma_cache_size() AS c, pragma_busy_timeout() AS b", [], await backend.getDatasetEngine("p"));
    expect(info.rows[0]).toEqual({ cache_size: -2000n, timeout: 1234n });
    await stream.return?.();
  });

  it("fails clearly when a PRAGMA does not take, and on invalid config", async () => {
    expect(() => new SqliteStorageBackend({ sqlite: { journal_mode: "BOGUS" as "WAL" } })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
    expect(() => new SqliteStorageBackend({ sqlite: { cache_size: "1; DROP TABLE x" as unknown as number } })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
    // better-sqlite3's build caps mmap at 0x7fff0000: a larger value reads back smaller.
    const { backend } = make({ sqlite: { mmap_size: 2 ** 40 } });
    const err = await backend.createDataset("m").catch((e: unknown) => e);
    expect(isMdmError(err, ErrorCodes.INVALID_CONFIG)).toBe(true);
    expect((err as Error).message).toMatch(/mmap_size/);
    expect(existsSync(backend.getDatabasePath("m"))).toBe(false);
  });

  it("maps SQLITE_BUSY to MDM_LOCKED", async () => {
    const { backend } = make({ sqlite: { busy_timeout: 50 } });
    await backend.createDataset("busy");
    await backend.closeConnections();
    const other = new Database(backend.getDatabasePath("busy"));
    other.exec("BEGIN IMMEDIATE");
    try {
      expect(await code(backend.saveData("busy", [{ a: 1n }], "t"))).toBe(ErrorCodes.LOCKED);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    await backend.saveData("busy", [{ a: 1n }], "t");
    expect((await backend.loadData("busy", "t")).rows).toEqual([{ a: 1n }]);
  });

  it("maps SQLITE_FULL to MDM_DISK_FULL and rolls back", async () => {
    const { backend } = make();
    await backend.createDataset("full");
    const engine = await backend.getDatasetEngine("full");
    await backend.saveData("full", [{ a: "x" }], "t");
    const pages = await backend.query("PRAGMA page_count", [], engine);
    await backend.executeQuery(`PRAGMA max_page_count = ${Number(pages.rows[0]?.page_count) + 2}`, engine);
    const big = Array.from({ length: 2000 }, (_, i) => ({ a: `${i}`.padEnd(500, "y") }));
    expect(await code(backend.saveData("full", big, "t2"))).toBe(ErrorCodes.DISK_FULL);
    expect(await backend.listTables("full")).toEqual(["t"]);
  });

  it("maps read-only errors to MDM_READ_ONLY", async () => {
    const { backend } = make();
    await backend.createDataset("ro");
    const engine = await backend.getDatasetEngine("ro");
    await backend.executeQuery("PRAGMA query_only = 1", engine);
    expect(await code(backend.executeQuery('CREATE TABLE "x" (a INTEGER)', engine))).toBe(ErrorCodes.READ_ONLY);
    await backend.executeQuery("PRAGMA query_only = 0", engine);
  });

  it("streams in batches while other operations use the same database", async () => {
    const { backend } = make();
    await backend.createDataset("s");
    const rows = Array.from({ length: 2500 }, (_, i) => ({ id: BigInt(i) }));
    await backend.saveData("s", rows, "t");
    const engine = await backend.getDatasetEngine("s");
    const sizes: number[] = [];
    let seen = 0n;
    for await (const batch of backend.readBatches("t", { engine, batchSize: 1000, orderBy: ["id"] })) {
      sizes.push(batch.rows.length);
      for (const r of batch.rows) seen += r[0] as bigint;
      // A write and a read in the middle of the stream: another connection, no "busy" error.
      await backend.writeTable(`w${sizes.length}`, [{ x: 1n }], { engine });
      expect((await backend.getTableInfo("t", engine)).rowCount).toBe(2500);
    }
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(seen).toBe(BigInt((2499 * 2500) / 2));
    expect(await backend.getTableNames(engine)).toEqual(["t", "w1", "w2", "w3"]);
  });

  it("serialises concurrent writes", async () => {
    const { backend } = make();
    await backend.createDataset("c");
    await Promise.all(Array.from({ length: 8 }, (_, i) => backend.saveData("c", Array.from({ length: 500 }, (_, j) => ({ i: BigInt(i), j: BigInt(j) })), "t", "append")));
    const engine = await backend.getDatasetEngine("c");
    expect((await backend.getTableInfo("t", engine)).rowCount).toBe(4000);
  });

  it("checkpoints the WAL on close, so a staging file publishes", async () => {
    const { backend } = make();
    const staging = backend.getStagingPath("pub", "run1");
    const engine = await backend.getEngine(staging);
    await backend.writeTable("t", { columns: ALL_TYPES, rows: allTypeRows() }, { engine });
    expect(statSync(`${staging}-wal`).size).toBeGreaterThan(0);
    expect(statSync(staging).mode & 0o777).toBe(0o600);
    await backend.publishStaging(staging, "pub");
    expect(existsSync(`${staging}-wal`)).toBe(false);
    expect((await backend.loadData("pub", "t")).rows).toHaveLength(4);
    await backend.closeConnections();
    const wal = `${backend.getDatabasePath("pub")}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
  });

  // Mapped pages of the file count in the process's resident memory (RssFile), up to mmap_size.
  it.skipIf(!existsSync("/proc/self/status"))("counts, NUL queries and reads with keepInCache: false do not map the file, and the connection's settings come back", async () => {
    const { backend, home } = make();
    await backend.createDataset("big");
    const columns = [{ name: "id", type: "int64" as const }, { name: "t", type: "text" as const }];
    const batch = (start: number) => Array.from({ length: 5000 }, (_, i) => [BigInt(start + i), `${start + i}:${"y".repeat(400)}`] as Value[]);
    await backend.writeBatches("t", columns, Array.from({ length: 16 }, (_, b) => batch(b * 5000)), { engine: await backend.getDatasetEngine("big") });
    await backend.close();
    const fileSize = statSync(join(home, "datasets", "big", "big.sqlite")).size;
    expect(fileSize).toBeGreaterThan(30_000_000);

    const reader = make({ homeDir: home }).backend;
    const engine = await reader.getDatasetEngine("big");
    const rssFile = () => Number(/RssFile:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) * 1024;
    const pragma = async (name: string) => (await reader.query(`PRAGMA ${name}`, [], engine)).rows[0]![name];
    const before = rssFile();
    expect((await reader.getTableInfo("t", engine)).rowCount).toBe(80_000);
    expect(await reader.columnsContain("t", ["t"], "nulInText", engine)).toBe(false);
    expect(rssFile() - before).toBeLessThan(fileSize / 4);
    let rows = 0;
    for await (const b of reader.readBatches("t", { engine, keepInCache: false })) rows += b.rows.length;
    expect(rows).toBe(80_000);
    expect(rssFile() - before).toBeLessThan(fileSize / 4);
    expect(await pragma("mmap_size")).toBe(268435456n);
    expect(await pragma("cache_size")).toBe(-64000n);
    // The same read keeping the cache maps the file: the measure above can fail.
    for await (const b of reader.readBatches("t", { engine })) rows += b.rows.length;
    expect(rssFile() - before).toBeGreaterThan(fileSize / 2);
    // Left early, the read still gives the connection its settings back.
    for await (const _ of reader.readBatches("t", { engine, keepInCache: false })) break;
    expect(await pragma("mmap_size")).toBe(268435456n);
    expect(await pragma("cache_size")).toBe(-64000n);
  });

  it("optimizes, reports its size and records metrics", async () => {
    const { backend } = make();
    await backend.createDataset("o");
    await backend.saveData("o", Array.from({ length: 1000 }, (_, i) => ({ i: BigInt(i), s: "x".repeat(100) })), "t");
    const engine = await backend.getDatasetEngine("o");
    await backend.executeQuery('DELETE FROM "t" WHERE i > 10', engine);
    const before = await backend.getDatabaseSize(engine);
    await backend.optimize(engine);
    await backend.closeConnections();
    const after = await backend.getDatabaseSize(await backend.getDatasetEngine("o"));
    expect(before).toBeGreaterThan(0);
    expect(after).toBeLessThan(before);
    const ops = backend.getMetrics().map((m) => m.operation);
    expect(ops).toEqual(expect.arrayContaining(["storage.save_data", "storage.optimize", "storage.database_size", "storage.execute"]));
    expect(backend.getMetrics().find((m) => m.operation === "storage.save_data")?.count).toBe(1);
  });

  it("runs scripts, typed queries and parameters", async () => {
    const { backend } = make();
    await backend.createDataset("q");
    const engine = await backend.getDatasetEngine("q");
    await backend.executeQuery('CREATE TABLE "a" (x INTEGER); INSERT INTO "a" VALUES (1), (2)', engine);
    expect(await backend.executeQuery('UPDATE "a" SET x = x + ? WHERE x > ?', engine, [10n, 1n])).toEqual({ rowsAffected: 1 });
    const df = await backend.query('SELECT x, x * 1.5 AS y, COUNT(*) OVER () AS n, NULL AS z FROM "a" ORDER BY x', [], engine);
    expect(df.columns.map((c) => c.type)).toEqual(["int64", "float64", "int64", "text"]);
    expect(df.rows).toEqual([
      { x: 1n, y: 1.5, n: 2n, z: null },
      { x: 12n, y: 18, n: 2n, z: null },
    ]);
    expect(await code(backend.query("SELECT 1 AS v UNION ALL SELECT 'a'", [], engine))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(await code(backend.query("SELECT * FROM nope", [], engine))).toBe(ErrorCodes.QUERY_FAILED);
  });

  it("is built by its backendFactory from the MDM config", async () => {
    const { home, cleanup: removeHome } = tempHome();
    const config = defaultConfig();
    config.database.sqlite.busy_timeout = 777;
    const backend = backendFactory.create({ homeDir: home, config }) as SqliteStorageBackend;
    onTestFinished(async () => {
      await backend.close();
      removeHome();
    });
    expect([backendFactory.backendType, backendFactory.implementation, backend.implementation]).toEqual(["sqlite", "new", "new"]);
    await backend.createDataset("f");
    expect(backend.getDatabasePath("f")).toBe(join(home, "datasets", "f", "f.sqlite"));
    const db = (await backend.getConnection(await backend.getDatasetEngine("f"))) as Database.Database;
    expect(Number(db.pragma("busy_timeout", { simple: true }))).toBe(777);
  });
});

import { totalmem } from "node:os";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { defaultConfig, isMdmError } from "@mdm/storage-core";
import { DuckdbStorageBackend, backendFactory, openInstanceCount, stagingInstanceOptions, type DuckdbSettings } from "../src/index.js";
import { tempHome } from "./helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function home(): string {
  const h = tempHome();
  cleanups.push(h.cleanup);
  return h.dir;
}

function backendIn(dir: string, duckdb: DuckdbSettings = {}): DuckdbStorageBackend {
  const backend = new DuckdbStorageBackend({ homeDir: dir, duckdb });
  cleanups.push(() => backend.close());
  return backend;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("database files", () => {
  test("a dataset is an owner-only DuckDB file at datasets/{name}/{name}.duckdb, and so is its WAL", async () => {
    const dir = home();
    const backend = backendIn(dir);
    await backend.createDataset("perm");
    const path = join(dir, "datasets", "perm", "perm.duckdb");
    expect(backend.getDatabasePath("perm")).toBe(path);
    expect(mode(path)).toBe(0o600);
    expect(mode(join(dir, "datasets", "perm"))).toBe(0o700);
    await backend.saveData("perm", { columns: [{ name: "x", type: "int64" }], rows: [{ x: 1n }] }, "t");
    if (existsSync(`${path}.wal`)) expect(mode(`${path}.wal`)).toBe(0o600);
    expect(readdirSync(join(dir, "datasets", "perm")).filter((f) => f.includes(".init-"))).toEqual([]);
    await backend.close();
    expect(existsSync(`${path}.wal`)).toBe(false); // CHECKPOINT on close: one self-contained file
    const raw = await DuckDBInstance.create(path);
    const connection = await raw.connect();
    expect((await connection.runAndReadAll("SELECT x FROM t")).getRows()).toEqual([[1n]]);
    connection.closeSync();
    raw.closeSync();
  });

  test("an existing non-DuckDB file is never overwritten", async () => {
    const dir = home();
    const backend = backendIn(dir);
    await backend.createDataset("keep");
    const path = backend.getDatabasePath("keep");
    await backend.dropDataset("keep");
    const other = join(dir, "not-duckdb.duckdb");
    writeFileSync(other, "precious");
    const error = await backend.getEngine(other).then(() => backend.tableExists("x")).catch((e) => e);
    expect(isMdmError(error, "MDM_CONNECTION_FAILED")).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(other, "utf8")).toBe("precious");
  });

  test("a staging database publishes after its engine is closed (no WAL left behind)", async () => {
    const dir = home();
    const backend = backendIn(dir);
    const staging = backend.getStagingPath("moved", "run1");
    await backend.createDatabase(staging);
    const engine = await backend.getEngine(staging);
    await backend.writeBatches("data", [{ name: "x", type: "int64" }], [[[1n], [2n]]], { engine });
    await backend.publishStaging(staging, "moved");
    expect((await backend.loadData("moved")).rows).toEqual([{ x: 1n }, { x: 2n }]);
  });
});

describe("settings", () => {
  test("memory_limit defaults to 8GB; threads and temp_directory apply to every connection", async () => {
    const dir = home();
    const backend = backendIn(dir, { threads: 2, tempDirectory: join(dir, "spill") });
    expect(backend.duckdbSettings.memoryLimit).toBe("8GB");
    await backend.createDataset("s");
    const engine = await backend.getDatasetEngine("s");
    // Several connections at once: each reports the same settings.
    const results = await Promise.all(
      [1, 2, 3].map(() => backend.query("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, current_setting('temp_directory') AS d", [], engine)),
    );
    for (const r of results) {
      expect(r.rows[0]!.m).toBe("7.4 GiB"); // DuckDB renders 8GB (10^9 bytes) in GiB
      expect(r.rows[0]!.t).toBe(2n);
      expect(r.rows[0]!.d).toBe(join(dir, "spill"));
    }
  });

  test("a migration's staging database opens with the staging memory limit (32MB unless set); the published dataset with the backend's", async () => {
    const dir = home();
    const backend = backendIn(dir, { memoryLimit: "1GB" });
    await backend.createDataset("m");
    const setting = async (engine: Awaited<ReturnType<typeof backend.getEngine>>) =>
      (await backend.query("SELECT current_setting('memory_limit') AS m", [], engine)).rows[0]!.m;
    const staging = backend.getStagingPath("m", "run1");
    await backend.createDatabase(staging);
    const engine = await backend.getEngine(staging);
    expect(await setting(engine)).toBe("30.5 MiB"); // 32MB = 32 * 10^6 bytes
    expect(await setting(await backend.getDatasetEngine("m"))).toBe("953.6 MiB");
    await backend.releaseEngine(engine);
    await backend.dropDatabase(staging);
    const small = backendIn(home(), { stagingMemoryLimit: "16MB" });
    await small.createDataset("n");
    const other = small.getStagingPath("n", "run2");
    await small.createDatabase(other);
    const smallEngine = await small.getEngine(other);
    expect((await small.query("SELECT current_setting('memory_limit') AS m", [], smallEngine)).rows[0]!.m).toBe("15.2 MiB");
    // 40 MB of random text (about 20 MB once DuckDB compresses hex) goes through a 16MB staging instance
    // and reads back whole: the cache is bounded, not the data.
    const texts = Array.from({ length: 40_000 }, () => randomBytes(500).toString("hex"));
    async function* batches() {
      for (let b = 0; b < 40_000; b += 2000) yield texts.slice(b, b + 2000).map((t, i) => [BigInt(b + i), t]);
    }
    const columns = [{ name: "id", type: "int64" as const }, { name: "t", type: "text" as const }];
    expect(await small.writeBatches("big", columns, batches(), { engine: smallEngine, commitEveryRows: 10_000 })).toBe(40_000);
    let n = 0;
    for await (const batch of small.readBatches("big", { engine: smallEngine })) {
      for (const [id, t] of batch.rows) expect(t).toBe(texts[Number(id)]);
      n += batch.rows.length;
    }
    expect(n).toBe(40_000);
    expect(() => backendIn(home(), { stagingMemoryLimit: "lots" })).toThrow(/duckdb.stagingMemoryLimit must be a size such as 8GB/);
  });

  test("staging never gets more memory than memoryLimit gives DuckDB, unless stagingMemoryLimit says so", () => {
    const staging = (settings: Parameters<typeof stagingInstanceOptions>[0]) => stagingInstanceOptions(settings).memory_limit;
    expect(staging({})).toBe("32MB");
    expect(staging({ memoryLimit: "8GB" })).toBe("32MB");
    expect(staging({ memoryLimit: "16MB" })).toBe("16MB");
    expect(staging({ memoryLimit: "31MiB" })).toBe("32MB"); // 32.5 MB: more than 32MB
    expect(staging({ memoryLimit: "30MiB" })).toBe("30MiB"); // 31.5 MB
    // A percentage is given to DuckDB (which refuses "%") as MiB of the physical memory.
    expect(staging({ memoryLimit: "0.000001%" })).toBe("1MiB");
    expect(staging({ memoryLimit: "16MB", stagingMemoryLimit: "64MB" })).toBe("64MB");
  });

  test("the backend factory reads database.duckdb of mdm.yaml", async () => {
    const dir = home();
    const config = defaultConfig();
    config.database.duckdb.memory_limit = "512MB";
    config.database.duckdb.threads = 1;
    const backend = backendFactory.create({ homeDir: dir, config }) as DuckdbStorageBackend;
    cleanups.push(() => backend.close());
    expect(backendFactory.implementation).toBe("new");
    await backend.createDataset("f");
    const df = await backend.query("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t", [], await backend.getDatasetEngine("f"));
    expect(df.rows[0]!.m).toBe("488.2 MiB");
    expect(df.rows[0]!.t).toBe(1n);
  });

  test("access_mode READ_ONLY is honoured: reads work, writes are MDM_READ_ONLY", async () => {
    const dir = home();
    const writer = backendIn(dir);
    await writer.createDataset("ro");
    await writer.saveData("ro", { columns: [{ name: "x", type: "int64" }], rows: [{ x: 1n }] }, "t");
    await writer.close();
    const reader = backendIn(dir, { accessMode: "READ_ONLY" });
    expect((await reader.loadData("ro", "t")).rows).toEqual([{ x: 1n }]);
    const error = await reader.saveData("ro", { columns: [{ name: "x", type: "int64" }], rows: [{ x: 2n }] }, "u").catch((e) => e);
    expect(isMdmError(error, "MDM_READ_ONLY")).toBe(true);
  });

  test("a second open of one file with other settings is refused clearly, not by DuckDB", async () => {
    const dir = home();
    const first = backendIn(dir, { memoryLimit: "1GB" });
    const second = backendIn(dir, { memoryLimit: "2GB" });
    await first.createDataset("c");
    await first.getDatasetEngine("c");
    const error = await second.getDatasetEngine("c").catch((e) => e);
    expect(isMdmError(error, "MDM_INVALID_CONFIG")).toBe(true);
    expect(error.message).toMatch(/already open in this process with other settings \(memory_limit=1GB.*asked: memory_limit=2GB/);
    // Same settings share the one instance.
    const third = backendIn(dir, { memoryLimit: "1GB" });
    const before = openInstanceCount();
    await third.getDatasetEngine("c");
    expect(openInstanceCount()).toBe(before);
    await first.close();
    await third.close();
    await second.getDatasetEngine("c"); // free again
  });

  test("invalid settings are MDM_INVALID_CONFIG at construction", () => {
    expect(() => new DuckdbStorageBackend({ duckdb: { threads: 0 } })).toThrow(/threads/);
    expect(() => new DuckdbStorageBackend({ duckdb: { memoryLimit: "lots; DROP" } })).toThrow(/memory_limit/);
    // DuckDB itself refuses a size without a unit ("Unknown unit for memory: ''").
    expect(() => new DuckdbStorageBackend({ duckdb: { memoryLimit: "20000000" } })).toThrow(/memory_limit must be a size/);
  });

  test("a memory_limit in percent opens DuckDB with that share of the physical memory", async () => {
    const backend = backendIn(home(), { memoryLimit: "50%" });
    cleanups.push(() => backend.close());
    await backend.createDataset("p");
    const df = await backend.query("SELECT current_setting('memory_limit') AS m", [], await backend.getDatasetEngine("p"));
    const [, amount, unit] = /^([\d.]+) (MiB|GiB)$/.exec(String(df.rows[0]!.m)) ?? [];
    const bytes = Number(amount) * (unit === "GiB" ? 2 ** 30 : 2 ** 20);
    expect(Math.abs(bytes - totalmem() / 2) / (totalmem() / 2)).toBeLessThan(0.01);
  });
});

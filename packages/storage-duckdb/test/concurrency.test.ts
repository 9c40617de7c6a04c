import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { isMdmError } from "@mdm/storage-core";
import { DuckdbStorageBackend } from "../src/index.js";
import { tempHome } from "./helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function withData(rows: number): Promise<DuckdbStorageBackend> {
  const home = tempHome();
  const backend = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB", threads: 2 } });
  cleanups.push(home.cleanup, () => backend.close());
  await backend.createDataset("c");
  const columns = [{ name: "n", type: "int64" as const }];
  await backend.writeBatches("big", columns, [Array.from({ length: rows }, (_, i) => [BigInt(i)])], { engine: await backend.getDatasetEngine("c") });
  return backend;
}

describe("concurrency in one process", () => {
  test("a streaming read keeps its own connection while other reads and a write run", async () => {
    const backend = await withData(20_000);
    const engine = await backend.getDatasetEngine("c");
    const iterator = backend.readBatches("big", { engine, batchSize: 1000, orderBy: ["n"] })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value.rows.length).toBe(1000);
    // While the stream is open: eight reads at once and a write.
    const [reads] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, () => backend.query("SELECT COUNT(*) AS n FROM big", [], engine))),
      backend.saveData("c", { columns: [{ name: "x", type: "text" }], rows: [{ x: "during" }] }, "other"),
    ]);
    expect(reads.map((r) => r.rows[0]!.n)).toEqual(Array(8).fill(20_000n));
    let total = 1000;
    let last = -1n;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      total += next.value.rows.length;
      last = next.value.rows.at(-1)![0] as bigint;
    }
    expect(total).toBe(20_000);
    expect(last).toBe(19_999n);
  });

  test("concurrent writes are serialised: every append lands", async () => {
    const backend = await withData(0);
    await Promise.all(
      Array.from({ length: 6 }, (_, k) => backend.saveData("c", { columns: [{ name: "n", type: "int64" }], rows: Array.from({ length: 500 }, (_, i) => ({ n: BigInt(k * 1000 + i) })) }, "big", "append")),
    );
    const df = await backend.query("SELECT COUNT(*) AS n, COUNT(DISTINCT n) AS d FROM big", [], await backend.getDatasetEngine("c"));
    expect(df.rows[0]).toEqual({ n: 3000n, d: 3000n });
  });
});

describe("another process holding the file", () => {
  test("is a clear MDM_LOCKED error, not a crash", async () => {
    const home = tempHome();
    cleanups.push(home.cleanup);
    const path = join(home.dir, "held.duckdb");
    const script = `
      import { DuckDBInstance } from "@duckdb/node-api";
      const instance = await DuckDBInstance.create(${JSON.stringify(path)});
      const connection = await instance.connect();
      await connection.run("CREATE TABLE t (x INTEGER)");
      process.stdout.write("ready\\n");
      process.stdin.resume();
      process.stdin.on("end", () => { connection.closeSync(); instance.closeSync(); process.exit(0); });
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: join(import.meta.dirname, ".."), stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    cleanups.push(async () => {
      child.stdin.end();
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      child.on("exit", (code) => reject(new Error(`holder exited early with ${code}`)));
    });
    const backend = new DuckdbStorageBackend({ duckdb: { memoryLimit: "1GB" } });
    cleanups.push(() => backend.close());
    const error = await backend.getEngine(path).catch((e) => e);
    expect(isMdmError(error, "MDM_LOCKED")).toBe(true);
    expect(error.message).toMatch(/lock/i);
    // The backend still works for other files.
    await backend.createDatabase(join(home.dir, "free.duckdb"));
    expect(await backend.getTableNames(await backend.getEngine(join(home.dir, "free.duckdb")))).toEqual([]);
    // Once the holder lets go, the file opens.
    child.stdin.end();
    await exited;
    const engine = await backend.getEngine(path);
    expect(await backend.tableExists("t", engine)).toBe(true);
  });
});

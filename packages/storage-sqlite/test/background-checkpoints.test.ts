import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { ColumnDef, Value } from "@mdm/storage-core";
import { BackgroundCheckpointer, backgroundCheckpointer, walBytes } from "../src/checkpointer.js";
import { WAL_CHECKPOINT_BYTES } from "../src/engine.js";
import { backendsOnTempHomes } from "./helpers.js";

const { make, cleanup } = backendsOnTempHomes("mdm-sqlite-ckpt-");

afterEach(cleanup);

const COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64", nullable: false },
  { name: "t", type: "text" },
];
/** 40,000 rows of ~200 bytes: a WAL of about 9 MB, past WAL_CHECKPOINT_BYTES. */
const ROWS = 40_000;
const rows = (from = 0): Value[][] => Array.from({ length: ROWS }, (_, i) => [BigInt(from + i), `row ${from + i} ${"x".repeat(190)}`]);

/** The rows of table `t` in the database file alone, without its WAL: a copy of the main file is opened. */
function rowsInMainFile(path: string, table: string, home: string): number | undefined {
  const copy = join(home, "main-file-only.sqlite");
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const exists = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = ?").get(table) as { n: number };
    return exists.n === 0 ? undefined : (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("WAL checkpoints in a worker thread", () => {
  it("a large write commits into the WAL, visible at once; the worker then copies it into the database file", async () => {
    const { backend, home } = make();
    await backend.createDataset("big");
    const engine = await backend.getDatasetEngine("big");
    const done = backgroundCheckpointer.completed;
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    // The commit did not checkpoint: SQLite's automatic checkpoint is off on the backend's connections.
    const raw = (await backend.getConnection(engine)) as Database.Database;
    expect(Number(raw.pragma("wal_autocheckpoint", { simple: true }))).toBe(0);
    expect(walBytes(engine.database)).toBeGreaterThan(WAL_CHECKPOINT_BYTES);
    // Another connection sees every row at once (from the WAL).
    const other = new Database(engine.database, { readonly: true });
    expect((other.prepare('SELECT count(*) AS n FROM "t"').get() as { n: number }).n).toBe(ROWS);
    other.close();
    // The worker's checkpoint, with the backend's connections still open: the main file alone holds the table.
    await backgroundCheckpointer.settle(engine.database);
    expect(backgroundCheckpointer.completed).toBeGreaterThan(done);
    expect(rowsInMainFile(engine.database, "t", home)).toBe(ROWS);
  });

  it("closing after a large write waits for the checkpoint and leaves the database file alone, without a WAL", async () => {
    const { backend, home } = make();
    await backend.createDataset("closing");
    const engine = await backend.getDatasetEngine("closing");
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    await backend.closeConnections();
    expect(existsSync(`${engine.database}-wal`)).toBe(false);
    expect(rowsInMainFile(engine.database, "t", home)).toBe(ROWS);
  });

  it("a dataset dropped right after a large write is gone, and the worker does not bring a file back", async () => {
    const { backend } = make();
    await backend.createDataset("dropped");
    const engine = await backend.getDatasetEngine("dropped");
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    await backend.dropDataset("dropped");
    // A checkpoint asked for the path after the drop answers with an error instead of creating a file.
    const checkpointer = new BackgroundCheckpointer();
    checkpointer.schedule(engine.database);
    await checkpointer.settle(engine.database);
    expect(checkpointer.lastError?.message).toMatch(/^Background WAL checkpoint failed: .*(Cannot open|SQLITE_CANTOPEN)/);
    expect(existsSync(engine.database)).toBe(false);
    expect(readdirSync(join(engine.database, "..", "..")).filter((f) => f.startsWith("dropped"))).toEqual([]);
  });

  it("writes and reads go on while the worker checkpoints, and a reset WAL is cut back to 4 MiB", async () => {
    const { backend } = make();
    await backend.createDataset("busy");
    const engine = await backend.getDatasetEngine("busy");
    await backend.writeBatches("a", COLUMNS, [rows()], { engine });
    // At once, while the first checkpoint runs: a second large write and a read.
    await backend.writeBatches("b", COLUMNS, [rows(ROWS)], { engine });
    expect((await backend.query('SELECT count(*) AS n, sum(id) AS s FROM "b"', [], engine)).rows).toEqual([{ n: BigInt(ROWS), s: BigInt(ROWS * ROWS + (ROWS * (ROWS - 1)) / 2) }]);
    await backgroundCheckpointer.settle(engine.database);
    expect(walBytes(engine.database)).toBeGreaterThan(WAL_CHECKPOINT_BYTES);
    // The next commit restarts the checkpointed WAL and truncates it to journal_size_limit.
    await backend.writeBatches("c", COLUMNS, [[[0n, "small"]]], { engine });
    await backgroundCheckpointer.settle(engine.database);
    expect(walBytes(engine.database)).toBeLessThanOrEqual(WAL_CHECKPOINT_BYTES);
    expect((await backend.query('SELECT count(*) AS n FROM "a"', [], engine)).rows).toEqual([{ n: BigInt(ROWS) }]);
  });

  it("raw SQL that writes (executeQuery, a writing query) is checkpointed too; a read asks for nothing", async () => {
    const { backend, home } = make();
    await backend.createDataset("raw");
    const engine = await backend.getDatasetEngine("raw");
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    await backgroundCheckpointer.settle(engine.database);
    const done = backgroundCheckpointer.completed;
    await backend.query('SELECT count(*) AS n FROM "t"', [], engine);
    expect(backgroundCheckpointer.completed).toBe(done);
    await backend.executeQuery('CREATE TABLE "u" AS SELECT * FROM "t"', engine);
    await backgroundCheckpointer.settle(engine.database);
    expect(rowsInMainFile(engine.database, "u", home)).toBe(ROWS);
    await backend.query('CREATE TABLE "v" AS SELECT * FROM "t"', [], engine);
    await backgroundCheckpointer.settle(engine.database);
    expect(rowsInMainFile(engine.database, "v", home)).toBe(ROWS);
  });

  it("leaves a database that is not in WAL mode as SQLite has it", async () => {
    const { backend, home } = make({ sqlite: { journal_mode: "DELETE" } });
    await backend.createDataset("rollback");
    const engine = await backend.getDatasetEngine("rollback");
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    const raw = (await backend.getConnection(engine)) as Database.Database;
    expect(Number(raw.pragma("wal_autocheckpoint", { simple: true }))).toBe(1000);
    expect(existsSync(`${engine.database}-wal`)).toBe(false);
    expect(rowsInMainFile(engine.database, "t", home)).toBe(ROWS);
  });

  it("with backgroundCheckpoints: false the commit checkpoints, as SQLite does by default", async () => {
    const { backend, home } = make({ backgroundCheckpoints: false });
    await backend.createDataset("inline");
    const engine = await backend.getDatasetEngine("inline");
    await backend.writeBatches("t", COLUMNS, [rows()], { engine });
    const raw = (await backend.getConnection(engine)) as Database.Database;
    expect(Number(raw.pragma("wal_autocheckpoint", { simple: true }))).toBe(1000);
    expect(rowsInMainFile(engine.database, "t", home)).toBe(ROWS);
  });
});

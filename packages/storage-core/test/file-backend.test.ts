import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, test } from "vitest";
import { ErrorCodes } from "../src/index.js";
import { FileTableBackend } from "./helpers/file-table-backend.js";
import { tempDir } from "./helpers/temp-dir.js";
import { asyncCodeOf } from "./helpers/error-code.js";

describe("FileStorageBackend layout", () => {
  test("datasets/{name}/{name}.sqlite, created owner-only", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    await b.createDataset("Iris");
    const file = join(home, "datasets", "iris", "iris.sqlite");
    expect(b.getDatabasePath("iris")).toBe(file);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "datasets", "iris")).mode & 0o777).toBe(0o700);
    await b.close();
  });

  test("the datasets directory is <home>/datasets, without a trailing slash", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    expect(b.home.datasetsDir).toBe(join(home, "datasets"));
    await b.close();
  });

  test("listDatasets sees only directories holding {name}/{name}.sqlite with a valid name", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    expect(await b.listDatasets()).toEqual([]);
    await b.createDataset("a");
    mkdirSync(join(home, "datasets", "empty"), { recursive: true });
    mkdirSync(join(home, "datasets", "Bad Name"), { recursive: true });
    writeFileSync(join(home, "datasets", "Bad Name", "Bad Name.sqlite"), "");
    mkdirSync(join(home, "datasets", "other"), { recursive: true });
    writeFileSync(join(home, "datasets", "other", "other.duckdb"), "");
    writeFileSync(join(home, "datasets", "stray.sqlite"), "");
    expect(await b.listDatasets()).toEqual(["a"]);
    await b.close();
  });

  test("dropDataset removes the file, its sidecars (DuckDB's spill directory too) and the emptied directory, not other files", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    await b.createDataset("d1");
    await b.createDataset("d2");
    const f1 = b.getDatabasePath("d1");
    const f2 = b.getDatabasePath("d2");
    writeFileSync(`${f1}-wal`, "x");
    writeFileSync(`${f1}-shm`, "x");
    // DuckDB's spill directory beside its database (`<file>.tmp/`), with a spilled block in it.
    mkdirSync(`${f1}.tmp`);
    writeFileSync(join(`${f1}.tmp`, "duckdb_temp_block-1.block"), "x");
    writeFileSync(join(home, "datasets", "d2", "notes.txt"), "keep me");
    await b.dropDataset("d1");
    await b.dropDataset("d2");
    expect(existsSync(join(home, "datasets", "d1"))).toBe(false);
    expect(existsSync(f2)).toBe(false);
    expect(readdirSync(join(home, "datasets", "d2"))).toEqual(["notes.txt"]);
    await b.close();
  });

  test("a database is never created over something already at its path", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    mkdirSync(join(home, "datasets", "dir", "dir.sqlite"), { recursive: true }); // a directory squats the path
    expect(await asyncCodeOf(b.createDataset("dir"))).toBe(ErrorCodes.DATASET_EXISTS);
    writeFileSync(join(home, "datasets", "blocked"), "a file where the dataset directory should be");
    expect(await asyncCodeOf(b.createDataset("blocked"))).not.toBe("no error");
    await b.close();
  });
});

describe("staging and atomic publish", () => {
  test("staging paths sit beside the dataset; run ids are validated", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    expect(b.getStagingPath("Iris", "run1")).toBe(join(home, "datasets", "iris", ".iris.sqlite.staging-run1"));
    for (const bad of ["", "RUN", "a/b", "../x", "x".repeat(17)]) expect(await asyncCodeOf(() => b.getStagingPath("iris", bad))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await asyncCodeOf(() => b.getStagingPath("../iris", "r"))).toBe(ErrorCodes.INVALID_NAME);
    expect(await b.listStagingPaths("iris")).toEqual([]);
    await b.close();
  });

  test("write into staging, publish without replace, then publish with replace", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    const staging = b.getStagingPath("t", "r1");
    await b.createDatabase(staging);
    const engine = await b.getEngine(staging);
    await b.writeTable("train", [{ v: 1n }], { engine });
    writeFileSync(join(home, "datasets", "t", ".t.sqlite.staging-NOTOURS"), "");
    expect(await b.listStagingPaths("t")).toEqual([staging]);
    expect(await b.datasetExists("t")).toBe(false);
    await b.publishStaging(staging, "t");
    expect(await b.datasetExists("t")).toBe(true);
    expect(existsSync(staging)).toBe(false);
    expect((await b.loadData("t", "train")).rows).toEqual([{ v: 1n }]);

    // A second run: refused without replace, nothing changed; accepted with replace.
    const staging2 = b.getStagingPath("t", "r2");
    await b.createDatabase(staging2);
    await b.writeTable("train", [{ v: 2n }], { engine: await b.getEngine(staging2) });
    expect(await asyncCodeOf(b.publishStaging(staging2, "t"))).toBe(ErrorCodes.DATASET_EXISTS);
    expect((await b.loadData("t", "train")).rows).toEqual([{ v: 1n }]);
    writeFileSync(`${b.getDatabasePath("t")}-wal`, "stale wal of the replaced database");
    await b.publishStaging(staging2, "t", { replace: true });
    expect(existsSync(`${b.getDatabasePath("t")}-wal`)).toBe(false);
    expect((await b.loadData("t", "train")).rows).toEqual([{ v: 2n }]);
    expect(await b.listStagingPaths("t")).toEqual([]);
    await b.close();
  });

  test("a missing staging database, or one with a live sidecar, is not published", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    expect(await asyncCodeOf(b.publishStaging(join(home, "nope.sqlite"), "t"))).toBe(ErrorCodes.DATABASE_NOT_FOUND);
    const staging = b.getStagingPath("t", "r3");
    await b.createDatabase(staging);
    writeFileSync(`${staging}-wal`, "uncheckpointed pages");
    expect(await asyncCodeOf(b.publishStaging(staging, "t"))).toBe(ErrorCodes.INTERNAL);
    expect(await b.datasetExists("t")).toBe(false);
    await b.close();
  });
});

describe("file failures", () => {
  test("a database file that cannot be initialised is removed again", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    b.failInitializeFile = new Error("cannot write header");
    expect(await asyncCodeOf(b.createDataset("half"))).toBe(ErrorCodes.QUERY_FAILED);
    expect(existsSync(b.getDatabasePath("half"))).toBe(false);
    b.failInitializeFile = undefined;
    await b.createDataset("half");
    expect(await b.datasetExists("half")).toBe(true);
    await b.close();
  });

  test("a publish whose rename fails is a typed error and the staging file stays", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    const staging = b.getStagingPath("p", "r1");
    await b.createDatabase(staging);
    mkdirSync(join(b.getDatabasePath("p"), "occupied"), { recursive: true }); // a non-empty directory at the final path
    const code = await asyncCodeOf(b.publishStaging(staging, "p", { replace: true }));
    expect(code).not.toBe("no error");
    expect(existsSync(staging)).toBe(true);
    await b.close();
  });

  test("a drop removes the files even when the engine cannot be closed (SQLite's checkpoint on a full disk)", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    const staging = b.getStagingPath("d", "r1");
    await b.createDatabase(staging);
    await b.writeTable("train", [{ v: 1n }], { engine: await b.getEngine(staging) });
    for (const s of ["-wal", "-shm"]) writeFileSync(staging + s, "x");
    writeFileSync(join(home, "datasets", "d", `.${basename(staging)}.init-0a1b`), "a DuckDB file being created");
    b.failClose = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    await b.dropDatabase(staging);
    expect(readdirSync(join(home, "datasets", "d"))).toEqual([]);
    b.failClose = undefined;
    await b.close();
  });

  test("a full disk names the datasets directory and its free bytes; a raw ENOSPC inside an operation is MDM_DISK_FULL", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    await b.createDataset("full");
    b.failInsert = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
    const error = await b.saveData("full", [{ v: 1n }], "train").then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; details: Record<string, unknown> },
    );
    expect(error?.code).toBe(ErrorCodes.DISK_FULL);
    expect(error?.message).toMatch(new RegExp(`^No space left on the file system of ${join(home, "datasets").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+ bytes free\\): save_data: ENOSPC`));
    expect(error?.details.path).toBe(join(home, "datasets"));
    await b.close();
  });
});

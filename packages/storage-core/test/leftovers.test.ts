import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DatasetLock, MdmHome, classifyDatasetFile, listLeftovers, lockDirOf, lockedDatasets, removeLeftover, type Leftover } from "../src/index.js";
import { FileTableBackend } from "./helpers/file-table-backend.js";
import { tempDir } from "./helpers/temp-dir.js";

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid as number;
}

function touch(path: string, text = "x"): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

describe("classifyDatasetFile", () => {
  test("staging files with their sidecars (also without the staging file), DuckDB databases under creation; never the dataset's own files", () => {
    expect(classifyDatasetFile("big", ".big.sqlite.staging-a1b2")).toEqual({ kind: "staging", extension: "sqlite", staging: ".big.sqlite.staging-a1b2" });
    for (const s of ["-wal", "-shm", "-journal", ".wal", ".tmp"]) {
      expect(classifyDatasetFile("big", `.big.duckdb.staging-r1${s}`)).toEqual({ kind: "staging", extension: "duckdb", staging: ".big.duckdb.staging-r1", sidecar: s });
    }
    expect(classifyDatasetFile("big", ".big.duckdb.init-0a9f")).toEqual({ kind: "database-temp", extension: "duckdb" });
    expect(classifyDatasetFile("big", "..big.duckdb.staging-r1.init-0a9f.wal")).toEqual({ kind: "database-temp", extension: "duckdb" });
    for (const own of ["big.sqlite", "big.sqlite-wal", "big.duckdb", "big.duckdb.wal", "dataset_info.json", ".big.sqlite.staging-UPPER", ".bigger.sqlite.staging-r1", ".big.sqlite.staging-r1-wal.bak"]) {
      expect(classifyDatasetFile("big", own), own).toBeUndefined();
    }
    // A name with a dash or an underscore is matched literally.
    expect(classifyDatasetFile("a-b", ".a-b.sqlite.staging-r1")?.kind).toBe("staging");
    expect(classifyDatasetFile("a_b", ".axb.sqlite.staging-r1")).toBeUndefined();
  });

  test("the file backend lists as staging exactly the staging files of its engine", async () => {
    const home = tempDir();
    const b = new FileTableBackend({ homeDir: home });
    const dir = join(home, "datasets", "t");
    for (const f of [".t.sqlite.staging-r1", ".t.sqlite.staging-r1-wal", ".t.duckdb.staging-r2", ".t.sqlite.init-00"]) touch(join(dir, f));
    expect(await b.listStagingPaths("t")).toEqual([join(dir, ".t.sqlite.staging-r1")]);
    await b.close();
  });
});

describe("listLeftovers and removeLeftover", () => {
  test("every kind of leftover of a home, with the reason when one must stay; removing needs only unlink", () => {
    const root = tempDir();
    const home = new MdmHome(root);
    const data = join(home.datasetsDir, "big");
    const locks = lockDirOf(home);
    const dead = deadPid();
    touch(join(data, "big.sqlite"), "the published dataset");
    touch(join(data, "big.sqlite-wal"), "its own WAL");
    touch(join(data, ".big.sqlite.staging-r1"));
    touch(join(data, ".big.sqlite.staging-r1-wal"));
    touch(join(data, ".big.sqlite.staging-r2-shm")); // the staging file itself is gone
    touch(join(data, ".big.duckdb.init-0a9f"));
    touch(join(home.configsDir, "big.yaml"), "name: big\n");
    touch(join(home.configsDir, `big.yaml.tmp-${dead}-00ff00ff`));
    touch(join(home.configsDir, `live.yaml.tmp-${process.pid}-00ff00ff`));
    touch(join(locks, "empty.lock"), "");
    touch(join(locks, "gone.lock"), JSON.stringify({ pid: dead, host: hostname(), startedAt: "2026-01-01T00:00:00Z" }));
    touch(join(locks, `.gone.lock.${dead}.0a0b0c0d.tmp`));
    touch(join(locks, "old--to-duckdb.lock"), JSON.stringify({ pid: dead, startedAt: "2026-01-01T00:00:00Z" }));
    touch(join(locks, "big.publish.json"), "{}");

    const found = listLeftovers(home);
    const byPath = (p: string) => found.find((l) => l.path === p) as Leftover;
    expect(found.map((l) => l.path).sort()).toEqual(
      [
        join(data, ".big.sqlite.staging-r1"),
        join(data, ".big.sqlite.staging-r1-wal"),
        join(data, ".big.sqlite.staging-r2-shm"),
        join(data, ".big.duckdb.init-0a9f"),
        join(home.configsDir, `big.yaml.tmp-${dead}-00ff00ff`),
        join(home.configsDir, `live.yaml.tmp-${process.pid}-00ff00ff`),
        join(locks, "empty.lock"),
        join(locks, "gone.lock"),
        join(locks, `.gone.lock.${dead}.0a0b0c0d.tmp`),
        join(locks, "old--to-duckdb.lock"),
        join(locks, "big.publish.json"),
      ].sort(),
    );
    expect(byPath(join(locks, "empty.lock")).lock?.state).toBe("unreadable");
    expect(byPath(join(locks, "gone.lock")).lock?.state).toBe("stale");
    expect(byPath(join(locks, "old--to-duckdb.lock")).dataset).toBe("old");
    expect(byPath(join(home.configsDir, `live.yaml.tmp-${process.pid}-00ff00ff`)).keep).toMatch(/is writing it/);
    expect(byPath(join(locks, "big.publish.json")).keep).toMatch(/journal/);
    expect(byPath(join(data, ".big.sqlite.staging-r1")).keep).toBeUndefined();
    expect(listLeftovers(home, { dataset: "big" }).map((l) => l.kind).sort()).toEqual(["database-temp", "journal", "registry-temp", "staging", "staging", "staging"]);

    for (const l of found) removeLeftover(l);
    expect(readdirSync(data)).toEqual(["big.sqlite", "big.sqlite-wal"]);
    expect(readdirSync(home.configsDir).sort()).toEqual(["big.yaml", `live.yaml.tmp-${process.pid}-00ff00ff`]);
    expect(readdirSync(locks)).toEqual(["big.publish.json"]);
    expect(listLeftovers(home).map((l) => l.kind).sort()).toEqual(["journal", "registry-temp"]);
  });

  test("a dataset another live process has locked keeps its staging files; a live lock is never listed", () => {
    const root = tempDir();
    const home = new MdmHome(root);
    const data = join(home.datasetsDir, "busy");
    touch(join(data, ".busy.sqlite.staging-r1"));
    // A live holder of this host: the parent of this test process (its lock written as DatasetLock writes one).
    const holder = { pid: process.ppid, host: hostname(), startedAt: new Date().toISOString(), purpose: "migrate busy --to duckdb" };
    touch(join(lockDirOf(home), "busy.lock"), JSON.stringify(holder));
    expect(lockedDatasets(lockDirOf(home)).get("busy")).toMatch(new RegExp(`process ${process.ppid} on .* \\(migrate busy --to duckdb\\)`));
    const [staging, ...rest] = listLeftovers(home);
    expect(rest).toEqual([]);
    expect(staging?.keep).toMatch(/holds/);
    removeLeftover(staging as Leftover);
    expect(existsSync(join(data, ".busy.sqlite.staging-r1"))).toBe(true);

    // A lock of an older mdm ({pid, startedAt}) whose process runs is held too.
    touch(join(lockDirOf(home), "other--to-sqlite.lock"), JSON.stringify({ pid: process.ppid, startedAt: "2026-01-01T00:00:00Z" }));
    touch(join(home.datasetsDir, "other", ".other.sqlite.staging-r1"));
    expect(listLeftovers(home, { dataset: "other" }).map((l) => l.keep)).toEqual([expect.stringMatching(/holds/)]);

    // A dataset name may hold "--": its own lock covers it, not the dataset before the dashes.
    touch(join(lockDirOf(home), "a--b.lock"), JSON.stringify(holder));
    touch(join(home.datasetsDir, "a--b", ".a--b.sqlite.staging-r1"));
    touch(join(home.datasetsDir, "a", ".a.sqlite.staging-r1"));
    expect(listLeftovers(home, { dataset: "a--b" }).map((l) => l.keep)).toEqual([expect.stringMatching(/holds/)]);
    expect(listLeftovers(home, { dataset: "a" }).map((l) => l.keep)).toEqual([undefined]);
  });

  test("the lock this process holds is not a leftover, and does not keep its own dataset's leftovers", () => {
    const root = tempDir();
    const home = new MdmHome(root);
    const lock = DatasetLock.acquire(lockDirOf(home), "mine");
    try {
      touch(join(home.datasetsDir, "mine", ".mine.duckdb.staging-r1"));
      const found = listLeftovers(home);
      expect(found.map((l) => [l.kind, l.keep])).toEqual([["staging", undefined]]);
    } finally {
      lock.release();
    }
  });
});

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DatasetLock, ErrorCodes, inspectLock, listLocks } from "../src/index.js";
import { codeOf } from "./helpers/error-code.js";
import { tempDir } from "./helpers/temp-dir.js";

/** A pid that ran on this host and has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

function owner(pid: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", ...extra });
}

describe("DatasetLock", () => {
  test("is written whole before it is visible: the lock names pid, host and start time; release removes it and leaves no temporary file", () => {
    const dir = tempDir();
    const lock = DatasetLock.acquire(dir, "big", { purpose: "migrate big to duckdb" });
    const written = JSON.parse(readFileSync(join(dir, "big.lock"), "utf8"));
    expect(written).toMatchObject({ pid: process.pid, host: hostname(), purpose: "migrate big to duckdb" });
    expect(typeof written.startedAt).toBe("string");
    expect(readdirSync(dir)).toEqual(["big.lock"]);
    expect(lock.held).toBe(true);
    expect(inspectLock(join(dir, "big.lock"))?.state).toBe("held");
    lock.release();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a live holder is refused with MDM_LOCKED naming its pid and how to check it; the lock stays", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "big.lock"), owner(process.pid, { purpose: "register big" }));
    expect(codeOf(() => DatasetLock.acquire(dir, "big"))).toBe(ErrorCodes.LOCKED);
    expect(() => DatasetLock.acquire(dir, "big")).toThrow(new RegExp(`locked by process ${process.pid} on host .* \\(register big\\); check it with "ps -p ${process.pid}"`));
    expect(readFileSync(join(dir, "big.lock"), "utf8")).toBe(owner(process.pid, { purpose: "register big" }));
    expect(readdirSync(dir)).toEqual(["big.lock"]);
  });

  test("a lock of another host is respected (this host cannot tell whether it runs)", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "big.lock"), JSON.stringify({ pid: 1, host: `not-${hostname()}`, startedAt: "2026-01-01T00:00:00.000Z" }));
    expect(() => DatasetLock.acquire(dir, "big")).toThrow(/on host not-.*check on host not-/);
  });

  test.each([
    ["empty", () => ""],
    ["garbage", () => "\u0000\u0001not json"],
    ["JSON without an owner", () => JSON.stringify({ hello: 1 })],
    ["a dead process of this host", () => owner(deadPid())],
    ["a reused pid (same pid, other process start time)", () => owner(process.pid, { pidStart: 1 })],
  ])("%s: taken over, with a note", (_label, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, "big.lock"), content());
    const notes: string[] = [];
    const lock = DatasetLock.acquire(dir, "big", { onTakeover: (n) => notes.push(n) });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/took over the lock of big/);
    expect(JSON.parse(readFileSync(join(dir, "big.lock"), "utf8")).pid).toBe(process.pid);
    expect(readdirSync(dir)).toEqual(["big.lock"]);
    lock.release();
    expect(existsSync(join(dir, "big.lock"))).toBe(false);
  });

  test("release leaves a lock that is not ours (taken over after ours was removed by hand)", () => {
    const dir = tempDir();
    const lock = DatasetLock.acquire(dir, "big");
    writeFileSync(join(dir, "big.lock"), owner(process.pid, { startedAt: "2000-01-01T00:00:00.000Z" }));
    expect(lock.held).toBe(false);
    lock.release();
    expect(existsSync(join(dir, "big.lock"))).toBe(true);
  });

  test("listLocks tells held, stale and unreadable apart", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.lock"), owner(process.pid));
    writeFileSync(join(dir, "b.lock"), owner(deadPid()));
    writeFileSync(join(dir, "c.lock"), "");
    writeFileSync(join(dir, "other.txt"), "");
    expect(listLocks(dir).map((l) => [l.path.slice(dir.length + 1), l.state])).toEqual([
      ["a.lock", "held"],
      ["b.lock", "stale"],
      ["c.lock", "unreadable"],
    ]);
    expect(listLocks(join(dir, "missing"))).toEqual([]);
  });
});

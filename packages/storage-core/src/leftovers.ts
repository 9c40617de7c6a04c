import { lstatSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { inspectLock, removeStaleLock, type LockState } from "./dataset-lock.js";
import { fileSystemError } from "./errors.js";
import type { MdmHome } from "./layout.js";
import { isNormalizedDatasetName, normalizeDatasetName } from "./names.js";

/** The directory beside a staging database where a registration keeps the Parquet files it imports. */
export const IMPORT_SIDECAR = ".import";

/**
 * Files an engine keeps beside a database: SQLite's WAL, shared memory and rollback journal, DuckDB's WAL
 * and its spill directory (`.tmp`); and a registration's import directory (`.import`).
 */
export const DATABASE_SIDECARS = ["-wal", "-shm", "-journal", ".wal", ".tmp", IMPORT_SIDECAR] as const;

/** `.{name}.{extension}.staging-{runId}`: the staging file of a run, in the dataset's directory. */
export function stagingFileName(datasetName: string, extension: "sqlite" | "duckdb", runId: string): string {
  return `.${datasetName}.${extension}.staging-${runId}`;
}

/** What a file in a dataset's directory is when it is the trace of an unfinished run. */
export interface DatasetFileLeftover {
  /** `staging`: a staging file or one of its sidecars; `database-temp`: a database being created (DuckDB's `.init-` file). */
  kind: "staging" | "database-temp";
  extension: "sqlite" | "duckdb";
  /** The staging file it belongs to (a base name), for a staging file and its sidecars. */
  staging?: string;
  /** The sidecar suffix (`-wal`, `.wal`, ...), when it is one. */
  sidecar?: string;
}

const SIDECAR_PATTERN = DATABASE_SIDECARS.map((s) => s.replace(".", "\\.")).join("|");

/**
 * Classify a file of `datasets/{name}/`: a staging file (`.{name}.sqlite.staging-{runId}`), a sidecar of
 * one (`-wal`, `-shm`, `-journal`, `.wal`, `.tmp`, also when the staging file itself is gone), a DuckDB
 * database under creation (`.{name}.duckdb.init-{hex}` or `..{name}.duckdb.staging-{runId}.init-{hex}`, with
 * its `.wal`). Anything else, the dataset's own files included, is `undefined`.
 */
export function classifyDatasetFile(datasetName: string, file: string): DatasetFileLeftover | undefined {
  const name = normalizeDatasetName(datasetName).replace(/[.-]/g, "\\$&");
  const staging = new RegExp(`^(\\.${name}\\.(sqlite|duckdb)\\.staging-[a-z0-9]+)(${SIDECAR_PATTERN})?$`).exec(file);
  if (staging) {
    const out: DatasetFileLeftover = { kind: "staging", extension: staging[2] as "sqlite" | "duckdb", staging: staging[1] as string };
    if (staging[3]) out.sidecar = staging[3];
    return out;
  }
  const init = new RegExp(`^\\.(\\.${name}\\.(sqlite|duckdb)\\.staging-[a-z0-9]+|${name}\\.(sqlite|duckdb))\\.init-[0-9a-f]+(\\.wal)?$`).exec(file);
  if (init) return { kind: "database-temp", extension: (init[2] ?? init[3]) as "sqlite" | "duckdb" };
  return undefined;
}

/** A trace of an unfinished run in an MDM home (`mdm doctor` lists them). */
export interface Leftover {
  /**
   * `staging` / `database-temp`: see classifyDatasetFile; `registry-temp`: a registry entry being written
   * (`config/datasets/{name}.yaml.tmp-{pid}-{hex}`); `lock`: a lock file that is stale or unreadable;
   * `lock-temp`: a lock being written or taken over; `journal`: a migration's publish journal (never removed here).
   */
  kind: "staging" | "database-temp" | "registry-temp" | "lock" | "lock-temp" | "journal";
  path: string;
  /** The dataset it belongs to (for locks: the lock's key). */
  dataset: string;
  bytes: number;
  /** Set when removing it is not safe now, with the reason (a live process uses it, a journal). */
  keep?: string;
  /** For a lock: its state and owner. */
  lock?: LockState;
}

export interface ListLeftoversOptions {
  /** Only this dataset's leftovers. */
  dataset?: string;
  /** Where lock files live (default `<home>/locks`). */
  lockDir?: string;
}

/** Where the locks of an MDM home live: `<home>/locks` (DatasetLock, the migrator). */
export function lockDirOf(home: MdmHome): string {
  return join(home.root, "locks");
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sizeOf(path: string): number {
  try {
    const stat = lstatSync(path);
    if (!stat.isDirectory()) return stat.size;
    return readdirSync(path).reduce((n, f) => n + sizeOf(join(path, f)), 0);
  } catch {
    return 0;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * The dataset a lock key is about: the key itself (DatasetLock: `<name>.lock`), or for the older migrator's
 * `<name>--to-<type>.lock` the name before `--to-`. A dataset name may itself hold `--`, so both are kept
 * when they differ: a live lock keeps the leftovers of either.
 */
function lockKeyDatasets(key: string): string[] {
  const older = /^(.+)--to-(sqlite|duckdb|postgresql)$/.exec(key);
  return older ? [older[1] as string, key] : [key];
}

/** The key of a lock file name (`big.lock`, `big--to-duckdb.lock`), and the dataset it is about. */
function lockKey(file: string): { key: string; dataset: string } | undefined {
  const m = /^(.+)\.lock$/.exec(file);
  if (!m) return undefined;
  const key = m[1] as string;
  return { key, dataset: lockKeyDatasets(key)[0] as string };
}

/**
 * A lock of this host that `inspectLock` cannot read but that names a live process: the format of an older
 * `mdm` (`{pid, startedAt}`). It is treated as held.
 */
function olderLockHolder(path: string): number | undefined {
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as { pid?: unknown; host?: unknown };
    if (value && typeof value.pid === "number" && Number.isSafeInteger(value.pid) && value.pid > 0 && value.host === undefined && alive(value.pid)) return value.pid;
  } catch {
    // empty or garbage: not held
  }
  return undefined;
}

/**
 * The datasets a live process other than this one has locked (a lock of `lockDir` that is held, by its
 * dataset), each with who holds it. Their leftovers are not removed: they may be that process's work.
 */
export function lockedDatasets(lockDir: string): Map<string, string> {
  const busy = new Map<string, string>();
  for (const file of listDir(lockDir)) {
    const key = lockKey(file);
    if (!key) continue;
    const path = join(lockDir, file);
    const state = inspectLock(path);
    let reason: string | undefined;
    if (state?.state === "held" && state.owner && state.owner.pid !== process.pid) {
      reason = `process ${state.owner.pid} on ${state.owner.host} holds ${path}${state.owner.purpose ? ` (${state.owner.purpose})` : ""}`;
    } else if (state?.state === "unreadable") {
      const pid = olderLockHolder(path);
      if (pid !== undefined && pid !== process.pid) reason = `process ${pid} holds ${path}`;
    }
    if (reason) for (const dataset of lockKeyDatasets(key.key)) busy.set(dataset, reason);
  }
  return busy;
}

/**
 * Every leftover of unfinished runs in an MDM home: staging files with their sidecars and DuckDB's
 * databases under creation in `datasets/{name}/`, registry entries half written, stale or unreadable
 * locks, lock files being written, publish journals. A leftover of a dataset that a live process has
 * locked, or a temporary file of a live process, carries `keep` (the reason). Published datasets and
 * their own sidecars are never listed.
 */
export function listLeftovers(home: MdmHome, options: ListLeftoversOptions = {}): Leftover[] {
  const only = options.dataset === undefined ? undefined : normalizeDatasetName(options.dataset);
  const lockDir = options.lockDir ?? lockDirOf(home);
  const busy = lockedDatasets(lockDir);
  const out: Leftover[] = [];
  const add = (leftover: Omit<Leftover, "bytes">) => {
    if (only !== undefined && leftover.dataset !== only) return;
    const keep = leftover.keep ?? (leftover.kind === "lock" ? undefined : busy.get(leftover.dataset));
    out.push({ ...leftover, bytes: sizeOf(leftover.path), ...(keep ? { keep } : {}) });
  };

  for (const name of (only === undefined ? listDir(home.datasetsDir) : [only]).filter(isNormalizedDatasetName)) {
    for (const file of listDir(join(home.datasetsDir, name))) {
      const kind = classifyDatasetFile(name, file);
      if (kind) add({ kind: kind.kind, path: join(home.datasetsDir, name, file), dataset: name });
    }
  }

  for (const file of listDir(home.configsDir)) {
    const m = /^(.+)\.yaml\.tmp-(\d+)-[0-9a-f]+$/.exec(file); // DatasetRegistry.prepare's temporary files
    if (!m) continue;
    const pid = Number(m[2]);
    add({ kind: "registry-temp", path: join(home.configsDir, file), dataset: m[1] as string, ...(alive(pid) ? { keep: `process ${pid} is writing it` } : {}) });
  }

  for (const file of listDir(lockDir)) {
    const path = join(lockDir, file);
    const key = lockKey(file);
    if (key) {
      const state = inspectLock(path);
      if (!state || state.state === "held") continue;
      const older = state.state === "unreadable" ? olderLockHolder(path) : undefined;
      if (older !== undefined) continue; // held by a live process of an older mdm
      add({ kind: "lock", path, dataset: key.dataset, lock: state });
      continue;
    }
    if (file.endsWith(".publish.json")) {
      add({ kind: "journal", path, dataset: lockKeyDatasets(file.slice(0, -".publish.json".length))[0] as string, keep: "a migration's publish journal: the next migration of the dataset completes or undoes it" });
      continue;
    }
    // DatasetLock's temporary file (`.{key}.lock.{pid}.{hex}.tmp`) and a lock renamed aside while taken over (`{key}.lock.stale-{hex}`).
    const temp = /^\.(.+)\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(file);
    const aside = /^(.+)\.lock\.stale-[0-9a-f]+$/.exec(file);
    if (temp) {
      const pid = Number(temp[2]);
      add({ kind: "lock-temp", path, dataset: lockKeyDatasets(temp[1] as string)[0] as string, ...(alive(pid) ? { keep: `process ${pid} is taking the lock` } : {}) });
    } else if (aside) {
      const held = inspectLock(path)?.state === "held";
      add({ kind: "lock-temp", path, dataset: lockKeyDatasets(aside[1] as string)[0] as string, ...(held ? { keep: "a lock being taken over by a live process" } : {}) });
    }
  }
  return out;
}

/**
 * Remove one leftover (never one with `keep`). Needs no free space: only unlink and rename. A lock is
 * renamed aside and read again first, and put back when it turned out to be held (taken over in between).
 */
export function removeLeftover(leftover: Leftover): void {
  if (leftover.keep) return;
  try {
    if (leftover.kind !== "lock") {
      rmSync(leftover.path, { force: true, recursive: true });
      return;
    }
    removeStaleLock(leftover.path);
  } catch (error) {
    throw fileSystemError(error, leftover.path, "remove the leftover");
  }
}

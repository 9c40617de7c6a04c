import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileDurably } from "./durable-file.js";
import { ErrorCodes, MdmError, fileSystemError } from "./errors.js";

/** Who holds a lock: written into the lock file before the file becomes visible under its name. */
export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  startedAt: string;
  /** Start time of the process in clock ticks after boot (Linux `/proc/<pid>/stat`), to tell a reused pid apart. */
  pidStart?: number;
  /** What the holder is doing, for people: `migrate big --to duckdb`. */
  purpose?: string;
}

/**
 * The state of a lock file:
 * - `held`: a live process of this host, or any process of another host (which this host cannot check);
 * - `stale`: a process of this host that no longer runs (or whose pid now belongs to another process);
 * - `unreadable`: empty or not a lock this package wrote (ours are complete before they are visible).
 */
export interface LockState {
  path: string;
  state: "held" | "stale" | "unreadable";
  owner?: LockOwner;
}

function processStart(pid: number): number | undefined {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces, so count from its ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value !== "object" || value === null) return undefined;
    if (typeof value.pid !== "number" || !Number.isSafeInteger(value.pid) || value.pid <= 0) return undefined;
    if (typeof value.host !== "string" || typeof value.startedAt !== "string") return undefined;
    return value as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether a lock file is held, stale or unreadable (never throws for a file that vanished: `undefined`). */
export function inspectLock(path: string): LockState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { path, state: "unreadable" };
  }
  const owner = parseOwner(text);
  if (!owner) return { path, state: "unreadable" };
  if (owner.host !== hostname()) return { path, state: "held", owner };
  if (!alive(owner.pid)) return { path, state: "stale", owner };
  // The pid runs, but is it still the process that took the lock? (pids are reused after a crash)
  if (owner.pidStart !== undefined) {
    const start = processStart(owner.pid);
    if (start !== undefined && start !== owner.pidStart) return { path, state: "stale", owner };
  }
  return { path, state: "held", owner };
}

/** Every lock file of a lock directory with its state (for `mdm doctor`). */
export function listLocks(dir: string): LockState[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".lock")).sort();
  } catch {
    return [];
  }
  return files.map((f) => inspectLock(join(dir, f))).filter((s): s is LockState => s !== undefined);
}

export interface AcquireLockOptions {
  /** What the holder does, written into the lock and shown to whoever is refused. */
  purpose?: string;
  /** Told when a stale or unreadable lock is taken over (the CLI prints it on stderr). */
  onTakeover?: (note: string) => void;
}

/**
 * Remove a lock judged stale or unreadable. It is first renamed aside, then read again: when it is a held
 * lock after all (another process took the lock in between), it is put back. Needs no free space.
 */
export function removeStaleLock(path: string): void {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw fileSystemError(error, path, "take over the lock");
  }
  if (inspectLock(aside)?.state === "held" && !existsSync(path)) {
    try {
      linkSync(aside, path);
    } catch {
      // the name was taken again in between: that lock stands
    }
  }
  rmSync(aside, { force: true });
}

/** Locks this process holds, removed on `process.exit` too (a normal return releases them itself). */
const HELD = new Set<string>();
let exitHookInstalled = false;

function describeOwner(owner: LockOwner): string {
  const what = owner.purpose ? ` (${owner.purpose})` : "";
  return `process ${owner.pid} on host ${owner.host} since ${owner.startedAt}${what}`;
}

/**
 * An exclusive lock file per key (one per dataset: `<home>/locks/<name>.lock`). It is written in full
 * under a temporary name, made durable, and only then linked under its final name (link fails when the
 * name exists), so a visible lock always names its owner: pid, host, start time. A lock whose owner is
 * gone (this host, pid dead or reused), or that is empty or garbage, is taken over with a note; a lock
 * of a live process, or of another host, is refused with MDM_LOCKED naming the holder. With no space
 * left the lock is not taken (MDM_DISK_FULL) and nothing is left behind.
 */
export class DatasetLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  static acquire(dir: string, key: string, options: AcquireLockOptions = {}): DatasetLock {
    const path = join(dir, `${key}.lock`);
    const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    const start = processStart(process.pid);
    if (start !== undefined) owner.pidStart = start;
    if (options.purpose) owner.purpose = options.purpose;
    const temporary = join(dir, `.${key}.lock.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileDurably(temporary, JSON.stringify(owner));
    } catch (error) {
      throw fileSystemError(error, path, "write the lock");
    }
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(temporary, path);
          const lock = new DatasetLock(path, owner);
          lock.hold();
          return lock;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw fileSystemError(error, path, "write the lock");
        }
        const state = inspectLock(path);
        if (state === undefined) continue; // released in between
        if (state.state === "held") {
          const holder = state.owner as LockOwner;
          const check = holder.host === owner.host ? `check it with "ps -p ${holder.pid}"` : `check on host ${holder.host} whether process ${holder.pid} still runs`;
          throw new MdmError(
            ErrorCodes.LOCKED,
            `Dataset ${key} is locked by ${describeOwner(holder)}; ${check}. If it no longer runs, "mdm doctor --clean" removes the lock (or delete ${path})`,
            { details: { lock: path, pid: holder.pid, host: holder.host, startedAt: holder.startedAt, purpose: holder.purpose } },
          );
        }
        removeStaleLock(state.path);
        options.onTakeover?.(
          state.state === "stale"
            ? `took over the lock of ${key}: its holder (${describeOwner(state.owner as LockOwner)}) no longer runs`
            : `took over the lock of ${key}: ${path} was empty or unreadable`,
        );
      }
      throw new MdmError(ErrorCodes.LOCKED, `Could not take the lock ${path}: it changed hands three times`, { details: { lock: path } });
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  private hold(): void {
    HELD.add(this.path);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => {
        for (const path of HELD) rmSync(path, { force: true });
      });
    }
  }

  /** Whether the lock file on disk is this lock (not one that took it over after us). */
  private isOurs(): boolean {
    try {
      const current = parseOwner(readFileSync(this.path, "utf8"));
      return current !== undefined && current.pid === this.owner.pid && current.startedAt === this.owner.startedAt && current.host === this.owner.host;
    } catch {
      return false;
    }
  }

  /** Remove the lock (idempotent). Only our own lock file is removed. */
  release(): void {
    if (this.released) return;
    this.released = true;
    HELD.delete(this.path);
    try {
      if (this.isOurs()) rmSync(this.path, { force: true });
    } catch {
      // a directory turned read-only: the lock names a process that is about to be gone, so the next taker takes it over
    }
  }

  /** Whether this process still holds the lock (false after release, or when someone removed it). */
  get held(): boolean {
    return !this.released && this.isOurs();
  }
}

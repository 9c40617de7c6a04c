import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes, MdmError } from "@mdm/storage-core";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive lock file (O_EXCL) naming the process that holds it. A lock left by a process that no
 * longer exists (killed with SIGKILL) is taken over; a live holder makes the caller fail at once with
 * MDM_LOCKED.
 */
export class MigrationLock {
  private released = false;

  private constructor(readonly path: string) {}

  static acquire(dir: string, key: string): MigrationLock {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${key}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
        closeSync(fd);
        return new MigrationLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        let holder: { pid?: number; startedAt?: string } = {};
        try {
          holder = JSON.parse(readFileSync(path, "utf8"));
        } catch {
          // a lock being written right now, or garbage: treat as held unless it is stale below
        }
        if (typeof holder.pid === "number" && holder.pid !== process.pid && !alive(holder.pid)) {
          rmSync(path, { force: true });
          continue;
        }
        throw new MdmError(
          ErrorCodes.LOCKED,
          `Another migration of ${key} is in progress${holder.pid ? ` (process ${holder.pid}, since ${holder.startedAt})` : ""}`,
          { details: { lock: path, pid: holder.pid } },
        );
      }
    }
    throw new MdmError(ErrorCodes.LOCKED, `Could not take the lock ${path}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    rmSync(this.path, { force: true });
  }
}

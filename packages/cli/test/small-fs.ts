import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "./helpers.js";

/**
 * A file system of a chosen size (a tmpfs mounted by the test) that a ballast file fills to a chosen level.
 * tmpfs counts pages only: directories and empty files cost nothing, so at "0 bytes free" a program can still
 * create a file and then fails to write its first byte, as on a full disk.
 */
export class SmallFileSystem {
  private constructor(
    readonly dir: string,
    private readonly owner?: string,
  ) {}

  private get ballast(): string {
    return join(this.dir, ".ballast");
  }

  /**
   * Mount one, or say why not: undefined and a reason. Mounting needs root; without it the tests are skipped
   * with the reason printed, and under CI=true (where CI runs as root) a skip is an error.
   */
  static mount(sizeBytes: number, options: { owner?: string } = {}): SmallFileSystem | string {
    const dir = tempDir("small-fs");
    let reason: string | undefined;
    if (process.getuid?.() !== 0) reason = "mounting a tmpfs needs root";
    else {
      const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0755`, "tmpfs", dir], { encoding: "utf8" });
      if (r.status !== 0) reason = `mount -t tmpfs failed: ${(r.stderr || r.error?.message || "").trim()}`;
    }
    if (reason) {
      removeDir(dir);
      if (process.env.CI === "true") throw new Error(`CI=true and the disk-full tests cannot run: ${reason}`);
      console.warn(`[@mdm/cli] skipping disk-full tests: ${reason}`);
      return reason;
    }
    if (options.owner) spawnSync("chown", [options.owner, dir]);
    return new SmallFileSystem(dir, options.owner);
  }

  /** Bytes free for an unprivileged writer. */
  free(): number {
    const s = statfsSync(this.dir);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** Fill the file system until `leave` bytes are free (0: until a write fails with ENOSPC). */
  fill(leave: number): void {
    this.release();
    const fd = openSync(this.ballast, "wx");
    try {
      const chunk = Buffer.alloc(1 << 16, 1);
      let toWrite = this.free() - leave;
      while (leave > 0 ? toWrite > 0 : true) {
        try {
          toWrite -= writeSync(fd, chunk, 0, leave > 0 ? Math.min(chunk.length, toWrite) : chunk.length);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Grow (or shrink) the file system: a tmpfs can be remounted with another size, its files kept. */
  resize(sizeBytes: number): void {
    const r = spawnSync("mount", ["-o", `remount,size=${sizeBytes}`, this.dir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cannot resize ${this.dir}: ${r.stderr}`);
  }

  /** Remove the ballast: the space is free again. */
  release(): void {
    rmSync(this.ballast, { force: true });
  }

  /** A directory on it (created). */
  path(...parts: string[]): string {
    const p = join(this.dir, ...parts);
    mkdirSync(p, { recursive: true });
    if (this.owner) spawnSync("chown", ["-R", this.owner, p]);
    return p;
  }

  /** Unmount and remove the mount point (lazily when something still holds it). */
  unmount(): void {
    const r = spawnSync("umount", [this.dir]);
    if (r.status !== 0) spawnSync("umount", ["-l", this.dir]);
    removeDir(this.dir);
  }
}

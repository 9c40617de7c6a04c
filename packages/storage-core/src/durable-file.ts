import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";

/**
 * Write a new file in full and make it durable (fsync) before returning, owner-only by default. On any
 * failure (no space, a read-only file system) the file is removed and the error thrown as it came, for
 * the caller to map: a half-written file never stays behind.
 */
export function writeFileDurably(path: string, content: string, options: { exclusive?: boolean; mode?: number } = {}): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, options.exclusive === false ? "w" : "wx", options.mode ?? 0o600);
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    rmSync(path, { force: true });
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

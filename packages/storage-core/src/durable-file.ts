import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

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

/**
 * Have `write` create a file under a temporary name beside `path` (`.<name>.tmp-<random>`), then rename
 * it onto `path`, so that `path` only ever holds a complete file; on any failure the temporary file is
 * removed and the error thrown as it came.
 */
export async function writeThenRename<T>(path: string, write: (temporary: string) => Promise<T>): Promise<T> {
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    const result = await write(temporary);
    renameSync(temporary, target);
    return result;
  } finally {
    rmSync(temporary, { force: true, recursive: true });
  }
}

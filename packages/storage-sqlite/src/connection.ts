import Database from "better-sqlite3";
import { ErrorCodes, MdmError, mapSqliteError, type SqlitePragma } from "@mdm/storage-core";

export type Connection = Database.Database;

/**
 * Open one connection and apply every PRAGMA, then read each one back: a PRAGMA that did not take
 * (a journal mode the file system refuses, an mmap_size above the build's limit...) is an error,
 * not a warning. 64-bit integers are read as bigint on every statement of the connection.
 */
export function openCheckedConnection(path: string, pragmas: readonly SqlitePragma[]): Connection {
  let db: Connection;
  try {
    db = new Database(path, { fileMustExist: path !== ":memory:" });
  } catch (error) {
    throw mapSqliteError(error, `Cannot open SQLite database ${path}`, { path });
  }
  try {
    db.defaultSafeIntegers(true);
    for (const pragma of pragmas) {
      db.exec(pragma.sql);
      const actual: unknown = db.pragma(pragma.name, { simple: true });
      const matches = typeof pragma.expected === "number" ? Number(actual) === pragma.expected : String(actual).toLowerCase() === pragma.expected;
      if (!matches) {
        throw new MdmError(
          db.readonly ? ErrorCodes.READ_ONLY : ErrorCodes.INVALID_CONFIG,
          `SQLite did not take "${pragma.sql}" on ${path}: PRAGMA ${pragma.name} reads back ${JSON.stringify(String(actual))}, expected ${JSON.stringify(String(pragma.expected))}`,
          { details: { path, pragma: pragma.name, expected: pragma.expected, actual: String(actual) } },
        );
      }
    }
    return db;
  } catch (error) {
    db.close();
    throw mapSqliteError(error, `Cannot configure SQLite database ${path}`, { path });
  }
}

/** Truncate the WAL into the database file (so the file stands alone), then close. */
export function checkpointAndClose(db: Connection): void {
  if (!db.open) return;
  try {
    if (!db.memory && !db.readonly) db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

/**
 * Settings of a read that touches each page once (a count, a streaming read with `keepInCache: false`):
 * no memory map, whose pages would stay resident in the process up to `mmap_size` (256 MB by default),
 * and SQLite's default page cache of 2 MB instead of the configured 64 MB.
 */
const ONE_PASS_PRAGMAS = [
  ["mmap_size", 0],
  ["cache_size", -2000],
] as const;

/**
 * Switch a connection to one-pass reading; returns what switches it back to its own settings. When they
 * cannot be put back (a statement of the connection is still running after a failure), the connection is
 * closed, and the pool drops it, rather than kept with other settings than the configured ones.
 */
export function readOnePass(db: Connection): () => void {
  if (db.memory) return () => undefined; // nothing to map, and an in-memory database lives in its page cache
  const saved = ONE_PASS_PRAGMAS.map(([name]) => [name, db.pragma(name, { simple: true })] as const);
  for (const [name, value] of ONE_PASS_PRAGMAS) db.pragma(`${name} = ${value}`);
  return () => {
    try {
      for (const [name, value] of saved) db.pragma(`${name} = ${Number(value)}`);
    } catch {
      db.close();
    }
  };
}

/** A plain connection to an existing file, for holding it against writers (no PRAGMA: it must not write). */
export function openHoldConnection(path: string): Connection {
  try {
    return new Database(path, { fileMustExist: true });
  } catch (error) {
    throw mapSqliteError(error, `Cannot open SQLite database ${path}`, { path });
  }
}

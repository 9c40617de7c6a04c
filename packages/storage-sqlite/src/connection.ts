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

import { ErrorCodes, MdmError } from "./errors.js";
import type { DatabaseHold } from "./hold.js";
import { quoteIdentifier } from "./names.js";
import { SQLITE_LIST_TABLES_SQL, mapSqliteError } from "./sqlite-types.js";

/** What the SQLite hold needs of a better-sqlite3 connection of its own. */
export interface SqliteHoldConnection {
  readonly open: boolean;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
  pragma(source: string, options: { simple: true }): unknown;
  prepare(sql: string): { pluck(toggle?: boolean): { all(): unknown[] } };
  close(): unknown;
}

/**
 * Hold a SQLite database against writers (both SQLite backends): `BEGIN IMMEDIATE` on a connection of
 * its own takes the write lock (WAL or rollback journal alike) and keeps it; readers go on, another
 * writer waits its busy timeout and fails with SQLITE_BUSY. `PRAGMA data_version` on the holding
 * connection changes when any other connection commits, so `changes()` can prove nobody did.
 * A writer active when the hold begins is waited for up to `busyTimeoutMs`, then MDM_LOCKED.
 */
export function sqliteHold(connection: SqliteHoldConnection, path: string, busyTimeoutMs: number): DatabaseHold {
  let version: unknown;
  try {
    connection.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`, { simple: true });
    connection.exec("BEGIN IMMEDIATE");
    version = connection.pragma("data_version", { simple: true });
  } catch (error) {
    connection.close();
    const mapped = mapSqliteError(error, `Cannot hold ${path} against writers`, { path });
    if (mapped.code === ErrorCodes.LOCKED) {
      throw new MdmError(ErrorCodes.LOCKED, `${path} is being written by another connection or process (waited ${busyTimeoutMs} ms); try again when it is done`, { cause: error, details: { path } });
    }
    throw mapped;
  }
  const end = () => {
    if (!connection.open) return;
    try {
      if (connection.inTransaction) connection.exec("ROLLBACK");
    } finally {
      connection.close();
    }
  };
  return {
    changes: async () => {
      if (!connection.open || !connection.inTransaction) return "the connection that held it is gone";
      return connection.pragma("data_version", { simple: true }) === version ? undefined : "another connection committed to it";
    },
    release: async () => end(),
    retire: async (remove) => {
      try {
        const tables = connection.prepare(SQLITE_LIST_TABLES_SQL).pluck(true).all() as string[];
        for (const table of tables) connection.exec(`DROP TABLE ${quoteIdentifier(table)}`);
        connection.exec("COMMIT");
      } catch (error) {
        end();
        throw mapSqliteError(error, `Cannot empty ${path} before removing it`, { path });
      }
      connection.close();
      await remove();
    },
  };
}

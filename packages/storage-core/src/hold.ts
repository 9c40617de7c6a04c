/**
 * Holding a dataset against writers while it is copied (a migration's source).
 *
 * A backend's `_holdDatabase` hook keeps every other writer (another connection, another process) out of
 * one database until it is released: SQLite by a write transaction on a connection of its own, DuckDB by
 * keeping the file open (DuckDB lets one process at a time open a file for writing), PostgreSQL by SHARE
 * locks on every table in a transaction of its own. Readers are never held out. While holding, the hook
 * can also tell whether the database was written anyway (the hold was lost, a table was created).
 */
export interface DatabaseHold {
  /** Why the database may have been written since the hold began; undefined when it was not. */
  changes(): Promise<string | undefined>;
  /**
   * End the hold (idempotent). `moved`: the dataset now lives elsewhere (a migration without removing the
   * source), so a writer still waiting for the hold must not write into this copy: PostgreSQL ends the
   * sessions waiting on its locks. (A SQLite writer waiting in its busy timeout cannot be stopped.)
   */
  release(options?: { moved?: boolean }): Promise<void>;
  /**
   * End the hold of a database that `remove` deletes, leaving no moment in which a writer that waited for
   * the hold could still commit into it: SQLite and PostgreSQL drop every table inside the held transaction
   * first (the waiting writer then fails), DuckDB removes the file while it still holds it open.
   */
  retire(remove: () => Promise<void>): Promise<void>;
}

/** A dataset held against writers (`IStorageBackend.holdDataset`). */
export interface DatasetHold {
  readonly dataset: string;
  /** Throws MDM_SOURCE_CHANGED when the dataset may have been written since the hold began. */
  assertUnchanged(): Promise<void>;
  /** Remove the dataset, then end the hold, with no window for a waiting writer (see DatabaseHold.retire). */
  dropDataset(): Promise<void>;
  /** End the hold (idempotent); waiting writers go on, unless `moved` (see DatabaseHold.release). */
  release(options?: { moved?: boolean }): Promise<void>;
}

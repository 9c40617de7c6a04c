import type { SqlitePragma } from "@mdm/storage-core";
import { backgroundCheckpointer, walBytes } from "./checkpointer.js";
import { checkpointAndClose, openCheckedConnection, type Connection } from "./connection.js";

/**
 * A WAL larger than this is checkpointed (in the background when it can be): 4 MiB, the size of
 * SQLite's own automatic checkpoint (1,000 pages of 4 KiB). A WAL reset after a checkpoint is cut
 * back to this size.
 */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * The connections of one database file. A session borrows one; a streaming read keeps its own
 * until it ends, so other operations never meet a connection that is busy iterating. WAL gives
 * every reader its snapshot while the (serialised) writer works on another connection.
 * `:memory:` has one connection: another one would be another database.
 */
export class ConnectionSet {
  readonly primary: Connection;
  /** In WAL mode, with checkpoints in the background (see checkpointLater). */
  readonly defersCheckpoints: boolean;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly closeOnRelease = new Set<Connection>();

  constructor(
    readonly path: string,
    private readonly pragmas: readonly SqlitePragma[],
    private readonly maxIdle: number,
    /** Checkpoint the WAL in a worker thread instead of inside the commit that fills it. */
    backgroundCheckpoints = true,
  ) {
    this.defersCheckpoints = backgroundCheckpoints && !this.memory && pragmas.some((p) => p.name === "journal_mode" && p.expected === "wal");
    this.primary = this.open();
    this.idle.push(this.primary);
  }

  get memory(): boolean {
    return this.path === ":memory:";
  }

  private open(): Connection {
    const db = openCheckedConnection(this.path, this.pragmas);
    if (this.defersCheckpoints) {
      // No checkpoint inside a commit: checkpointLater() hands it to the worker.
      db.pragma("wal_autocheckpoint = 0");
      db.pragma(`journal_size_limit = ${WAL_CHECKPOINT_BYTES}`);
    }
    this.all.add(db);
    return db;
  }

  /**
   * After an operation that wrote: a WAL grown past WAL_CHECKPOINT_BYTES is checkpointed by the worker, or here
   * when no worker can run. Its pages are already committed and visible to every reader; the
   * checkpoint copies them into the database file.
   */
  checkpointLater(): void {
    if (!this.defersCheckpoints || walBytes(this.path) <= WAL_CHECKPOINT_BYTES) return;
    if (!backgroundCheckpointer.schedule(this.path) && this.primary.open) this.primary.pragma("wal_checkpoint(PASSIVE)");
  }

  /** Wait for the file's background checkpoint, if one runs (before the file is closed, dropped or renamed). */
  settle(): Promise<void> {
    return backgroundCheckpointer.settle(this.path);
  }

  acquire(): Connection {
    if (this.memory) return this.primary;
    return this.idle.pop() ?? this.open();
  }

  release(db: Connection, failed: boolean): void {
    if (this.memory) {
      if (failed && db.open && db.inTransaction) db.exec("ROLLBACK");
      return;
    }
    if (this.closeOnRelease.delete(db) || !db.open) {
      this.all.delete(db);
      if (db.open) db.close();
      return;
    }
    if (db.inTransaction) {
      // Only a failure leaves a transaction open; the base class rolled it back if it could.
      try {
        db.exec("ROLLBACK");
      } catch {
        this.all.delete(db);
        db.close();
        return;
      }
    }
    if (this.idle.length < this.maxIdle || db === this.primary) this.idle.push(db);
    else {
      this.all.delete(db);
      db.close();
    }
  }

  /** Close every connection, the last one after a WAL checkpoint; one still iterating closes when released. */
  close(): void {
    let firstError: unknown;
    const others = [...this.all].filter((db) => db !== this.primary);
    for (const db of others) {
      try {
        db.close();
        this.all.delete(db);
      } catch {
        this.closeOnRelease.add(db); // busy iterating: closed when its read ends
      }
    }
    try {
      checkpointAndClose(this.primary);
      this.all.delete(this.primary);
    } catch (error) {
      firstError = error;
      this.closeOnRelease.add(this.primary);
    }
    this.idle.length = 0;
    if (firstError !== undefined) throw firstError;
  }
}

import type { SqlitePragma } from "@mdm/storage-core";
import { checkpointAndClose, openCheckedConnection, type Connection } from "./connection.js";

/**
 * The connections of one database file. A session borrows one; a streaming read keeps its own
 * until it ends, so other operations never meet a connection that is busy iterating. WAL gives
 * every reader its snapshot while the (serialised) writer works on another connection.
 * `:memory:` has one connection: another one would be another database.
 */
export class ConnectionSet {
  readonly primary: Connection;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly closeOnRelease = new Set<Connection>();

  constructor(
    readonly path: string,
    private readonly pragmas: readonly SqlitePragma[],
    private readonly maxIdle: number,
  ) {
    this.primary = this.open();
    this.idle.push(this.primary);
  }

  get memory(): boolean {
    return this.path === ":memory:";
  }

  private open(): Connection {
    const db = openCheckedConnection(this.path, this.pragmas);
    this.all.add(db);
    return db;
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

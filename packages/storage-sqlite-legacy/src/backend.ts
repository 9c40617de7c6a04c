import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import {
  FileStorageBackend,
  SQLITE_LIST_TABLES_SQL,
  SQLITE_TABLE_INFO_SQL,
  mapSqliteError,
  sqliteCapabilities,
  sqliteHold,
  sqliteColumnsFromTableInfo,
  sqliteCreateTableSql,
  sqliteFillParams,
  sqliteInsertSql,
  sqliteParam,
  sqlitePragmas,
  sqliteQueryResult,
  sqliteRowBatches,
  sqliteRowsPerInsert,
  sqliteSelect,
  sqliteValueChecker,
  sqliteWriters,
  type BackendCapabilities,
  type ColumnDef,
  type DatabaseHold,
  type FileBackendOptions,
  type MdmError,
  type QueryResult,
  type SelectPlan,
  type SqliteConfig,
  type SqlitePragma,
  type SqliteStoredValue,
  type Value,
} from "@mdm/storage-core";

type Connection = Database.Database;

export interface LegacySqliteBackendOptions extends FileBackendOptions {
  /** `database.sqlite` of mdm.yaml: the PRAGMAs applied to every connection (defaults in the README). */
  sqlite?: Partial<SqliteConfig>;
  /** Rows per INSERT statement before the bound-variable limit applies (pandas `chunksize`, default 10,000). */
  chunkSize?: number;
}


/**
 * Today's SQLite behaviour of MDM, on better-sqlite3: one cached connection (opening another
 * dataset closes the previous one), the configured PRAGMAs applied to every connection, data
 * written like pandas `to_sql(method="multi", chunksize=10000)` (multi-row INSERTs, never past
 * SQLite's bound-variable limit), plain reads, no metrics.
 */
export class LegacySqliteStorageBackend extends FileStorageBackend<Connection, Connection> {
  readonly backendType = "sqlite" as const;
  readonly implementation = "legacy" as const;
  // Writes are serialised: one connection, and two writes interleaved on it would nest BEGIN. Python
  // MDM was synchronous, so its writes never overlapped; serialising keeps that under async callers.
  readonly capabilities: BackendCapabilities = sqliteCapabilities({ metrics: false });
  protected readonly extension = "sqlite" as const;
  private readonly pragmas: SqlitePragma[];
  private readonly chunkSize: number;
  private readonly busyTimeoutMs: number;
  /** INSERT statements prepared per connection, by SQL text (Python's sqlite3 keeps such a cache too). */
  private readonly statements = new WeakMap<Connection, Map<string, Database.Statement>>();

  constructor(options: LegacySqliteBackendOptions = {}) {
    super({ ...options, maxOpenEngines: 1, metrics: false });
    this.pragmas = sqlitePragmas(options.sqlite);
    this.chunkSize = Math.max(1, Math.floor(options.chunkSize ?? 10_000));
    this.busyTimeoutMs = options.sqlite?.busy_timeout ?? 5000;
  }

  /** A plain connection of its own holds the write lock (see core's sqliteHold). */
  protected override async _holdDatabase(path: string): Promise<DatabaseHold> {
    let db: Connection;
    try {
      db = new Database(path, { fileMustExist: true });
    } catch (error) {
      throw mapSqliteError(error, `Cannot open SQLite database ${path}`, { path });
    }
    return sqliteHold(db, path, this.busyTimeoutMs);
  }

  /** A connection with the PRAGMAs applied (as Python MDM's connect listener did: set, not checked). */
  private connect(path: string): Connection {
    let db: Connection;
    try {
      db = new Database(path, { fileMustExist: path !== ":memory:" });
    } catch (error) {
      throw mapSqliteError(error, `Cannot open SQLite database ${path}`, { path });
    }
    try {
      db.defaultSafeIntegers(true);
      for (const pragma of this.pragmas) db.exec(pragma.sql);
    } catch (error) {
      db.close();
      throw mapSqliteError(error, `Cannot configure SQLite database ${path}`, { path });
    }
    return db;
  }

  protected async _openEngine(path: string): Promise<Connection> {
    const created = path !== ":memory:" && !existsSync(path);
    if (created) await this._createDatabase(path); // owner-only, before SQLite opens it
    try {
      return this.connect(path);
    } catch (error) {
      if (created) this.removeDatabaseFiles(path);
      throw error;
    }
  }

  /** Checkpoint the WAL into the file (a staging file is published without sidecars), then close. */
  protected async _closeEngine(db: Connection): Promise<void> {
    if (!db.open) return;
    try {
      if (!db.memory) db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  }

  protected async _acquire(db: Connection): Promise<Connection> {
    return db;
  }

  protected async _release(_engine: Connection, db: Connection, error?: unknown): Promise<void> {
    if (error !== undefined && db.open && db.inTransaction) db.exec("ROLLBACK");
  }

  protected _rawConnection(db: Connection): unknown {
    return db;
  }

  protected async _listTables(db: Connection): Promise<string[]> {
    return db.prepare(SQLITE_LIST_TABLES_SQL).pluck().all() as string[];
  }

  protected async _describeTable(db: Connection, table: string): Promise<ColumnDef[] | undefined> {
    return sqliteColumnsFromTableInfo(db.prepare(SQLITE_TABLE_INFO_SQL).all(table) as Array<Record<string, unknown>>);
  }

  protected async _createTable(db: Connection, table: string, columns: ColumnDef[]): Promise<void> {
    db.exec(sqliteCreateTableSql(table, columns));
  }

  /** pandas `to_sql(method="multi", chunksize=10000)`: one INSERT per chunk, the chunk cut to floor(32766 / columns) rows. */
  protected async _insertRows(db: Connection, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    let statements = this.statements.get(db);
    if (!statements) {
      statements = new Map();
      this.statements.set(db, statements);
    }
    const writers = sqliteWriters(columns);
    const perStatement = sqliteRowsPerInsert(columns.length, this.chunkSize);
    for (let i = 0; i < rows.length; i += perStatement) {
      const count = Math.min(perStatement, rows.length - i);
      const sql = sqliteInsertSql(table, columns, count);
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        statements.set(sql, stmt);
      }
      stmt.run(sqliteFillParams(rows, i, count, writers, new Array(count * columns.length)));
    }
  }

  /**
   * Plain reads: `SELECT ...` iterated row by row. A read runs on a connection of its own (closed
   * when the read ends), so the cached connection stays free for other calls while a stream is open.
   */
  protected async *_streamSelect(db: Connection, plan: SelectPlan): AsyncIterable<Value[][]> {
    const { sql, params } = sqliteSelect(plan);
    const reader = db.memory ? db : this.connect(db.name);
    try {
      const rows = reader.prepare(sql).raw(true).iterate(params) as IterableIterator<SqliteStoredValue[]>;
      yield* sqliteRowBatches(rows, plan.columns, plan.table, plan.batchSize);
    } finally {
      if (reader !== db) reader.close();
    }
  }

  protected async _query(db: Connection, sql: string, params: Value[], hints?: Array<ColumnDef | undefined>): Promise<QueryResult> {
    const stmt = db.prepare(sql);
    if (!stmt.reader) {
      stmt.run(params.map(sqliteParam));
      return { columns: [], rows: [] };
    }
    return sqliteQueryResult(stmt.columns(), stmt.raw(true).all(params.map(sqliteParam)) as SqliteStoredValue[][], hints);
  }

  protected async _execute(db: Connection, sql: string, params: Value[]): Promise<{ rowsAffected: number }> {
    if (params.length === 0) {
      // Like SQLAlchemy's execute of text(): a script of several statements runs as a whole.
      const before = db.prepare("SELECT total_changes()").pluck().get() as bigint;
      db.exec(sql);
      return { rowsAffected: Number((db.prepare("SELECT total_changes()").pluck().get() as bigint) - before) };
    }
    const stmt = db.prepare(sql);
    if (stmt.reader) {
      stmt.all(params.map(sqliteParam));
      return { rowsAffected: 0 };
    }
    return { rowsAffected: stmt.run(params.map(sqliteParam)).changes };
  }

  protected _placeholder(): string {
    return "?";
  }

  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    return sqliteValueChecker(column);
  }

  protected _mapError(error: unknown, context: string): MdmError {
    return mapSqliteError(error, context);
  }

}

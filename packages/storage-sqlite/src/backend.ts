import { existsSync } from "node:fs";
import {
  FileStorageBackend,
  SQLITE_LIST_TABLES_SQL,
  SQLITE_TABLE_INFO_SQL,
  mapSqliteError,
  sqliteCapabilities,
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
  sqliteCsvWriters,
  writeCsvFile,
  sqliteHold,
  type BackendCapabilities,
  type ColumnDef,
  type DatabaseHold,
  type FileBackendOptions,
  type FileFormat,
  type MdmError,
  type QueryResult,
  type SelectPlan,
  type SqliteBindValue,
  type SqliteConfig,
  type SqlitePragma,
  type SqliteStoredValue,
  type SpecialValue,
  type Value,
} from "@mdm/storage-core";
import { openHoldConnection, readOnePass, type Connection } from "./connection.js";
import { ConnectionSet } from "./engine.js";
import { keysetBatches, keysetStoredPages, readsWholeTable, rowidName } from "./keyset-reader.js";

/** Rows per keyset page of a CSV export. */
const CSV_PAGE_ROWS = 4096;

export interface SqliteBackendOptions extends FileBackendOptions {
  /** `database.sqlite` of mdm.yaml: PRAGMAs and busy_timeout (defaults in the README). */
  sqlite?: Partial<SqliteConfig>;
  /** Idle connections kept per database file (default 4). */
  maxIdleConnections?: number;
  /**
   * Rows bound per execution of the prepared INSERT (default 32, the fastest measured with
   * bench/write-read.mjs; 1 gives a single-row statement).
   */
  rowsPerStatement?: number;
  /**
   * Checkpoint the WAL in a worker thread, not inside the commit that filled it (default true; WAL
   * mode only). False leaves SQLite's automatic checkpoint of 1,000 pages, run inside the commit.
   */
  backgroundCheckpoints?: boolean;
}

/** Rows per prepared multi-row INSERT: the fastest exact bulk path measured (see README, "Bulk path"). */
export const DEFAULT_ROWS_PER_STATEMENT = 32;

/**
 * The new SQLite backend: the base class at work on better-sqlite3. Connections per database file
 * (every one configured and checked), WAL, a busy timeout, serialised writes in one IMMEDIATE
 * transaction per write through one reused prepared INSERT, WAL checkpoints in a worker thread, exact
 * 64-bit integers, streaming reads in keyset pages, metrics on every operation, `optimize()` and
 * `getDatabaseSize()`.
 */
export class SqliteStorageBackend extends FileStorageBackend<ConnectionSet, Connection> {
  readonly backendType = "sqlite" as const;
  readonly implementation = "new" as const;
  readonly capabilities: BackendCapabilities = sqliteCapabilities({ metrics: true });
  protected readonly extension = "sqlite" as const;
  private readonly filePragmas: SqlitePragma[];
  private readonly memoryPragmas: SqlitePragma[];
  private readonly maxIdle: number;
  private readonly rowsPerStatement: number;
  private readonly backgroundCheckpoints: boolean;
  private readonly busyTimeoutMs: number;
  /** Sessions that wrote since they were acquired: only those can have grown the WAL. */
  private readonly wrote = new WeakSet<Connection>();

  constructor(options: SqliteBackendOptions = {}) {
    super({ ...options, metrics: true });
    // Validated now: a bad value fails at construction with MDM_INVALID_CONFIG.
    this.filePragmas = sqlitePragmas(options.sqlite, { withBusyTimeout: true });
    this.memoryPragmas = sqlitePragmas(options.sqlite, { withBusyTimeout: true, memory: true });
    this.maxIdle = Math.max(1, options.maxIdleConnections ?? 4);
    this.rowsPerStatement = Math.max(1, Math.floor(options.rowsPerStatement ?? DEFAULT_ROWS_PER_STATEMENT));
    this.backgroundCheckpoints = options.backgroundCheckpoints ?? true;
    this.busyTimeoutMs = options.sqlite?.busy_timeout ?? 5000;
  }

  /** A connection of its own holds the write lock (see core's sqliteHold). */
  protected override async _holdDatabase(path: string): Promise<DatabaseHold> {
    return sqliteHold(openHoldConnection(path), path, this.busyTimeoutMs);
  }

  protected async _openEngine(path: string): Promise<ConnectionSet> {
    const created = path !== ":memory:" && !existsSync(path);
    // A new database file is created owner-only (0600) before SQLite opens it.
    if (created) await this._createDatabase(path);
    try {
      return new ConnectionSet(path, path === ":memory:" ? this.memoryPragmas : this.filePragmas, this.maxIdle, this.backgroundCheckpoints);
    } catch (error) {
      if (created) this.removeDatabaseFiles(path);
      throw error;
    }
  }

  /** After the file's background checkpoint, if one runs: then the last connection truncates the WAL. */
  protected async _closeEngine(engine: ConnectionSet): Promise<void> {
    await engine.settle();
    engine.close();
  }

  protected async _acquire(engine: ConnectionSet): Promise<Connection> {
    return engine.acquire();
  }

  protected async _release(engine: ConnectionSet, session: Connection, error?: unknown): Promise<void> {
    const wrote = this.wrote.delete(session);
    engine.release(session, error !== undefined);
    if (wrote) engine.checkpointLater();
  }

  protected _rawConnection(engine: ConnectionSet): unknown {
    return engine.primary;
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

  /**
   * The bulk path: one prepared INSERT of `rowsPerStatement` rows, executed again and again inside
   * the transaction the base class opened; the remainder goes through a single-row statement.
   */
  protected async _insertRows(db: Connection, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    const writers = sqliteWriters(columns);
    const k = sqliteRowsPerInsert(columns.length, this.rowsPerStatement);
    let i = 0;
    if (rows.length >= k && k > 1) {
      const many = db.prepare(sqliteInsertSql(table, columns, k));
      const flat: SqliteBindValue[] = new Array(k * columns.length);
      for (; i + k <= rows.length; i += k) many.run(sqliteFillParams(rows, i, k, writers, flat));
    }
    if (i < rows.length) {
      const one = db.prepare(sqliteInsertSql(table, columns, 1));
      const flat: SqliteBindValue[] = new Array(columns.length);
      for (; i < rows.length; i++) one.run(sqliteFillParams(rows, i, 1, writers, flat));
    }
  }

  /** A streaming read; with `keepInCache: false` on one-pass settings (no memory map, a 2 MB page cache). */
  protected async *_streamSelect(db: Connection, plan: SelectPlan): AsyncIterable<Value[][]> {
    const restore = plan.keepInCache ? undefined : readOnePass(db);
    try {
      // A whole table in keyset pages (one call into SQLite per batch); anything else in one statement.
      const key = readsWholeTable(plan) ? rowidName(db, plan.table) : undefined;
      if (key !== undefined) {
        yield* keysetBatches(db, plan, key);
        return;
      }
      const { sql, params } = sqliteSelect(plan);
      const rows = db.prepare(sql).raw(true).safeIntegers(true).iterate(params) as IterableIterator<SqliteStoredValue[]>;
      yield* sqliteRowBatches(rows, plan.columns, plan.table, plan.batchSize);
    } finally {
      restore?.();
    }
  }

  /**
   * CSV from the stored values, formatted without converting them first (core's sqliteCsvWriters), in
   * keyset pages on one-pass settings; a table that cannot be paged by rowid goes the base class's way.
   */
  protected override async _exportFile(db: Connection, table: string, columns: ColumnDef[], filePath: string, format: FileFormat): Promise<number> {
    const key = format === "csv" ? rowidName(db, table) : undefined;
    if (key === undefined) return super._exportFile(db, table, columns, filePath, format);
    const restore = readOnePass(db);
    try {
      const plan = { table, columns, orderBy: [], batchSize: CSV_PAGE_ROWS, keepInCache: false };
      return await writeCsvFile(filePath, columns, keysetStoredPages(db, plan, key), sqliteCsvWriters(columns, table));
    } finally {
      restore();
    }
  }

  /** A count or a NUL scan reads every page of the table once: on one-pass settings, so it does not map the file. */
  protected override async _readingOnce<T>(db: Connection, read: () => Promise<T>): Promise<T> {
    const restore = readOnePass(db);
    try {
      return await read();
    } finally {
      restore();
    }
  }

  protected async _query(db: Connection, sql: string, params: Value[], hints?: Array<ColumnDef | undefined>): Promise<QueryResult> {
    const stmt = db.prepare(sql);
    const binds = params.map(sqliteParam);
    if (!stmt.reader) {
      this.wrote.add(db);
      stmt.run(binds);
      return { columns: [], rows: [] };
    }
    stmt.raw(true).safeIntegers(true);
    return sqliteQueryResult(stmt.columns(), stmt.all(binds) as SqliteStoredValue[][], hints);
  }

  protected async _execute(db: Connection, sql: string, params: Value[]): Promise<{ rowsAffected: number }> {
    this.wrote.add(db);
    const binds = params.map(sqliteParam);
    let stmt;
    try {
      stmt = db.prepare(sql);
    } catch (error) {
      // A script of several statements (no parameters): run it as a whole.
      if (binds.length > 0 || !/more than one statement/.test((error as Error).message)) throw error;
      db.exec(sql);
      return { rowsAffected: 0 };
    }
    if (stmt.reader) {
      stmt.all(binds);
      return { rowsAffected: 0 };
    }
    return { rowsAffected: stmt.run(binds).changes };
  }

  protected _placeholder(): string {
    return "?";
  }

  /** Take the write lock at BEGIN: another process writing makes this wait (busy_timeout), never deadlock mid-transaction. */
  protected override async _begin(db: Connection): Promise<void> {
    this.wrote.add(db);
    db.exec("BEGIN IMMEDIATE");
  }

  protected override async _commit(db: Connection): Promise<void> {
    db.exec("COMMIT");
  }

  protected override async _rollback(db: Connection): Promise<void> {
    if (db.inTransaction) db.exec("ROLLBACK");
  }

  /**
   * A NUL: the text's bytes hold a zero byte (SQLite keeps text with NULs whole; `instr` on the text
   * would stop at the NUL). An infinity: ±9e999 is how SQLite spells it. NaN and -0.0 it does not hold.
   */
  protected override _containsSql(column: string, kind: SpecialValue): string | undefined {
    if (kind === "nulInText") return `instr(CAST(${column} AS BLOB), x'00') > 0`;
    if (kind === "infinity") return `${column} IN (9e999, -9e999)`;
    return undefined;
  }

  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    return sqliteValueChecker(column);
  }

  /** VACUUM, ANALYZE, then PRAGMA optimize (outside any transaction, writes held back). */
  protected override async _optimize(db: Connection): Promise<void> {
    this.wrote.add(db);
    db.exec("VACUUM");
    db.exec("ANALYZE");
    db.pragma("optimize");
  }

  protected _mapError(error: unknown, context: string): MdmError {
    return mapSqliteError(error, context);
  }
}

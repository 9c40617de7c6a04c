import { ErrorCodes, MdmError, isMdmError, toMdmError, type ErrorCode } from "./errors.js";
import { BACKEND_BRAND, type BatchSource, type IStorageBackend } from "./interface.js";
import { TableChecksum } from "./checksum.js";
import { MetricsCollector, type MetricSummary } from "./metrics.js";
import { METADATA_TABLE, isSystemTable, normalizeDatasetName, quoteIdentifier, validateIdentifier } from "./names.js";
import { toColumnsAndRows, toDataFrame } from "./dataframe.js";
import type {
  BackendCapabilities,
  BackendType,
  ChecksumOptions,
  ColumnAnalysis,
  ColumnDef,
  CreateDatasetOptions,
  DataFrame,
  DataFrameInput,
  FileFormat,
  IfExists,
  Implementation,
  ListTablesOptions,
  Metadata,
  QueryResult,
  ReadOptions,
  RowBatch,
  SpecialValue,
  StorageEngine,
  StreamReadOptions,
  StreamWriteOptions,
  TableInfo,
  Value,
  WriteOptions,
} from "./types.js";
import { FILE_FORMATS, SPECIAL_VALUE_TYPES } from "./types.js";
import { columnNormalizer, type ValueNormalizer } from "./values.js";
import { writeCsvFile } from "./csv-writer.js";
import { writeThenRename } from "./durable-file.js";
import type { DatabaseHold, DatasetHold } from "./hold.js";

/** A FIFO lock: one holder at a time, in call order. */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

interface EngineEntry<TEngine> {
  handle: StorageEngine;
  engine: TEngine;
  writeLock: AsyncMutex;
  lastUsed: number;
}

/** Add every row of `batches` to `checksum`, stopping with MDM_ABORTED when `signal` is aborted (`_checksumRows`' default). */
export async function checksumBatches(checksum: TableChecksum, batches: AsyncIterable<Value[][]>, signal?: AbortSignal): Promise<void> {
  for await (const batch of batches) {
    if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
    checksum.addAll(batch);
  }
}

/** A read of one table, planned by the base class; SQL backends turn it into SQL with `selectSql()`. */
export interface SelectPlan {
  table: string;
  /** Columns to return, in this order. */
  columns: ColumnDef[];
  /** Equality on columns (values normalised), or raw SQL (trusted, like `query()`). */
  where?: { equals: Array<[ColumnDef, Value]> } | { sql: string };
  orderBy: ColumnDef[];
  limit?: number;
  batchSize: number;
  /** False when the caller reads the rows once (`StreamReadOptions.keepInCache`). */
  keepInCache: boolean;
}

/** SQL text and parameters of a SelectPlan. */
export function selectSql(plan: SelectPlan, placeholder: (index: number) => string): { sql: string; params: Value[] } {
  const params: Value[] = [];
  let sql = `SELECT ${plan.columns.map((c) => quoteIdentifier(c.name)).join(", ")} FROM ${quoteIdentifier(plan.table)}`;
  if (plan.where && "sql" in plan.where) {
    sql += ` WHERE ${plan.where.sql}`;
  } else if (plan.where && plan.where.equals.length > 0) {
    const parts = plan.where.equals.map(([column, value]) => {
      if (value === null) return `${quoteIdentifier(column.name)} IS NULL`;
      params.push(value);
      return `${quoteIdentifier(column.name)} = ${placeholder(params.length - 1)}`;
    });
    sql += ` WHERE ${parts.join(" AND ")}`;
  }
  if (plan.orderBy.length > 0) sql += ` ORDER BY ${plan.orderBy.map((c) => quoteIdentifier(c.name)).join(", ")}`;
  if (plan.limit !== undefined) sql += ` LIMIT ${plan.limit}`;
  return { sql, params };
}

export interface BaseBackendOptions {
  /** How many database engines stay open at once (least recently used closed first). Default unlimited. */
  maxOpenEngines?: number;
  /** Record metrics on every operation (the new implementations). */
  metrics?: boolean;
  /** Values that must never appear in an error message (passwords). */
  secrets?: () => ReadonlyArray<string | undefined | null>;
}

let nextEngineId = 1;

/**
 * Write locks are per database and process-wide, not per backend instance: two instances on one SQLite
 * file in one process would otherwise interleave their transactions across awaits, and the second
 * writer's busy wait (which blocks the event loop) would stall the first until SQLITE_BUSY.
 */
const WRITE_LOCKS = new Map<string, AsyncMutex>();

function writeLockFor(backendType: string, database: string): AsyncMutex {
  const key = `${backendType}\u0000${database}`;
  let lock = WRITE_LOCKS.get(key);
  if (!lock) {
    lock = new AsyncMutex();
    WRITE_LOCKS.set(key, lock);
  }
  return lock;
}

/**
 * Rows per batch of readBatches when none is asked: DuckDB's vector size. Batches of 10,000 rows live
 * long enough to be promoted out of V8's young generation, and the old-generation collections that
 * follow dominated streaming reads: 1M rows read from DuckDB in 0.79 s with 2,048-row batches against
 * 2.17 s with 10,000, from PostgreSQL 0.93 s against 1.59 s (best of 5, see the core README).
 */
export const DEFAULT_BATCH_SIZE = 2048;

/**
 * The base class of every backend ("new storage backend" in the original). It implements every
 * public method of IStorageBackend: argument validation, closed state, the engine cache, write
 * serialisation, metrics, error wrapping, metadata, dataset operations and streaming. A backend
 * overrides the protected `_hooks` only.
 *
 * TEngine is what the backend keeps per database (a connection, a pool); TSession is what one
 * operation uses (the same connection, or a pool client).
 */
export abstract class BaseStorageBackend<TEngine, TSession> implements IStorageBackend {
  abstract readonly backendType: BackendType;
  abstract readonly implementation: Implementation;
  abstract readonly capabilities: BackendCapabilities;

  protected readonly metrics = new MetricsCollector();
  private readonly engines = new Map<string, EngineEntry<TEngine>>();
  /** Datasets that live where their registry entry says, not where their name puts them (`placeDataset`). */
  private readonly placed = new Map<string, string>();
  /** checkValue's checker per column object (rebuilt if the object's type, precision or scale changed). */
  private readonly valueChecks = new WeakMap<ColumnDef, { type: ColumnDef["type"]; precision?: number; scale?: number; write: ValueNormalizer }>();
  private readonly opening = new Map<string, Promise<EngineEntry<TEngine>>>();
  private defaultDatabase: string | undefined;
  private isClosed = false;
  private initialized: Promise<void> | undefined;
  private readonly baseOptions: BaseBackendOptions;

  protected constructor(options: BaseBackendOptions = {}) {
    this.baseOptions = options;
    Object.defineProperty(this, BACKEND_BRAND, { value: true, enumerable: false });
  }

  // =============================================================================================
  // Hooks: what a backend implements.

  /** Where a (normalised) dataset lives: a file path, a database or a schema name. */
  protected abstract _resolveDatabasePath(datasetName: string): string;
  /** Validate and normalise a database path given by a caller (absolute file path, quoted-safe name). */
  protected abstract _normalizeDatabasePath(databasePath: string): string;
  protected abstract _databaseExists(databasePath: string): Promise<boolean>;
  protected abstract _createDatabase(databasePath: string): Promise<void>;
  /** Called after the base class closed the engine of this database. */
  protected abstract _dropDatabase(databasePath: string): Promise<void>;
  /** Names of the datasets this backend holds (unvalidated; the base class filters them). */
  protected abstract _listDatasetNames(): Promise<string[]>;
  protected abstract _openEngine(databasePath: string): Promise<TEngine>;
  protected abstract _closeEngine(engine: TEngine): Promise<void>;
  protected abstract _acquire(engine: TEngine): Promise<TSession>;
  protected abstract _release(engine: TEngine, session: TSession, error?: unknown): Promise<void>;
  protected abstract _rawConnection(engine: TEngine): unknown;
  /** Table names of the database, system tables included. */
  protected abstract _listTables(session: TSession): Promise<string[]>;
  /** Columns with logical types, or undefined when the table does not exist. */
  protected abstract _describeTable(session: TSession, table: string): Promise<ColumnDef[] | undefined>;
  protected abstract _createTable(session: TSession, table: string, columns: ColumnDef[]): Promise<void>;
  /** The bulk write path: rows already normalised and checked, in the order of `columns`. */
  protected abstract _insertRows(session: TSession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void>;

  /**
   * The bulk write path for a stream of batches (one transaction, or one segment between commits).
   * By default each batch goes to `_insertRows`; a backend whose engine can take the whole stream at
   * once (PostgreSQL: one COPY, so the server works while the next batch is produced) overrides this.
   * It must consume every batch. A backend that overrides it can implement `_insertRows` as
   * `_insertBatches` of `[rows]`.
   */
  protected async _insertBatches(session: TSession, table: string, columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): Promise<void> {
    for await (const rows of batches) await this._insertRows(session, table, columns, rows);
  }
  /**
   * Add every row of a planned whole-table read to `checksum` (for `tableChecksum`). By default the
   * rows of `_streamSelect`, as `readBatches` returns them. A backend that can hash rows from its
   * engine's wire format without building the values overrides it; the conformance suite checks that
   * its result equals `TableChecksum.add` of the rows `readBatches` returns.
   */
  protected _checksumRows(session: TSession, plan: SelectPlan, checksum: TableChecksum, signal?: AbortSignal): Promise<void> {
    return checksumBatches(checksum, this._streamSelect(session, plan, signal), signal);
  }
  /** Stream the rows of a planned read, typed by `plan.columns`, in batches of `plan.batchSize`. SQL backends use `selectSql(plan, ...)`. */
  protected abstract _streamSelect(session: TSession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]>;
  /** Run SQL that returns rows; `hints` give the logical type of result columns where known. */
  protected abstract _query(session: TSession, sql: string, params: Value[], hints?: Array<ColumnDef | undefined>): Promise<QueryResult>;
  /** Run SQL that changes something. */
  protected abstract _execute(session: TSession, sql: string, params: Value[]): Promise<{ rowsAffected: number }>;
  /** Placeholder for the i-th (0-based) parameter: `?` or `$1`. */
  protected abstract _placeholder(index: number): string;
  /** Turn a driver error into an MdmError with a stable code (without secrets). */
  protected abstract _mapError(error: unknown, context: string): MdmError;

  /**
   * Run a statement that reads a whole table once (`getTableInfo`'s count, `columnsContain`'s
   * query), on settings for that; by default as any other. SQLite turns its memory map off for it.
   */
  protected _readingOnce<T>(_session: TSession, read: () => Promise<T>): Promise<T> {
    return read();
  }

  /**
   * SQL that is true for a value of the column (a quoted identifier) that is a special value of `kind`,
   * for `columnsContain`; undefined (the default) when the engine cannot say. Asked only for kinds the
   * backend holds (`capabilities.values[kind]`).
   */
  protected _containsSql(_column: string, _kind: SpecialValue): string | undefined {
    return undefined;
  }

  /** A checker for values this backend cannot hold in such a column, or undefined when all fit. */
  protected _valueChecker(_column: ColumnDef): ((value: Value) => void) | undefined {
    return undefined;
  }

  protected async _init(): Promise<void> {}

  protected async _countRows(session: TSession, table: string): Promise<number> {
    const result = await this._query(session, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(table)}`, [], [{ name: "n", type: "int64" }]);
    return Number(result.rows[0]?.[0] ?? 0);
  }

  /** Key and JSON text of every metadata entry, or undefined when there is no `_metadata` table. */
  protected async _readMetadata(session: TSession): Promise<Array<[string, Value]> | undefined> {
    if (!(await this._describeTable(session, METADATA_TABLE))) return undefined;
    const text = { name: "v", type: "text" } as const;
    const result = await this._query(session, `SELECT "key", "value" FROM ${quoteIdentifier(METADATA_TABLE)}`, [], [text, text]);
    return result.rows.filter((r) => typeof r[0] === "string").map((r) => [r[0] as string, r[1] as Value]);
  }

  /** Upsert metadata entries (key, JSON text) inside the caller's transaction. */
  protected async _writeMetadata(session: TSession, entries: ReadonlyArray<readonly [string, string]>, updatedAt: string): Promise<void> {
    if (!(await this._describeTable(session, METADATA_TABLE))) {
      await this._createTable(session, METADATA_TABLE, METADATA_COLUMNS);
    }
    const t = quoteIdentifier(METADATA_TABLE);
    for (const [key, text] of entries) {
      await this._execute(session, `DELETE FROM ${t} WHERE "key" = ${this._placeholder(0)}`, [key]);
      await this._execute(session, `INSERT INTO ${t} ("key", "value", "updated_at") VALUES (${this._placeholder(0)}, ${this._placeholder(1)}, ${this._placeholder(2)})`, [key, text, updatedAt]);
    }
  }

  /** COUNT, COUNT(col), COUNT(DISTINCT col), MIN, MAX and the first two moments of numeric columns. */
  protected async _columnStats(session: TSession, table: string, column: ColumnDef): Promise<{ total: number; nonNull: number; unique: number; min: Value; max: Value; m1: number | null; m2: number | null }> {
    const c = quoteIdentifier(column.name);
    const t = quoteIdentifier(table);
    const numeric = column.type === "int64" || column.type === "float64" || column.type === "decimal";
    const comparable = column.type !== "blob" && column.type !== "json";
    const count = { name: "n", type: "int64" } as const;
    const stats = await this._query(
      session,
      `SELECT COUNT(*), COUNT(${c}), COUNT(DISTINCT ${c})${comparable ? `, MIN(${c}), MAX(${c})` : ""} FROM ${t}`,
      [],
      [count, count, count, ...(comparable ? [column, column] : [])],
    );
    const row = stats.rows[0] ?? [];
    let m1: number | null = null;
    let m2: number | null = null;
    if (numeric && Number(row[1] ?? 0) > 0) {
      const f = { name: "f", type: "float64" } as const;
      const moments = await this._query(session, `SELECT AVG(${c} * 1.0), AVG(${c} * 1.0 * ${c}) FROM ${t} WHERE ${c} IS NOT NULL`, [], [f, f]);
      m1 = Number(moments.rows[0]?.[0]);
      m2 = Number(moments.rows[0]?.[1]);
    }
    return {
      total: Number(row[0] ?? 0),
      nonNull: Number(row[1] ?? 0),
      unique: Number(row[2] ?? 0),
      min: comparable ? (row[3] ?? null) : null,
      max: comparable ? (row[4] ?? null) : null,
      m1,
      m2,
    };
  }

  protected async _dropTable(session: TSession, table: string): Promise<void> {
    await this._execute(session, `DROP TABLE ${quoteIdentifier(table)}`, []);
  }

  protected async _begin(session: TSession): Promise<void> {
    await this._execute(session, "BEGIN", []);
  }

  protected async _commit(session: TSession): Promise<void> {
    await this._execute(session, "COMMIT", []);
  }

  protected async _rollback(session: TSession): Promise<void> {
    await this._execute(session, "ROLLBACK", []);
  }

  protected async _optimize(_session: TSession, _engine: TEngine): Promise<void> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no optimize()`);
  }

  protected async _databaseSize(_engine: TEngine, _databasePath: string): Promise<number> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} cannot report its size`);
  }

  protected async _importFile(_session: TSession, _table: string, _filePath: string, _format: FileFormat, _ifExists: IfExists): Promise<number> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no native file import`);
  }

  /**
   * Write a table to a new file at `filePath` (the base class renames it onto the caller's name when
   * this returns); the rows written. Here: CSV through `writeCsvFile` from `_streamSelect`; a backend
   * whose engine writes files overrides it (and declares its formats in `capabilities.fileImportExport`).
   */
  protected async _exportFile(session: TSession, table: string, _columns: ColumnDef[], filePath: string, format: FileFormat): Promise<number> {
    if (format !== "csv") throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no native ${format} export`);
    const plan = await this.selectPlan(session, table, { keepInCache: false });
    return writeCsvFile(filePath, plan.columns, this._streamSelect(session, plan));
  }

  protected _stagingPath(_datasetName: string, _runId: string): string {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no staging`);
  }

  protected async _listStagingPaths(_datasetName: string): Promise<string[]> {
    return [];
  }

  /** Move a staging database onto the dataset's path; the base class closed both engines first. */
  protected async _publishStaging(_stagingPath: string, _finalPath: string, _replace: boolean): Promise<void> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no staging`);
  }

  /** Keep other writers out of one existing database until released (see hold.ts). */
  protected async _holdDatabase(_databasePath: string): Promise<DatabaseHold> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} cannot hold a dataset against writers`);
  }

  // =============================================================================================
  // Plumbing shared by the public methods.

  protected describe(): string {
    return `${this.backendType} (${this.implementation})`;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  protected secrets(): ReadonlyArray<string | undefined | null> {
    return this.baseOptions.secrets?.() ?? [];
  }

  /** Every public method runs through here: closed check, init, metrics, error mapping. */
  protected async run<T>(operation: string, fn: () => Promise<T>, tags: Record<string, string> = {}, rowsOf?: (r: T) => number): Promise<T> {
    if (this.isClosed) {
      throw new MdmError(ErrorCodes.CLOSED, `The ${this.describe()} backend is closed`);
    }
    const body = async (): Promise<T> => {
      try {
        await this.init();
        return await fn();
      } catch (error) {
        throw this.wrapError(error, operation);
      }
    };
    if (!this.capabilities.metrics) return body();
    return this.metrics.time(
      `storage.${operation}`,
      { backend: this.backendType, implementation: this.implementation, ...tags },
      body,
      rowsOf,
    );
  }

  protected wrapError(error: unknown, context: string): MdmError {
    if (isMdmError(error)) return error;
    try {
      const mapped = this._mapError(error, context);
      return mapped;
    } catch {
      return toMdmError(error, ErrorCodes.INTERNAL, context, { secrets: this.secrets() });
    }
  }

  private engineEntryFor(handle: StorageEngine | undefined): Promise<EngineEntry<TEngine>> {
    if (handle === undefined) {
      if (this.defaultDatabase === undefined) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "No engine available: call getEngine() first or pass an engine");
      }
      return this.openExistingEngine(this.defaultDatabase);
    }
    if (typeof handle !== "object" || handle === null || typeof handle.database !== "string" || handle.backendType !== this.backendType) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not an engine of this ${this.backendType} backend`);
    }
    return this.openExistingEngine(handle.database);
  }

  /** Reopen the engine of a handle only while its database exists: a stale handle must not re-create a dropped dataset. */
  private async openExistingEngine(database: string): Promise<EngineEntry<TEngine>> {
    if (!this.engines.has(database) && !this.opening.has(database) && !(await this._databaseExists(database))) {
      throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Database ${JSON.stringify(database)} does not exist (it was dropped?)`, { details: { database } });
    }
    return this.openEngine(database);
  }

  private async openEngine(database: string): Promise<EngineEntry<TEngine>> {
    const cached = this.engines.get(database);
    if (cached) {
      cached.lastUsed = performance.now();
      return cached;
    }
    const pending = this.opening.get(database);
    if (pending) return pending;
    const promise = (async () => {
      const engine = await this._openEngine(database);
      const entry: EngineEntry<TEngine> = {
        handle: Object.freeze({ backendType: this.backendType, database, id: nextEngineId++ }),
        engine,
        writeLock: writeLockFor(this.backendType, database),
        lastUsed: performance.now(),
      };
      this.engines.set(database, entry);
      await this.evictEngines(database);
      return entry;
    })();
    this.opening.set(database, promise);
    try {
      return await promise;
    } finally {
      this.opening.delete(database);
    }
  }

  private async evictEngines(keep: string): Promise<void> {
    const max = this.baseOptions.maxOpenEngines;
    if (max === undefined) return;
    while (this.engines.size > max) {
      let oldest: EngineEntry<TEngine> | undefined;
      for (const entry of this.engines.values()) {
        if (entry.handle.database === keep) continue;
        if (!oldest || entry.lastUsed < oldest.lastUsed) oldest = entry;
      }
      if (!oldest) return;
      await this.closeEngineEntry(oldest);
    }
  }

  private async closeEngineEntry(entry: EngineEntry<TEngine>): Promise<void> {
    this.engines.delete(entry.handle.database);
    // Let running writes finish before the engine goes away.
    await entry.writeLock.run(async () => this._closeEngine(entry.engine));
  }

  /** Close the engine of one database if it is open (before a drop, a rename, a publish). */
  protected async closeEngineOf(database: string): Promise<void> {
    const pending = this.opening.get(database);
    if (pending) await pending.catch(() => undefined);
    const entry = this.engines.get(database);
    if (entry) await this.closeEngineEntry(entry);
  }

  /**
   * Close the engine of a database that is about to be dropped. A close that fails (SQLite's checkpoint
   * on a full disk, an engine a fatal error invalidated) must not keep the files: the engine is out of the
   * cache either way, and the drop removes what it left (a drop that still fails says why itself).
   */
  private async closeBeforeDrop(database: string): Promise<void> {
    await this.closeEngineOf(database).catch(() => undefined);
  }

  protected async withSession<T>(entry: EngineEntry<TEngine>, fn: (session: TSession) => Promise<T>): Promise<T> {
    const session = await this._acquire(entry.engine);
    let failure: unknown;
    try {
      return await fn(session);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this._release(entry.engine, session, failure);
    }
  }

  /** Run fn inside one transaction on one session, serialised with other writes when the engine needs it. */
  protected async withWrite<T>(entry: EngineEntry<TEngine>, fn: (session: TSession) => Promise<T>, transactional = true): Promise<T> {
    const work = () =>
      this.withSession(entry, async (session) => {
        if (!transactional) return fn(session);
        await this._begin(session);
        try {
          const result = await fn(session);
          await this._commit(session);
          return result;
        } catch (error) {
          try {
            await this._rollback(session);
          } catch {
            // The original error matters more than a failed rollback (the connection may be gone).
          }
          throw error;
        }
      });
    return this.capabilities.serializedWrites ? entry.writeLock.run(work) : work();
  }

  private async requireColumns(session: TSession, table: string): Promise<ColumnDef[]> {
    const columns = await this._describeTable(session, table);
    if (!columns) {
      throw new MdmError(ErrorCodes.TABLE_NOT_FOUND, `Table ${JSON.stringify(table)} does not exist`, { details: { table } });
    }
    return columns;
  }

  private datasetPath(datasetName: string): { name: string; path: string } {
    const name = normalizeDatasetName(datasetName);
    return { name, path: this.placed.get(name) ?? this._resolveDatabasePath(name) };
  }

  private async datasetEntry(datasetName: string): Promise<EngineEntry<TEngine>> {
    const { name, path } = this.datasetPath(datasetName);
    if (!this.engines.has(path) && !(await this._databaseExists(path))) {
      throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Dataset ${JSON.stringify(name)} does not exist in ${this.backendType}`, {
        details: { dataset: name, backend: this.backendType },
      });
    }
    return this.openEngine(path);
  }

  /** Per-column normalisers that also apply the backend's own limits. */
  private writersFor(columns: ColumnDef[]): ValueNormalizer[] {
    return columns.map((column) => this.writerFor(column));
  }

  /** A column's normaliser that also applies the backend's own limits. */
  private writerFor(column: ColumnDef): ValueNormalizer {
    const normalize = columnNormalizer(column);
    const check = this._valueChecker(column);
    if (!check) return normalize;
    return (value: unknown) => {
      const v = normalize(value);
      if (v !== null) check(v);
      return v;
    };
  }

  /** `inPlace`: each row array is normalised where it is (it belongs to the write), else into a new one. */
  private normalizeRows(columns: ColumnDef[], writers: ValueNormalizer[], rows: readonly (readonly unknown[])[], table: string, offset: number, inPlace: boolean): Value[][] {
    const out: Value[][] = new Array(rows.length);
    const width = columns.length;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as readonly unknown[];
      if (row.length !== width) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Row ${offset + r} of table ${JSON.stringify(table)} has ${row.length} values for ${width} columns`);
      }
      const normalized: Value[] = inPlace ? (row as Value[]) : new Array(width);
      for (let c = 0; c < width; c++) {
        try {
          normalized[c] = (writers[c] as ValueNormalizer)(row[c]);
        } catch (error) {
          if (isMdmError(error)) {
            throw new MdmError(error.code, `Table ${JSON.stringify(table)}, row ${offset + r}: ${error.message}`, {
              cause: error,
              details: { ...error.details, table, row: offset + r },
            });
          }
          throw error;
        }
      }
      out[r] = normalized;
    }
    return out;
  }

  private validateColumns(columns: ColumnDef[]): ColumnDef[] {
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A table needs at least one column");
    }
    const seen = new Set<string>();
    for (const column of columns) {
      validateIdentifier(column.name, "column");
      const folded = column.name.toLowerCase();
      if (seen.has(folded)) {
        throw new MdmError(ErrorCodes.INVALID_NAME, `Column ${JSON.stringify(column.name)} appears twice (names are compared without case)`);
      }
      seen.add(folded);
      columnNormalizer(column); // throws on an unknown type
    }
    return columns;
  }

  /**
   * The one write path: create/replace/append the table, then stream normalised batches into the
   * bulk hook, all in one transaction.
   */
  private async writeInto(
    entry: EngineEntry<TEngine>,
    table: string,
    columns: ColumnDef[],
    source: BatchSource,
    ifExists: IfExists,
    { signal, onBatch, commitEveryRows, handOverRows = false }: StreamWriteOptions = {},
  ): Promise<number> {
    validateIdentifier(table, "table");
    if (commitEveryRows !== undefined && !(Number.isSafeInteger(commitEveryRows) && commitEveryRows > 0)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `commitEveryRows must be a positive integer, got ${String(commitEveryRows)}`);
    }
    if (!["fail", "replace", "append"].includes(ifExists)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `ifExists must be "fail", "replace" or "append", got ${JSON.stringify(ifExists)}`);
    }
    this.validateColumns(columns);
    return this.withWrite(entry, async (session) => {
      let target = columns;
      const existing = await this._describeTable(session, table);
      if (existing) {
        if (ifExists === "fail") {
          throw new MdmError(ErrorCodes.TABLE_EXISTS, `Table ${JSON.stringify(table)} already exists`, { details: { table } });
        }
        if (ifExists === "replace") {
          await this._dropTable(session, table);
          await this._createTable(session, table, columns);
        } else {
          target = alignColumns(table, existing, columns);
        }
      } else {
        await this._createTable(session, table, columns);
      }
      const writers = this.writersFor(target);
      const order = target === columns ? undefined : target.map((t) => columns.findIndex((c) => c.name.toLowerCase() === t.name.toLowerCase()));
      let written = 0;
      const self = this;
      /** The source's non-empty batches, reordered, normalised and checked; progress reported as each is taken. */
      async function* normalized(): AsyncGenerator<Value[][]> {
        for await (const item of source as AsyncIterable<Value[][] | RowBatch>) {
          if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The write was aborted");
          const raw = Array.isArray(item) ? item : item.rows;
          if (raw.length === 0) continue;
          const reordered = order
            ? raw.map((row, r) => {
                // Check the width before reordering: a short row must not be padded with NULLs.
                if (row.length !== columns.length) {
                  throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Row ${written + r} of table ${JSON.stringify(table)} has ${row.length} values for ${columns.length} columns`);
                }
                return order.map((i) => row[i] as Value);
              })
            : raw;
          // Reordered rows are fresh arrays already: normalised in place like handed-over ones.
          const rows = self.normalizeRows(target, writers, reordered, table, written, handOverRows || order !== undefined);
          yield rows;
          written += rows.length;
          onBatch?.(written);
        }
      }
      // Segments of at least commitEveryRows rows (one segment without it), each handed to the bulk
      // hook as a stream and committed when another follows.
      const batches = normalized();
      let exhausted = false;
      try {
        while (!exhausted) {
          let inSegment = 0;
          const segment = (async function* (): AsyncGenerator<Value[][]> {
            while (commitEveryRows === undefined || inSegment < commitEveryRows) {
              const next = await batches.next();
              if (next.done) {
                exhausted = true;
                return;
              }
              inSegment += next.value.length;
              yield next.value;
            }
          })();
          await this._insertBatches(session, table, target, segment);
          // A hook that stopped early must not lose rows silently.
          if (!exhausted && (commitEveryRows === undefined || inSegment < commitEveryRows)) {
            throw new MdmError(ErrorCodes.INTERNAL, `${this.describe()}: _insertBatches returned before the end of its batches`);
          }
          if (!exhausted) {
            await this._commit(session);
            await this._begin(session);
          }
        }
      } finally {
        // On failure, end the source too (an open read of another backend must be released).
        if (!exhausted) await batches.return(undefined);
      }
      // Aborted before the first batch or during the last one: roll back rather than commit.
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The write was aborted");
      return written;
    });
  }

  private async selectPlan(session: TSession, table: string, options: { columns?: string[]; where?: string | Record<string, Value>; limit?: number; orderBy?: string[]; batchSize?: number; keepInCache?: boolean }): Promise<SelectPlan> {
    validateIdentifier(table, "table");
    const all = await this.requireColumns(session, table);
    const pick = (name: string): ColumnDef => {
      const found = all.find((c) => c.name === name) ?? all.find((c) => c.name.toLowerCase() === String(name).toLowerCase());
      if (!found) {
        throw new MdmError(ErrorCodes.COLUMN_NOT_FOUND, `Table ${JSON.stringify(table)} has no column ${JSON.stringify(name)}`, {
          details: { table, column: name },
        });
      }
      return found;
    };
    const columns = options.columns ? options.columns.map(pick) : all;
    if (columns.length === 0) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "Select at least one column");
    let where: SelectPlan["where"];
    if (typeof options.where === "string") {
      if (options.where.trim() !== "") where = { sql: options.where };
    } else if (options.where && typeof options.where === "object") {
      where = {
        equals: Object.entries(options.where).map(([name, value]) => {
          const column = pick(name);
          return [column, value === null ? null : columnNormalizer(column)(value)] as [ColumnDef, Value];
        }),
      };
    }
    if (options.limit !== undefined && options.limit !== null && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `limit must be a non-negative integer, got ${options.limit}`);
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `batchSize must be a positive integer, got ${batchSize}`);
    }
    return {
      table,
      columns,
      where,
      orderBy: (options.orderBy ?? []).map(pick),
      limit: options.limit ?? undefined,
      batchSize,
      keepInCache: options.keepInCache !== false,
    };
  }

  private async readAll(entry: EngineEntry<TEngine>, table: string, options: ReadOptions): Promise<DataFrame> {
    return this.withSession(entry, async (session) => {
      const plan = await this.selectPlan(session, table, options);
      const rows: Value[][] = [];
      for await (const batch of this._streamSelect(session, plan)) for (const row of batch) rows.push(row);
      return toDataFrame(plan.columns, rows);
    });
  }

  // =============================================================================================
  // Public API

  init(): Promise<void> {
    if (this.isClosed) return Promise.reject(new MdmError(ErrorCodes.CLOSED, `The ${this.describe()} backend is closed`));
    if (!this.initialized) {
      this.initialized = this._init().catch((error) => {
        this.initialized = undefined;
        throw this.wrapError(error, "init");
      });
    }
    return this.initialized;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    await this.closeConnections();
    this.isClosed = true;
  }

  async closeConnections(): Promise<void> {
    const pending = [...this.opening.values()];
    await Promise.all(pending.map((p) => p.catch(() => undefined)));
    const entries = [...this.engines.values()];
    const errors: unknown[] = [];
    for (const entry of entries) {
      try {
        await this.closeEngineEntry(entry);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw this.wrapError(errors[0], "closeConnections");
  }

  getEngine(databasePath: string): Promise<StorageEngine> {
    return this.run("get_engine", async () => {
      const path = this._normalizeDatabasePath(databasePath);
      const entry = await this.openEngine(path);
      this.defaultDatabase = path;
      return entry.handle;
    });
  }

  releaseEngine(engine: StorageEngine): Promise<void> {
    return this.run("release_engine", async () => {
      if (typeof engine !== "object" || engine === null || typeof engine.database !== "string" || engine.backendType !== this.backendType) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Not an engine of this ${this.backendType} backend`);
      }
      await this.closeEngineOf(engine.database);
    });
  }

  getConnection(engine?: StorageEngine): Promise<unknown> {
    return this.run("get_connection", async () => this._rawConnection((await this.engineEntryFor(engine)).engine));
  }

  databaseExists(databasePath: string): Promise<boolean> {
    return this.run("database_exists", async () => this._databaseExists(this._normalizeDatabasePath(databasePath)));
  }

  createDatabase(databasePath: string): Promise<void> {
    return this.run("create_database", async () => {
      const path = this._normalizeDatabasePath(databasePath);
      if (!(await this._databaseExists(path))) await this._createDatabase(path);
    });
  }

  dropDatabase(databasePath: string): Promise<void> {
    return this.run("drop_database", async () => {
      const path = this._normalizeDatabasePath(databasePath);
      await this.closeBeforeDrop(path);
      if (this.defaultDatabase === path) this.defaultDatabase = undefined;
      if (await this._databaseExists(path)) await this._dropDatabase(path);
    });
  }

  getDatabasePath(datasetName: string): string {
    return this.datasetPath(datasetName).path;
  }

  placeDataset(datasetName: string, location: string | null): void {
    const name = normalizeDatasetName(datasetName);
    if (location === null) this.placed.delete(name);
    else this.placed.set(name, this._normalizeDatabasePath(location));
  }

  createTableFromDataFrame(df: DataFrameInput, tableName: string, engine: StorageEngine, ifExists: IfExists = "fail"): Promise<void> {
    return this.run(
      "create_table",
      async () => {
        const { columns, rows } = toColumnsAndRows(df);
        await this.writeInto(await this.engineEntryFor(engine), tableName, columns, [rows], ifExists);
      },
      { table: String(tableName) },
    );
  }

  readTableToDataFrame(tableName: string, engine: StorageEngine, limit?: number): Promise<DataFrame> {
    return this.run("read_table", async () => this.readAll(await this.engineEntryFor(engine), tableName, { limit }), { table: String(tableName) }, (r) => r.rows.length);
  }

  readTable(tableName: string, options: ReadOptions = {}): Promise<DataFrame> {
    return this.run("read_filtered", async () => this.readAll(await this.engineEntryFor(options.engine), tableName, options), { table: String(tableName) }, (r) => r.rows.length);
  }

  writeTable(tableName: string, df: DataFrameInput, options: WriteOptions = {}): Promise<void> {
    return this.run(
      "write_table",
      async () => {
        const { columns, rows } = toColumnsAndRows(df);
        await this.writeInto(await this.engineEntryFor(options.engine), tableName, columns, [rows], options.ifExists ?? "replace");
      },
      { table: String(tableName) },
    );
  }

  query(sql: string, params: Value[] = [], engine?: StorageEngine): Promise<DataFrame> {
    return this.run("query", async () => {
      if (typeof sql !== "string" || sql.trim() === "") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "query() needs SQL text");
      const entry = await this.engineEntryFor(engine);
      const result = await this.withSession(entry, (session) => this._query(session, sql, params));
      return toDataFrame(result.columns, result.rows);
    });
  }

  executeQuery(sql: string, engine?: StorageEngine, params: Value[] = []): Promise<{ rowsAffected: number }> {
    return this.run("execute", async () => {
      if (typeof sql !== "string" || sql.trim() === "") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "executeQuery() needs SQL text");
      const entry = await this.engineEntryFor(engine);
      return this.withWrite(entry, (session) => this._execute(session, sql, params), false);
    });
  }

  getTableInfo(tableName: string, engine?: StorageEngine): Promise<TableInfo> {
    return this.run(
      "table_info",
      async () => {
        validateIdentifier(tableName, "table");
        const entry = await this.engineEntryFor(engine);
        return this.withSession(entry, async (session) => {
          const columns = await this.requireColumns(session, tableName);
          return { name: tableName, columns, rowCount: await this._readingOnce(session, () => this._countRows(session, tableName)), columnCount: columns.length };
        });
      },
      { table: String(tableName) },
    );
  }

  getColumns(tableName: string, engine?: StorageEngine): Promise<string[]> {
    return this.run("get_columns", async () => {
      validateIdentifier(tableName, "table");
      const entry = await this.engineEntryFor(engine);
      return this.withSession(entry, async (session) => (await this.requireColumns(session, tableName)).map((c) => c.name));
    });
  }

  analyzeColumn(tableName: string, columnName: string, engine?: StorageEngine): Promise<ColumnAnalysis> {
    return this.run("analyze_column", async () => {
      validateIdentifier(tableName, "table");
      validateIdentifier(columnName, "column");
      const entry = await this.engineEntryFor(engine);
      return this.withSession(entry, async (session) => {
        const columns = await this.requireColumns(session, tableName);
        const column = columns.find((c) => c.name === columnName) ?? columns.find((c) => c.name.toLowerCase() === columnName.toLowerCase());
        if (!column) {
          throw new MdmError(ErrorCodes.COLUMN_NOT_FOUND, `Table ${JSON.stringify(tableName)} has no column ${JSON.stringify(columnName)}`, {
            details: { table: tableName, column: columnName },
          });
        }
        const stats = await this._columnStats(session, tableName, column);
        const { total, nonNull } = stats;
        let mean: number | null = null;
        let std: number | null = null;
        if (stats.m1 !== null && Number.isFinite(stats.m1)) {
          mean = stats.m1;
          if (nonNull > 1 && stats.m2 !== null && Number.isFinite(stats.m2)) {
            std = Math.sqrt(Math.max(0, ((stats.m2 - mean * mean) * nonNull) / (nonNull - 1)));
          }
        }
        return {
          table: tableName,
          column: column.name,
          type: column.type,
          count: total,
          nullCount: total - nonNull,
          nullPercentage: total === 0 ? 0 : ((total - nonNull) / total) * 100,
          uniqueCount: stats.unique,
          min: stats.min,
          max: stats.max,
          mean,
          std,
        };
      });
    });
  }

  getTableNames(engine?: StorageEngine, options: ListTablesOptions = {}): Promise<string[]> {
    return this.run("get_table_names", async () => {
      const entry = await this.engineEntryFor(engine);
      const names = await this.withSession(entry, (session) => this._listTables(session));
      return names.filter((n) => options.includeSystem || !isSystemTable(n)).sort();
    });
  }

  tableExists(tableName: string, engine?: StorageEngine): Promise<boolean> {
    return this.run("table_exists", async () => {
      validateIdentifier(tableName, "table");
      const entry = await this.engineEntryFor(engine);
      return this.withSession(entry, async (session) => (await this._describeTable(session, tableName)) !== undefined);
    });
  }

  dropTable(tableName: string, engine?: StorageEngine): Promise<void> {
    return this.run("drop_table", async () => {
      validateIdentifier(tableName, "table");
      const entry = await this.engineEntryFor(engine);
      await this.withWrite(entry, async (session) => {
        await this.requireColumns(session, tableName);
        await this._dropTable(session, tableName);
      });
    });
  }

  readBatches(tableName: string, options: StreamReadOptions & { engine?: StorageEngine } = {}): AsyncIterable<RowBatch> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      [Symbol.asyncIterator]: () => {
        const generator = (async function* () {
          if (self.isClosed) throw new MdmError(ErrorCodes.CLOSED, `The ${self.describe()} backend is closed`);
          if (options.signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
          await self.init();
          const entry = await self.engineEntryFor(options.engine);
          const session = await self._acquire(entry.engine);
          let failure: unknown;
          const started = performance.now();
          let rows = 0;
          try {
            const plan = await self.selectPlan(session, tableName, options);
            for await (const batch of self._streamSelect(session, plan, options.signal)) {
              if (options.signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
              rows += batch.length;
              yield { columns: plan.columns, rows: batch };
            }
          } catch (error) {
            failure = self.wrapError(error, "read_batches");
            throw failure;
          } finally {
            await self._release(entry.engine, session, failure);
            if (self.capabilities.metrics) {
              self.metrics.record("storage.read_batches", performance.now() - started, { backend: self.backendType, implementation: self.implementation, table: String(tableName) }, { error: failure !== undefined, rows });
            }
          }
        })();
        return generator;
      },
    };
  }

  tableChecksum(tableName: string, options: ChecksumOptions & { engine?: StorageEngine } = {}): Promise<TableChecksum> {
    return this.run(
      "table_checksum",
      async () => {
        if (options.signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
        const entry = await this.engineEntryFor(options.engine);
        return this.withSession(entry, async (session) => {
          const plan = await this.selectPlan(session, tableName, { columns: options.columns, batchSize: options.batchSize, keepInCache: false });
          const checksum = new TableChecksum(plan.columns);
          await this._checksumRows(session, plan, checksum, options.signal);
          return checksum;
        });
      },
      { table: String(tableName) },
      (checksum) => checksum.count,
    );
  }

  writeBatches(tableName: string, columns: ColumnDef[], source: BatchSource, options: StreamWriteOptions & { engine?: StorageEngine } = {}): Promise<number> {
    return this.run(
      "write_batches",
      async () => this.writeInto(await this.engineEntryFor(options.engine), tableName, columns, source, options.ifExists ?? "fail", options),
      { table: String(tableName) },
      (n) => n,
    );
  }

  createDataset(datasetName: string, options: CreateDatasetOptions = {}): Promise<void> {
    return this.run("create_dataset", async () => {
      const { name, path } = this.datasetPath(datasetName);
      if (await this._databaseExists(path)) {
        if (options.ifNotExists) return;
        throw new MdmError(ErrorCodes.DATASET_EXISTS, `Dataset ${JSON.stringify(name)} already exists in ${this.backendType}`, {
          details: { dataset: name, backend: this.backendType },
        });
      }
      try {
        await this._createDatabase(path);
      } catch (error) {
        // Another caller created it between the check and the create: same answer as the check.
        if (!isMdmError(error, ErrorCodes.DATASET_EXISTS) && (await this._databaseExists(path).catch(() => false))) {
          if (options.ifNotExists) return;
          throw new MdmError(ErrorCodes.DATASET_EXISTS, `Dataset ${JSON.stringify(name)} already exists in ${this.backendType}`, {
            cause: error,
            details: { dataset: name, backend: this.backendType },
          });
        }
        throw error;
      }
      try {
        const entry = await this.openEngine(path);
        await this.writeMetadata(entry, {
          dataset_name: name,
          backend_type: this.backendType,
          created_at: new Date().toISOString(),
          ...(options.metadata ?? {}),
        });
      } catch (error) {
        // A failed create leaves nothing behind.
        await this.closeEngineOf(path).catch(() => undefined);
        await this._dropDatabase(path).catch(() => undefined);
        throw error;
      }
    });
  }

  datasetExists(datasetName: string): Promise<boolean> {
    return this.run("dataset_exists", async () => {
      const { path } = this.datasetPath(datasetName);
      return this._databaseExists(path);
    });
  }

  dropDataset(datasetName: string): Promise<void> {
    return this.run("drop_dataset", async () => {
      const { name, path } = this.datasetPath(datasetName);
      await this.closeBeforeDrop(path);
      if (this.defaultDatabase === path) this.defaultDatabase = undefined;
      if (!(await this._databaseExists(path))) {
        throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Dataset ${JSON.stringify(name)} does not exist in ${this.backendType}`, {
          details: { dataset: name, backend: this.backendType },
        });
      }
      await this._dropDatabase(path);
    });
  }

  holdDataset(datasetName: string): Promise<DatasetHold> {
    return this.run("hold_dataset", async () => {
      const { name, path } = this.datasetPath(datasetName);
      if (!(await this._databaseExists(path))) {
        throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Dataset ${JSON.stringify(name)} does not exist in ${this.backendType}`, {
          details: { dataset: name, backend: this.backendType },
        });
      }
      const inner = await this._holdDatabase(path);
      let ended = false;
      const end = () => {
        const first = !ended;
        ended = true;
        return first;
      };
      return {
        dataset: name,
        assertUnchanged: () =>
          this.run("hold_check", async () => {
            const why = ended ? "the hold was released" : await inner.changes();
            if (why !== undefined) {
              throw new MdmError(ErrorCodes.SOURCE_CHANGED, `Dataset ${JSON.stringify(name)} in ${this.backendType} may have been written since it was held: ${why}`, {
                details: { dataset: name, backend: this.backendType },
              });
            }
          }),
        release: (options?: { moved?: boolean }) => this.run("hold_release", async () => (end() ? inner.release(options) : undefined)),
        dropDataset: () =>
          this.run("hold_drop", async () => {
            if (!end()) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `The hold of ${JSON.stringify(name)} was already released`);
            await inner.retire(() => this.dropDataset(name));
          }),
      };
    });
  }

  listDatasets(): Promise<string[]> {
    return this.run("list_datasets", async () => {
      const names = await this._listDatasetNames();
      const valid = names.filter((n) => {
        try {
          return normalizeDatasetName(n) === n;
        } catch {
          return false;
        }
      });
      return [...new Set(valid)].sort();
    });
  }

  listTables(datasetName: string, options: ListTablesOptions = {}): Promise<string[]> {
    return this.run("list_tables", async () => {
      const entry = await this.datasetEntry(datasetName);
      const names = await this.withSession(entry, (session) => this._listTables(session));
      return names.filter((n) => options.includeSystem || !isSystemTable(n)).sort();
    });
  }

  getDatasetEngine(datasetName: string): Promise<StorageEngine> {
    return this.run("get_dataset_engine", async () => (await this.datasetEntry(datasetName)).handle);
  }

  loadData(datasetName: string, tableName = "data"): Promise<DataFrame> {
    return this.run("load_data", async () => this.readAll(await this.datasetEntry(datasetName), tableName, {}), { table: String(tableName) }, (r) => r.rows.length);
  }

  saveData(datasetName: string, data: DataFrameInput, tableName = "data", ifExists: IfExists = "replace"): Promise<void> {
    return this.run(
      "save_data",
      async () => {
        const { columns, rows } = toColumnsAndRows(data);
        await this.writeInto(await this.datasetEntry(datasetName), tableName, columns, [rows], ifExists);
      },
      { table: String(tableName) },
    );
  }

  getMetadata(datasetName: string): Promise<Metadata> {
    return this.run("get_metadata", async () => {
      const entry = await this.datasetEntry(datasetName);
      return this.withSession(entry, async (session) => {
        const out: Metadata = {};
        for (const [key, value] of (await this._readMetadata(session)) ?? []) out[key] = decodeMetadataValue(value);
        return out;
      });
    });
  }

  updateMetadata(datasetName: string, metadata: Metadata): Promise<void> {
    return this.run("update_metadata", async () => {
      if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "updateMetadata() needs an object of keys and values");
      }
      await this.writeMetadata(await this.datasetEntry(datasetName), metadata);
    });
  }

  private async writeMetadata(entry: EngineEntry<TEngine>, metadata: Metadata): Promise<void> {
    const encoded = Object.entries(metadata).map(([key, value]) => {
      if (key.includes("\0")) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A metadata key cannot contain NUL");
      return [key, encodeMetadataValue(key, value)] as const;
    });
    const now = new Date().toISOString();
    await this.withWrite(entry, (session) => this._writeMetadata(session, encoded, now));
  }

  getStagingPath(datasetName: string, runId: string): string {
    const { name } = this.datasetPath(datasetName);
    if (!/^[a-z0-9]{1,16}$/.test(runId)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `A run id is 1 to 16 lower-case letters or digits, got ${JSON.stringify(runId)}`);
    }
    return this._stagingPath(name, runId);
  }

  listStagingPaths(datasetName: string): Promise<string[]> {
    return this.run("list_staging", async () => this._listStagingPaths(this.datasetPath(datasetName).name));
  }

  publishStaging(stagingPath: string, datasetName: string, options: { replace?: boolean } = {}): Promise<void> {
    return this.run("publish", async () => {
      const { name, path } = this.datasetPath(datasetName);
      const staging = this._normalizeDatabasePath(stagingPath);
      if (!(await this._databaseExists(staging))) {
        throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Staging database ${JSON.stringify(staging)} does not exist`);
      }
      await this.closeEngineOf(staging);
      await this.closeEngineOf(path);
      if (!options.replace && (await this._databaseExists(path))) {
        throw new MdmError(ErrorCodes.DATASET_EXISTS, `Dataset ${JSON.stringify(name)} already exists in ${this.backendType}`, {
          details: { dataset: name },
        });
      }
      await this._publishStaging(staging, path, options.replace === true);
    });
  }

  checkValue(column: ColumnDef, value: Value): void {
    // Callers check column after column, row after row (a migration's preflight): the checker of a
    // column object is made once.
    let cached = this.valueChecks.get(column);
    if (cached === undefined || cached.type !== column.type || cached.precision !== column.precision || cached.scale !== column.scale) {
      cached = { type: column.type, precision: column.precision, scale: column.scale, write: this.writerFor(column) };
      this.valueChecks.set(column, cached);
    }
    cached.write(value);
  }

  columnsContain(tableName: string, columns: string[], kind: SpecialValue, engine?: StorageEngine): Promise<boolean | undefined> {
    return this.run(
      "columns_contain",
      async () => {
        validateIdentifier(tableName, "table");
        const type = Object.hasOwn(SPECIAL_VALUE_TYPES, kind) ? SPECIAL_VALUE_TYPES[kind] : undefined;
        if (type === undefined) {
          throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Unknown kind of value ${JSON.stringify(kind)}; expected one of ${Object.keys(SPECIAL_VALUE_TYPES).join(", ")}`);
        }
        const entry = await this.engineEntryFor(engine);
        return this.withSession(entry, async (session) => {
          const all = await this.requireColumns(session, tableName);
          const predicates: string[] = [];
          for (const name of columns) {
            const column = all.find((c) => c.name === name);
            if (!column || column.type !== type) {
              throw new MdmError(column ? ErrorCodes.INVALID_ARGUMENT : ErrorCodes.COLUMN_NOT_FOUND, `${JSON.stringify(name)} is not a ${type} column of table ${JSON.stringify(tableName)}`, {
                details: { table: tableName, column: name },
              });
            }
            // A value the backend cannot hold was refused when it was written: no query needed.
            if (!this.capabilities.values[kind]) continue;
            const predicate = this._containsSql(quoteIdentifier(column.name), kind);
            if (predicate === undefined) return undefined;
            predicates.push(`(${predicate})`);
          }
          if (predicates.length === 0) return false;
          const found = await this._readingOnce(session, () => this._query(session, `SELECT 1 FROM ${quoteIdentifier(tableName)} WHERE ${predicates.join(" OR ")} LIMIT 1`, []));
          return found.rows.length > 0;
        });
      },
      { table: String(tableName), kind: String(kind) },
    );
  }

  optimize(engine?: StorageEngine): Promise<void> {
    return this.run("optimize", async () => {
      const entry = await this.engineEntryFor(engine);
      await this.withWrite(entry, (session) => this._optimize(session, entry.engine), false);
    });
  }

  getDatabaseSize(engine?: StorageEngine): Promise<number> {
    return this.run("database_size", async () => {
      const entry = await this.engineEntryFor(engine);
      return this._databaseSize(entry.engine, entry.handle.database);
    });
  }

  importFile(tableName: string, filePath: string, format: FileFormat, options: WriteOptions = {}): Promise<number> {
    return this.run(
      "import_file",
      async () => {
        validateIdentifier(tableName, "table");
        if (typeof filePath !== "string" || filePath === "") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "importFile() needs a file path");
        const entry = await this.engineEntryFor(options.engine);
        return this.withWrite(entry, async (session) => {
          const ifExists = options.ifExists ?? "fail";
          const existing = await this._describeTable(session, tableName);
          if (existing && ifExists === "fail") {
            throw new MdmError(ErrorCodes.TABLE_EXISTS, `Table ${JSON.stringify(tableName)} already exists`, { details: { table: tableName } });
          }
          if (existing && ifExists === "replace") await this._dropTable(session, tableName);
          return this._importFile(session, tableName, filePath, format, existing && ifExists === "append" ? "append" : "fail");
        });
      },
      { table: String(tableName) },
      (n) => n,
    );
  }

  exportFile(tableName: string, filePath: string, format: FileFormat, options: { engine?: StorageEngine } = {}): Promise<number> {
    return this.run(
      "export_file",
      async () => {
        validateIdentifier(tableName, "table");
        if (typeof filePath !== "string" || filePath === "") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "exportFile() needs a file path");
        if (!(FILE_FORMATS as readonly string[]).includes(format)) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Unknown file format ${JSON.stringify(format)} (${FILE_FORMATS.join(", ")})`);
        if (format !== "csv" && !this.capabilities.fileImportExport.includes(format)) {
          throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `${this.describe()} has no native ${format} export`);
        }
        const entry = await this.engineEntryFor(options.engine);
        return this.withSession(entry, async (session) => {
          const columns = await this.requireColumns(session, tableName);
          return writeThenRename(filePath, (temporary) => this._exportFile(session, tableName, columns, temporary, format));
        });
      },
      { table: String(tableName) },
      (n) => n,
    );
  }

  getMetrics(): MetricSummary[] {
    return this.metrics.summary();
  }

  resetMetrics(): void {
    this.metrics.reset();
  }
}

export const METADATA_COLUMNS: ColumnDef[] = [
  { name: "key", type: "text", nullable: false },
  { name: "value", type: "text" },
  { name: "updated_at", type: "text" },
];

/**
 * A metadata value as `_metadata.value` text, the way Python MDM writes it (`str(value)`): a string is stored
 * as itself, so Python reads `My dataset`, not `"My dataset"`. Numbers are their text too. A string that
 * would read back as something else (`5`, `true`, `null`, `[1]`, a leading `"`) is stored as JSON, and so are
 * booleans, null, arrays and objects (Python's `str()` would give its repr, `True` or `{'a': 1}`, which no
 * reader parses). `decodeMetadataValue` reads back every value exactly. Throws MDM_INVALID_ARGUMENT for a
 * value JSON cannot hold (a bigint, a function, a cycle).
 */
export function encodeMetadataValue(key: string, value: unknown): string {
  if (typeof value === "string" && decodeMetadataValue(value) === value) return value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Metadata ${JSON.stringify(key)} is not JSON-serialisable`, { cause: error });
  }
  if (text === undefined) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Metadata ${JSON.stringify(key)} is not JSON-serialisable`);
  return text;
}

/** The value of a `_metadata` row: JSON text where it parses as JSON, else (a string Python MDM or we wrote as itself) that text. */
export function decodeMetadataValue(value: Value): Metadata[string] {
  if (value === null) return null;
  const text = typeof value === "string" ? value : String(value);
  try {
    return JSON.parse(text) as Metadata[string];
  } catch {
    return text;
  }
}

/** Columns of an existing table lined up with the columns of an append (same names, any order). */
function alignColumns(table: string, existing: ColumnDef[], incoming: ColumnDef[]): ColumnDef[] {
  const missing = incoming.filter((c) => !existing.some((e) => e.name.toLowerCase() === c.name.toLowerCase()));
  const absent = existing.filter((e) => !incoming.some((c) => c.name.toLowerCase() === e.name.toLowerCase()));
  if (missing.length > 0 || absent.length > 0) {
    throw new MdmError(
      ErrorCodes.INVALID_ARGUMENT,
      `Cannot append to ${JSON.stringify(table)}: ${missing.length > 0 ? `it has no column ${missing.map((c) => JSON.stringify(c.name)).join(", ")}` : ""}${missing.length > 0 && absent.length > 0 ? "; " : ""}${absent.length > 0 ? `no value for ${absent.map((c) => JSON.stringify(c.name)).join(", ")}` : ""}`,
      { details: { table } },
    );
  }
  return existing;
}

export type { ErrorCode };

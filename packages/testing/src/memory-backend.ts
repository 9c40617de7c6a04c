import {
  BaseStorageBackend,
  ErrorCodes,
  METADATA_COLUMNS,
  METADATA_TABLE,
  MdmError,
  canonicalDecimal,
  encodeValue,
  isSqlDate,
  isSqlTimestamp,
  toMdmError,
  type BackendCapabilities,
  type BaseBackendOptions,
  type ColumnDef,
  type DatabaseHold,
  type LogicalType,
  type QueryResult,
  type SelectPlan,
  type Value,
} from "@mdm/storage-core";

interface MemoryTable {
  columns: ColumnDef[];
  rows: Value[][];
}

/** One in-memory database: tables by exact name. */
export class MemoryDatabase {
  tables = new Map<string, MemoryTable>();
}

/**
 * Where MemoryStorageBackend instances keep their databases. Pass the same store to two instances
 * to make them see the same data (as two file backends on one MDM home do).
 */
export class MemoryStore {
  readonly databases = new Map<string, MemoryDatabase>();
}

/** An open database: the path and the store it lives in. */
export interface MemoryEngine {
  readonly path: string;
  readonly store: MemoryStore;
  open: boolean;
}

/** One operation: committed tables for reads, a private working copy inside a transaction. */
export interface MemorySession {
  readonly engine: MemoryEngine;
  working?: Map<string, MemoryTable>;
  /** Tables of the working copy whose rows array belongs to this transaction alone (appended in place). */
  owned?: Set<string>;
}

export interface MemoryBackendOptions extends BaseBackendOptions {
  /** Share databases between instances. Default: a store of this instance only. */
  store?: MemoryStore;
  /** Report itself as this backend type (the value model does not depend on it). Default "sqlite". */
  backendType?: "sqlite" | "duckdb" | "postgresql";
}

const DATASET_PREFIX = "memory:datasets/";
const STAGING_PREFIX = "memory:staging/";

const copyValue = (value: Value): Value => (value instanceof Uint8Array ? new Uint8Array(value) : value);

/**
 * A small in-memory reference backend: every value of the value model is held exactly, no SQL
 * (`capabilities.sql` is false; `query`/`executeQuery` fail with MDM_UNSUPPORTED_OPERATION),
 * transactions by working copy and swap. It extends BaseStorageBackend and overrides hooks only, so
 * it is also a compact example of what a backend implements. The conformance suite runs against it
 * in @mdm/testing's own tests.
 */
export class MemoryStorageBackend extends BaseStorageBackend<MemoryEngine, MemorySession> {
  readonly backendType: "sqlite" | "duckdb" | "postgresql";
  readonly implementation = "new" as const;
  readonly capabilities: BackendCapabilities = Object.freeze({
    values: Object.freeze({ nan: true, infinity: true, negativeZero: true, nulInText: true, nulInJson: true, maxDecimalPrecision: Number.POSITIVE_INFINITY }),
    sql: false,
    concurrentReads: true,
    serializedWrites: true,
    fileImportExport: [],
    metrics: true,
  }) as BackendCapabilities;
  readonly store: MemoryStore;

  constructor(options: MemoryBackendOptions = {}) {
    super({ metrics: true, ...options });
    this.store = options.store ?? new MemoryStore();
    this.backendType = options.backendType ?? "sqlite";
  }

  // --- databases -------------------------------------------------------------------------------

  protected _resolveDatabasePath(datasetName: string): string {
    return DATASET_PREFIX + datasetName;
  }

  protected _normalizeDatabasePath(databasePath: string): string {
    if (typeof databasePath !== "string" || databasePath.trim() === "") {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A database path must be a non-empty string");
    }
    if (databasePath.includes("\0")) throw new MdmError(ErrorCodes.INVALID_NAME, "A database path cannot contain NUL");
    return databasePath.trim();
  }

  protected async _databaseExists(databasePath: string): Promise<boolean> {
    return this.store.databases.has(databasePath);
  }

  protected async _createDatabase(databasePath: string): Promise<void> {
    if (this.store.databases.has(databasePath)) {
      throw new MdmError(ErrorCodes.DATASET_EXISTS, `Database ${JSON.stringify(databasePath)} already exists`);
    }
    this.store.databases.set(databasePath, new MemoryDatabase());
  }

  protected async _dropDatabase(databasePath: string): Promise<void> {
    this.store.databases.delete(databasePath);
  }

  protected async _listDatasetNames(): Promise<string[]> {
    return [...this.store.databases.keys()].filter((p) => p.startsWith(DATASET_PREFIX)).map((p) => p.slice(DATASET_PREFIX.length));
  }

  protected override _stagingPath(datasetName: string, runId: string): string {
    return `${STAGING_PREFIX}${datasetName}/${runId}`;
  }

  protected override async _listStagingPaths(datasetName: string): Promise<string[]> {
    const prefix = `${STAGING_PREFIX}${datasetName}/`;
    return [...this.store.databases.keys()].filter((p) => p.startsWith(prefix)).sort();
  }

  protected override async _publishStaging(stagingPath: string, finalPath: string, replace: boolean): Promise<void> {
    const staged = this.store.databases.get(stagingPath);
    if (!staged) throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Staging database ${JSON.stringify(stagingPath)} does not exist`);
    if (!replace && this.store.databases.has(finalPath)) {
      throw new MdmError(ErrorCodes.DATASET_EXISTS, `Database ${JSON.stringify(finalPath)} already exists`);
    }
    // One synchronous step: a reader sees the old database or the new one.
    this.store.databases.set(finalPath, staged);
    this.store.databases.delete(stagingPath);
  }

  protected override async _databaseSize(engine: MemoryEngine): Promise<number> {
    let bytes = 0;
    for (const table of this.database(engine).tables.values()) {
      for (const row of table.rows) row.forEach((value, i) => (bytes += encodeValue((table.columns[i] as ColumnDef).type, value).length));
    }
    return bytes;
  }

  /**
   * Nothing here can keep a writer out (every instance sharing the store is in this process), so the hold
   * only detects: any commit swaps the table map, and a write outside a transaction changes a table's
   * rows array or its length.
   */
  protected override async _holdDatabase(databasePath: string): Promise<DatabaseHold> {
    const db = this.store.databases.get(databasePath) as MemoryDatabase;
    const stamp = () => [...db.tables].map(([name, t]) => [name, t.rows, t.rows.length] as const);
    const before = stamp();
    const same = () => {
      const now = stamp();
      return this.store.databases.get(databasePath) === db && now.length === before.length && now.every((x, i) => x.every((v, j) => v === before[i]?.[j]));
    };
    return {
      changes: async () => (same() ? undefined : "a table was written, created or dropped"),
      release: async () => undefined,
      retire: async (remove) => remove(),
    };
  }

  // --- engines and sessions --------------------------------------------------------------------

  protected async _openEngine(databasePath: string): Promise<MemoryEngine> {
    // Like SQLite, opening a database that does not exist creates it.
    if (!this.store.databases.has(databasePath)) this.store.databases.set(databasePath, new MemoryDatabase());
    return { path: databasePath, store: this.store, open: true };
  }

  protected async _closeEngine(engine: MemoryEngine): Promise<void> {
    engine.open = false;
  }

  protected async _acquire(engine: MemoryEngine): Promise<MemorySession> {
    if (!engine.open) throw new MdmError(ErrorCodes.CONNECTION_FAILED, `The engine of ${JSON.stringify(engine.path)} is closed`);
    return { engine };
  }

  protected async _release(): Promise<void> {}

  protected _rawConnection(engine: MemoryEngine): unknown {
    return this.database(engine);
  }

  private database(engine: MemoryEngine): MemoryDatabase {
    const db = engine.store.databases.get(engine.path);
    if (!db) throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Database ${JSON.stringify(engine.path)} does not exist`);
    return db;
  }

  /** The tables this session sees: its working copy inside a transaction, the committed ones otherwise. */
  private tables(session: MemorySession): Map<string, MemoryTable> {
    return session.working ?? this.database(session.engine).tables;
  }

  private table(session: MemorySession, name: string): MemoryTable {
    const table = this.tables(session).get(name);
    if (!table) throw new MdmError(ErrorCodes.TABLE_NOT_FOUND, `Table ${JSON.stringify(name)} does not exist`, { details: { table: name } });
    return table;
  }

  // --- transactions: a working copy, swapped in on commit ----------------------------------------

  protected override async _begin(session: MemorySession): Promise<void> {
    const committed = this.database(session.engine).tables;
    // Tables are copied shallowly (rows are never mutated in place, only replaced or appended to a copy).
    session.working = new Map([...committed].map(([name, t]) => [name, { columns: t.columns, rows: t.rows }]));
    session.owned = new Set();
  }

  protected override async _commit(session: MemorySession): Promise<void> {
    if (session.working) this.database(session.engine).tables = session.working;
    session.working = undefined;
    session.owned = undefined;
  }

  protected override async _rollback(session: MemorySession): Promise<void> {
    session.working = undefined;
    session.owned = undefined;
  }

  // --- tables ------------------------------------------------------------------------------------

  protected async _listTables(session: MemorySession): Promise<string[]> {
    return [...this.tables(session).keys()];
  }

  protected async _describeTable(session: MemorySession, table: string): Promise<ColumnDef[] | undefined> {
    return this.tables(session).get(table)?.columns.map((c) => ({ ...c }));
  }

  protected async _createTable(session: MemorySession, table: string, columns: ColumnDef[]): Promise<void> {
    this.tables(session).set(table, {
      columns: columns.map((c) => {
        const column: ColumnDef = { name: c.name, type: c.type, nullable: c.nullable !== false };
        if (c.type === "decimal" && c.precision !== undefined) {
          column.precision = c.precision;
          column.scale = c.scale ?? 0;
        }
        return column;
      }),
      rows: [],
    });
    session.owned?.add(table);
  }

  protected override async _dropTable(session: MemorySession, table: string): Promise<void> {
    this.table(session, table);
    this.tables(session).delete(table);
    session.owned?.delete(table);
  }

  protected async _insertRows(session: MemorySession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    const target = this.table(session, table);
    const order = columns.map((c) => target.columns.findIndex((t) => t.name === c.name));
    if (order.some((i) => i < 0)) throw new MdmError(ErrorCodes.INTERNAL, `Columns do not match table ${JSON.stringify(table)}`);
    const added: Value[][] = rows.map((row, r) => {
      const stored: Value[] = new Array(target.columns.length).fill(null);
      row.forEach((value, c) => {
        const column = target.columns[order[c] as number] as ColumnDef;
        if (value === null && column.nullable === false) {
          throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Column ${JSON.stringify(column.name)} of ${JSON.stringify(table)} is NOT NULL (row ${r})`, {
            details: { table, column: column.name },
          });
        }
        stored[order[c] as number] = copyValue(value);
      });
      return stored;
    });
    // Committed rows arrays are never changed in place (readers hold them as snapshots): the first
    // insert of a transaction copies the array, later inserts of that transaction append to the copy.
    if (session.owned?.has(table)) {
      for (const row of added) target.rows.push(row);
      return;
    }
    this.tables(session).set(table, { columns: target.columns, rows: target.rows.concat(added) });
    session.owned?.add(table);
  }

  protected override async _countRows(session: MemorySession, table: string): Promise<number> {
    return this.table(session, table).rows.length;
  }

  protected async *_streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    const table = this.table(session, plan.table);
    const index = (name: string) => table.columns.findIndex((c) => c.name === name);
    let rows = table.rows; // the snapshot this read sees, whatever is written meanwhile
    if (plan.where && "sql" in plan.where) {
      throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "The memory backend has no SQL: use a where object");
    }
    if (plan.where && plan.where.equals.length > 0) {
      const tests = plan.where.equals.map(([column, value]) => ({ i: index(column.name), type: column.type, value }));
      rows = rows.filter((row) => tests.every((t) => sqlEquals(t.type, row[t.i] as Value, t.value)));
    }
    if (plan.orderBy.length > 0) {
      const keys = plan.orderBy.map((c) => ({ i: index(c.name), type: c.type }));
      rows = [...rows].sort((a, b) => {
        for (const k of keys) {
          const d = compareValues(k.type, a[k.i] as Value, b[k.i] as Value);
          if (d !== 0) return d;
        }
        return 0;
      });
    }
    if (plan.limit !== undefined) rows = rows.slice(0, plan.limit);
    const picks = plan.columns.map((c) => index(c.name));
    for (let start = 0; start < rows.length; start += plan.batchSize) {
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
      yield rows.slice(start, start + plan.batchSize).map((row) => picks.map((i) => copyValue(row[i] as Value)));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // --- no SQL ------------------------------------------------------------------------------------

  protected async _query(): Promise<QueryResult> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "The memory backend has no SQL (capabilities.sql is false)");
  }

  protected async _execute(): Promise<{ rowsAffected: number }> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "The memory backend has no SQL (capabilities.sql is false)");
  }

  protected _placeholder(): string {
    return "?";
  }

  protected _mapError(error: unknown, context: string): MdmError {
    return toMdmError(error, ErrorCodes.INTERNAL, context);
  }

  // --- metadata and statistics without SQL -------------------------------------------------------

  protected override async _readMetadata(session: MemorySession): Promise<Array<[string, Value]> | undefined> {
    const table = this.tables(session).get(METADATA_TABLE);
    return table?.rows.map((row) => [row[0] as string, row[1] as Value]);
  }

  protected override async _writeMetadata(session: MemorySession, entries: ReadonlyArray<readonly [string, string]>, updatedAt: string): Promise<void> {
    if (!this.tables(session).has(METADATA_TABLE)) await this._createTable(session, METADATA_TABLE, METADATA_COLUMNS);
    const table = this.table(session, METADATA_TABLE);
    const keys = new Set(entries.map(([key]) => key));
    const rows = table.rows.filter((row) => !keys.has(row[0] as string)).concat(entries.map(([key, text]) => [key, text, updatedAt]));
    this.tables(session).set(METADATA_TABLE, { columns: table.columns, rows });
  }

  protected override async _columnStats(session: MemorySession, table: string, column: ColumnDef) {
    const t = this.table(session, table);
    const i = t.columns.findIndex((c) => c.name === column.name);
    const values = t.rows.map((row) => row[i] as Value).filter((v) => v !== null);
    const comparable = column.type !== "blob" && column.type !== "json";
    const sorted = comparable ? [...values].sort((a, b) => compareValues(column.type, a, b)) : [];
    let m1: number | null = null;
    let m2: number | null = null;
    if ((column.type === "int64" || column.type === "float64" || column.type === "decimal") && values.length > 0) {
      const numbers = values.map((v) => Number(v));
      m1 = numbers.reduce((a, b) => a + b, 0) / numbers.length;
      m2 = numbers.reduce((a, b) => a + b * b, 0) / numbers.length;
    }
    return {
      total: t.rows.length,
      nonNull: values.length,
      unique: new Set(values.map((v) => distinctKey(column.type, v))).size,
      min: sorted.length > 0 ? copyValue(sorted[0] as Value) : null,
      max: sorted.length > 0 ? copyValue(sorted[sorted.length - 1] as Value) : null,
      m1,
      m2,
    };
  }
}

/**
 * The equality of a where object, as selectSql() writes it: a NULL filter is `IS NULL`, otherwise SQL
 * `=` (0 = -0, NaN = NaN as PostgreSQL and DuckDB compare, decimals by value; NULL equals nothing).
 */
function sqlEquals(type: LogicalType, stored: Value, wanted: Value): boolean {
  if (wanted === null) return stored === null;
  if (stored === null) return false;
  return compareValues(type, stored, wanted) === 0;
}

/** The key of COUNT(DISTINCT): equal under `=`. */
function distinctKey(type: LogicalType, value: Value): string {
  if (type === "float64" && value === 0) return "f0";
  return encodeValue(type, value);
}

function compareDecimal(a: string, b: string): number {
  // -Infinity < every number < Infinity < NaN (PostgreSQL's order).
  const rank = (x: string) => (x === "NaN" ? 2 : x === "Infinity" ? 1 : x === "-Infinity" ? -1 : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return Math.sign(ra - rb);
  const ca = canonicalDecimal(a);
  const cb = canonicalDecimal(b);
  const negA = ca.startsWith("-");
  const negB = cb.startsWith("-");
  if (negA !== negB) return negA ? -1 : 1;
  const [ia = "", fa = ""] = ca.replace("-", "").split(".");
  const [ib = "", fb = ""] = cb.replace("-", "").split(".");
  const width = Math.max(fa.length, fb.length);
  const ka = BigInt(ia + fa.padEnd(width, "0"));
  const kb = BigInt(ib + fb.padEnd(width, "0"));
  const d = ka < kb ? -1 : ka > kb ? 1 : 0;
  return negA ? -d : d;
}

/** Order of values of one logical type, NULLs last (as PostgreSQL and DuckDB sort ascending). */
function compareValues(type: LogicalType, a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  switch (type) {
    case "float64": {
      const x = a as number;
      const y = b as number;
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) ? 0 : Number.isNaN(x) ? 1 : -1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case "int64":
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case "boolean":
      return Number(a) - Number(b);
    case "decimal":
      return compareDecimal(a as string, b as string);
    case "blob":
      return Buffer.compare(a as Uint8Array, b as Uint8Array);
    case "date":
      return isSqlDate(a) && isSqlDate(b) ? Math.sign(a.days - b.days) : 0;
    case "timestamp":
    case "timestamptz":
      return isSqlTimestamp(a) && isSqlTimestamp(b) ? (a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0) : 0;
    default:
      // Text and JSON in binary (UTF-8 byte) order, as SQLite and PostgreSQL's C collation.
      return Buffer.compare(Buffer.from(a as string, "utf8"), Buffer.from(b as string, "utf8"));
  }
}

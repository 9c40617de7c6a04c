import { existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  ErrorCodes,
  FileStorageBackend,
  METADATA_COLUMNS,
  METADATA_TABLE,
  MdmError,
  SqlDate,
  SqlTimestamp,
  encodeValue,
  isSqlDate,
  isSqlTimestamp,
  toMdmError,
  type BackendCapabilities,
  type ColumnDef,
  type FileFormat,
  type IfExists,
  type Implementation,
  type QueryResult,
  type SelectPlan,
  type Value,
} from "../../src/index.js";

interface Table {
  columns: ColumnDef[];
  rows: Value[][];
}

/** One open database: its tables in memory, written back to its file on every commit. */
export interface TableDb {
  path: string;
  tables: Map<string, Table>;
  snapshot?: Map<string, Table>;
}

// ---- a tagged JSON file format that keeps every value of the value model exactly ----

function encodeCell(v: Value): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { i: v.toString() };
  if (typeof v === "number") return { f: Object.is(v, -0) ? "-0" : String(v) };
  if (v instanceof Uint8Array) return { x: Buffer.from(v).toString("hex") };
  if (isSqlDate(v)) return { D: v.days };
  if (isSqlTimestamp(v)) return { t: v.micros.toString() };
  throw new Error(`cannot store ${String(v)}`);
}

function decodeCell(v: unknown): Value {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  const o = v as Record<string, string | number>;
  if ("i" in o) return BigInt(o.i as string);
  if ("f" in o) return Number(o.f);
  if ("x" in o) return new Uint8Array(Buffer.from(o.x as string, "hex"));
  if ("D" in o) return new SqlDate(o.D as number);
  if ("t" in o) return new SqlTimestamp(BigInt(o.t as string));
  throw new Error("corrupt cell");
}

function serialize(tables: Map<string, Table>): string {
  return JSON.stringify([...tables].map(([name, t]) => [name, t.columns, t.rows.map((r) => r.map(encodeCell))]));
}

function deserialize(text: string): Map<string, Table> {
  if (text.trim() === "") return new Map();
  const parsed = JSON.parse(text) as Array<[string, ColumnDef[], unknown[][]]>;
  return new Map(parsed.map(([name, columns, rows]) => [name, { columns, rows: rows.map((r) => r.map(decodeCell)) }]));
}

function cloneTables(tables: Map<string, Table>): Map<string, Table> {
  return new Map([...tables].map(([n, t]) => [n, { columns: [...t.columns], rows: [...t.rows] }]));
}

function compare(a: Value, b: Value): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (isSqlDate(a) && isSqlDate(b)) return a.days - b.days;
  if (isSqlTimestamp(a) && isSqlTimestamp(b)) return a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  const x = typeof a === "boolean" ? Number(a) : (a as number | bigint);
  const y = typeof b === "boolean" ? Number(b) : (b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface FileTableBackendOptions {
  homeDir: string;
  implementation?: Implementation;
  metrics?: boolean;
  maxOpenEngines?: number;
  /** Leave optimize, import and export to the base class defaults (a backend without them). */
  withoutExtras?: boolean;
  /** Refuse NaN in float64 columns (like SQLite). */
  refuseNaN?: boolean;
  serializedWrites?: boolean;
  secrets?: () => string[];
}

/**
 * A real backend for core's tests: FileStorageBackend's layout (datasets/{name}/{name}.sqlite,
 * staging, publish) with tables kept in a tagged-JSON file. No SQL: `query()` is unsupported, so
 * the hooks the base class implements with SQL are implemented here over the tables.
 */
export class FileTableBackend extends FileStorageBackend<TableDb, TableDb> {
  readonly backendType = "sqlite" as const;
  readonly implementation: Implementation;
  readonly capabilities: BackendCapabilities;
  protected readonly extension = "sqlite" as const;

  /** Hook call counters and failure switches, for tests. */
  readonly calls = { init: 0, open: 0, close: 0, acquire: 0, release: 0, optimize: 0, insert: 0 };
  failInit: Error | undefined;
  /** Throw this from _insertRows after `failInsertAfter` successful inserts. */
  failInsert: Error | undefined;
  failInsertAfter = 0;
  /** Delay inside _insertRows, to observe write serialisation. */
  insertDelayMs = 0;
  /** Make _closeEngine / _mapError / _initializeDatabaseFile throw. */
  failClose: Error | undefined;
  mapErrorThrows = false;
  failInitializeFile: Error | undefined;
  activeInserts = 0;
  maxActiveInserts = 0;

  constructor(private readonly options: FileTableBackendOptions) {
    super({ homeDir: options.homeDir, metrics: options.metrics, maxOpenEngines: options.maxOpenEngines, secrets: options.secrets });
    this.implementation = options.implementation ?? "new";
    this.capabilities = {
      values: { nan: !options.refuseNaN, infinity: true, negativeZero: true, nulInText: true, nulInJson: true, maxDecimalPrecision: Infinity },
      sql: false,
      concurrentReads: true,
      serializedWrites: options.serializedWrites ?? true,
      fileImportExport: ["json"],
      metrics: options.metrics ?? true,
    };
  }

  protected override async _init(): Promise<void> {
    this.calls.init++;
    if (this.failInit) throw this.failInit;
  }

  protected override async _initializeDatabaseFile(path: string): Promise<void> {
    if (this.failInitializeFile) throw this.failInitializeFile;
    writeFileSync(path, serialize(new Map()));
  }

  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    if (this.options.refuseNaN && column.type === "float64") {
      return (v) => {
        if (typeof v === "number" && Number.isNaN(v)) {
          throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)}: NaN cannot be stored`);
        }
      };
    }
    return undefined;
  }

  protected async _openEngine(path: string): Promise<TableDb> {
    this.calls.open++;
    if (path !== ":memory:" && !existsSync(path)) writeFileSync(path, serialize(new Map()), { mode: 0o600 });
    return { path, tables: path === ":memory:" ? new Map() : deserialize(readFileSync(path, "utf8")) };
  }

  protected async _closeEngine(): Promise<void> {
    this.calls.close++;
    if (this.failClose) throw this.failClose;
  }

  protected async _acquire(db: TableDb): Promise<TableDb> {
    this.calls.acquire++;
    return db;
  }

  protected async _release(): Promise<void> {
    this.calls.release++;
  }

  protected _rawConnection(db: TableDb): unknown {
    return db;
  }

  protected async _listTables(db: TableDb): Promise<string[]> {
    return [...db.tables.keys()];
  }

  protected async _describeTable(db: TableDb, table: string): Promise<ColumnDef[] | undefined> {
    return db.tables.get(table)?.columns.map((c) => ({ ...c }));
  }

  protected async _createTable(db: TableDb, table: string, columns: ColumnDef[]): Promise<void> {
    db.tables.set(table, { columns: columns.map((c) => ({ ...c })), rows: [] });
  }

  protected override async _dropTable(db: TableDb, table: string): Promise<void> {
    db.tables.delete(table);
  }

  protected async _insertRows(db: TableDb, table: string, _columns: ColumnDef[], rows: Value[][]): Promise<void> {
    this.activeInserts++;
    this.maxActiveInserts = Math.max(this.maxActiveInserts, this.activeInserts);
    try {
      if (this.insertDelayMs > 0) await new Promise((r) => setTimeout(r, this.insertDelayMs));
      if (this.failInsert && this.calls.insert >= this.failInsertAfter) throw this.failInsert;
      this.calls.insert++;
      const target = db.tables.get(table) as Table;
      target.rows = [...target.rows, ...rows.map((r) => [...r])];
    } finally {
      this.activeInserts--;
    }
  }

  // The AbortSignal is left to the base class, which checks it between batches.
  protected async *_streamSelect(db: TableDb, plan: SelectPlan): AsyncIterable<Value[][]> {
    const table = db.tables.get(plan.table) as Table;
    const index = (c: ColumnDef) => table.columns.findIndex((x) => x.name === c.name);
    if (plan.where && "sql" in plan.where) throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "this backend has no SQL filters");
    let rows = table.rows;
    if (plan.where) {
      const tests = plan.where.equals.map(([c, v]) => [index(c), v] as const);
      rows = rows.filter((r) => tests.every(([i, v]) => (v === null ? r[i] === null : encodeValue(table.columns[i]!.type, r[i] as Value) === encodeValue(table.columns[i]!.type, v))));
    }
    if (plan.orderBy.length > 0) {
      const keys = plan.orderBy.map(index);
      rows = [...rows].sort((a, b) => {
        for (const k of keys) {
          const d = compare(a[k] as Value, b[k] as Value);
          if (d !== 0) return d;
        }
        return 0;
      });
    }
    if (plan.limit !== undefined) rows = rows.slice(0, plan.limit);
    const picks = plan.columns.map(index);
    for (let i = 0; i < rows.length; i += plan.batchSize) {
      yield rows.slice(i, i + plan.batchSize).map((r) => picks.map((p) => r[p] as Value));
      await Promise.resolve();
    }
  }

  protected async _query(): Promise<QueryResult> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "this backend has no SQL");
  }

  protected async _execute(): Promise<{ rowsAffected: number }> {
    throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "this backend has no SQL");
  }

  protected _placeholder(index: number): string {
    return `$${index + 1}`;
  }

  protected _mapError(error: unknown, context: string): MdmError {
    if (this.mapErrorThrows) throw new Error("a bug in the error mapper");
    return toMdmError(error, ErrorCodes.QUERY_FAILED, context, { secrets: this.secrets() });
  }

  protected override async _begin(db: TableDb): Promise<void> {
    db.snapshot = cloneTables(db.tables);
  }

  protected override async _commit(db: TableDb): Promise<void> {
    db.snapshot = undefined;
    if (db.path !== ":memory:") writeFileSync(db.path, serialize(db.tables));
  }

  protected override async _rollback(db: TableDb): Promise<void> {
    if (db.snapshot) db.tables = db.snapshot;
    db.snapshot = undefined;
  }

  protected override async _countRows(db: TableDb, table: string): Promise<number> {
    return db.tables.get(table)?.rows.length ?? 0;
  }

  protected override async _readMetadata(db: TableDb): Promise<Array<[string, Value]> | undefined> {
    const t = db.tables.get(METADATA_TABLE);
    return t?.rows.map((r) => [r[0] as string, r[1] as Value]);
  }

  protected override async _writeMetadata(db: TableDb, entries: ReadonlyArray<readonly [string, string]>, updatedAt: string): Promise<void> {
    if (!db.tables.has(METADATA_TABLE)) await this._createTable(db, METADATA_TABLE, METADATA_COLUMNS);
    const t = db.tables.get(METADATA_TABLE) as Table;
    for (const [key, text] of entries) {
      t.rows = t.rows.filter((r) => r[0] !== key);
      t.rows.push([key, text, updatedAt]);
    }
  }

  protected override async _columnStats(db: TableDb, table: string, column: ColumnDef) {
    const t = db.tables.get(table) as Table;
    const i = t.columns.findIndex((c) => c.name === column.name);
    const values = t.rows.map((r) => r[i] as Value).filter((v) => v !== null);
    const sorted = [...values].sort(compare);
    const numeric = values.map(Number).filter((n) => !Number.isNaN(n));
    const isNumeric = ["int64", "float64", "decimal"].includes(column.type);
    return {
      total: t.rows.length,
      nonNull: values.length,
      unique: new Set(values.map((v) => encodeValue(column.type, v))).size,
      min: sorted[0] ?? null,
      max: sorted[sorted.length - 1] ?? null,
      m1: isNumeric && numeric.length > 0 ? numeric.reduce((a, b) => a + b, 0) / numeric.length : null,
      m2: isNumeric && numeric.length > 0 ? numeric.reduce((a, b) => a + b * b, 0) / numeric.length : null,
    };
  }

  protected override async _optimize(db: TableDb, engine: TableDb): Promise<void> {
    if (this.options.withoutExtras) return super._optimize(db, engine);
    this.calls.optimize++;
  }

  protected override async _exportFile(db: TableDb, table: string, columns: ColumnDef[], filePath: string, format: FileFormat): Promise<number> {
    if (this.options.withoutExtras || format === "csv") return super._exportFile(db, table, columns, filePath, format);
    if (format !== "json") throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `no ${format} export`);
    const t = db.tables.get(table) as Table;
    writeFileSync(filePath, serialize(new Map([[table, t]])));
    return t.rows.length;
  }

  protected override async _importFile(db: TableDb, table: string, filePath: string, format: FileFormat, ifExists: IfExists): Promise<number> {
    if (this.options.withoutExtras) return super._importFile(db, table, filePath, format, ifExists);
    if (format !== "json") throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, `no ${format} import`);
    const [first] = [...deserialize(readFileSync(filePath, "utf8")).values()];
    if (!first) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "empty file");
    if (ifExists === "append") (db.tables.get(table) as Table).rows.push(...first.rows);
    else db.tables.set(table, first);
    return first.rows.length;
  }
}

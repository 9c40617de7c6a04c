import { resolve } from "node:path";
import type { DuckDBConnection, DuckDBType } from "@duckdb/node-api";
import {
  ErrorCodes,
  MdmError,
  quoteIdentifier,
  quoteLiteral,
  type BackendCapabilities,
  type ColumnDef,
  type FileFormat,
  type IfExists,
  type SelectPlan,
  type SpecialValue,
  type Value,
} from "@mdm/storage-core";
import { resultBatches } from "./chunks.js";
import { DuckdbFileBackend, type DuckdbBackendOptions, type DuckdbEngine, type DuckdbSession } from "./duckdb-file-backend.js";
import type { InstanceLease } from "./instance-cache.js";
import { TableAppender } from "./table-appender.js";
import { duckdbCsvColumn } from "./csv-columns.js";


/** Idle connections kept per database for the next operations. */
const IDLE_CONNECTIONS = 8;

/** A connection of the pool, held by one operation at a time. */
export interface PooledSession extends DuckdbSession {
  readonly connection: DuckDBConnection;
}

export interface DuckdbStorageEngine extends DuckdbEngine {
  readonly idle: DuckDBConnection[];
  readonly open: Set<DuckDBConnection>;
}

/** Default settings of the new backend (Python MDM's NewDuckDBBackend defaults). */
export const DEFAULT_DUCKDB_SETTINGS = { memoryLimit: "8GB" } as const;

const READERS: Record<FileFormat, string> = {
  parquet: "read_parquet",
  json: "read_json",
  csv: "read_csv",
};

/**
 * The new DuckDB backend: one shared instance per database file with one configuration, a pool
 * of connections (many readers at once, writes serialised by the base class), bulk writes through
 * the Appender fed with whole data chunks, vector-wise streaming reads, native Parquet/JSON/CSV
 * import and export, optimize (CHECKPOINT, ANALYZE) and metrics on every operation.
 */
export class DuckdbStorageBackend extends DuckdbFileBackend<DuckdbStorageEngine, PooledSession> {
  readonly backendType = "duckdb" as const;
  readonly implementation = "new" as const;
  readonly capabilities: BackendCapabilities = {
    values: { nan: true, infinity: true, negativeZero: false, nulInText: true, nulInJson: true, maxDecimalPrecision: Number.POSITIVE_INFINITY },
    sql: true,
    concurrentReads: true,
    serializedWrites: true,
    fileImportExport: ["parquet", "json", "csv"],
    metrics: true,
  };

  constructor(options: DuckdbBackendOptions = {}) {
    super({ ...options, metrics: true, duckdb: { ...DEFAULT_DUCKDB_SETTINGS, ...stripUndefined(options.duckdb ?? {}) } });
  }

  /** The settings every connection of this backend runs with. */
  get duckdbSettings(): Readonly<typeof this.settings> {
    return this.settings;
  }

  protected async _openEngine(path: string): Promise<DuckdbStorageEngine> {
    const lease: InstanceLease = await this.leaseInstance(path);
    return { path, lease, idle: [], open: new Set() };
  }

  protected async _closeEngine(engine: DuckdbStorageEngine): Promise<void> {
    for (const connection of engine.open) connection.closeSync();
    engine.open.clear();
    engine.idle.length = 0;
    await engine.lease.release();
    this.restrictWal(engine.path);
  }

  protected async _acquire(engine: DuckdbStorageEngine): Promise<PooledSession> {
    let connection = engine.idle.pop();
    if (!connection) {
      connection = await engine.lease.instance.connect();
      engine.open.add(connection);
    }
    return { connection, path: engine.path };
  }

  protected async _release(engine: DuckdbStorageEngine, session: PooledSession): Promise<void> {
    if (!engine.open.has(session.connection)) return; // the engine was closed meanwhile
    if (engine.idle.length < IDLE_CONNECTIONS) {
      engine.idle.push(session.connection);
    } else {
      engine.open.delete(session.connection);
      session.connection.closeSync();
    }
  }

  protected _rawConnection(engine: DuckdbStorageEngine): unknown {
    return engine.lease.instance;
  }

  /** The Appender, fed one data chunk of up to 2048 rows at a time, inside the caller's transaction. */
  protected async _insertRows(session: PooledSession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    await this._insertBatches(session, table, columns, [rows]);
  }

  /** All batches of a write (or of a segment between commits) through one Appender: no per-batch setup or round trip. */
  protected override async _insertBatches(session: PooledSession, table: string, _columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): Promise<void> {
    const appender = await TableAppender.open(session, table);
    try {
      for await (const rows of batches) appender.append(rows);
      appender.flush();
    } finally {
      appender.close();
    }
  }

  /** A streaming result read chunk by chunk (vectors of up to 2048 rows), regrouped into batches. */
  protected async *_streamSelect(session: PooledSession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    const { sql, values, types } = this.selectStatement(plan);
    const result = await session.connection.stream(sql, values, types as DuckDBType[]);
    yield* resultBatches(result, plan.batchSize, signal);
  }

  /** DuckDB's VARCHAR keeps NULs, its DOUBLE NaN and infinities; the query runs on its threads instead of streaming the rows to Node. */
  protected override _containsSql(column: string, kind: SpecialValue): string | undefined {
    if (kind === "nulInText") return `strpos(${column}, chr(0)) > 0`;
    if (kind === "nan") return `isnan(${column})`;
    if (kind === "infinity") return `isinf(${column})`;
    return undefined;
  }

  protected override async _optimize(session: PooledSession): Promise<void> {
    await session.connection.run("CHECKPOINT");
    await session.connection.run("ANALYZE");
    this.restrictWal(session.path);
  }

  /** `CREATE TABLE ... AS SELECT * FROM read_parquet/read_json/read_csv(...)`, or `INSERT ... BY NAME` to append. */
  protected override async _importFile(session: PooledSession, table: string, filePath: string, format: FileFormat, ifExists: IfExists): Promise<number> {
    const reader = READERS[format];
    if (!reader) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Unknown file format ${JSON.stringify(format)}`);
    const source = `${reader}(${quoteLiteral(resolve(filePath))})`;
    const t = quoteIdentifier(table);
    const sql = ifExists === "append" ? `INSERT INTO ${t} BY NAME SELECT * FROM ${source}` : `CREATE TABLE ${t} AS SELECT * FROM ${source}`;
    const result = await session.connection.run(sql);
    if (ifExists === "append") return result.rowsChanged;
    const counted = await session.connection.run(`SELECT COUNT(*) FROM ${t}`);
    return Number((await counted.getRows())[0]?.[0] ?? 0);
  }

  /**
   * `COPY (SELECT ...) TO` the file. CSV: each column as the text core's `csvText` gives (see
   * csv-columns.ts), so a CSV written here equals the one any other backend writes, value for value.
   */
  protected override async _exportFile(session: PooledSession, table: string, columns: ColumnDef[], filePath: string, format: FileFormat): Promise<number> {
    const options = format === "parquet" ? "FORMAT PARQUET" : format === "json" ? "FORMAT JSON" : "FORMAT CSV, HEADER";
    let source = quoteIdentifier(table);
    if (format === "csv") {
      // The engine's own types: a TIMESTAMP_NS column (its logical type is timestamp) keeps its nanoseconds.
      const probe = await session.connection.run(`SELECT * FROM ${source} LIMIT 0`);
      const native = probe.columnTypes().map((t) => t.toString());
      source = `(SELECT ${columns.map((c, i) => duckdbCsvColumn(c, native[i] as string)).join(", ")} FROM ${source})`;
    }
    const result = await session.connection.run(`COPY ${source} TO ${quoteLiteral(resolve(filePath))} (${options})`);
    return Number(result.rowsChanged);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

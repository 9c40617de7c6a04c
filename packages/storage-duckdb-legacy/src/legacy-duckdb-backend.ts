import type { DuckDBConnection, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { DuckdbFileBackend, resultBatches, type DuckdbBackendOptions, type DuckdbEngine, type DuckdbSession, type DuckdbStatementRunner } from "@mdm/storage-duckdb";
import { quoteIdentifier, type BackendCapabilities, type ColumnDef, type SelectPlan, type Value } from "@mdm/storage-core";

/** Rows per INSERT statement, like pandas `to_sql(chunksize=10000)` in Python MDM. */
export const INSERT_CHUNK_ROWS = 10_000;

export interface LegacyDuckdbEngine extends DuckdbEngine {
  readonly connection: DuckDBConnection;
  /** The session whose transaction is open on the connection, and a promise settled when it ends. */
  transaction?: { owner: SharedConnectionSession; ended: Promise<void>; end: () => void };
}

/**
 * One operation's view of the one shared connection. While a write transaction is open on the
 * connection, statements of the other sessions wait for it to end, so a read sees the table before or
 * after a write, never half of it (without this, a read on the shared connection would run inside the
 * write's transaction). Reads are materialised in one statement, so a reader never holds the
 * connection across a write and nothing can deadlock.
 */
class SharedConnectionSession implements DuckdbSession {
  readonly connection: DuckdbStatementRunner;

  constructor(
    readonly engine: LegacyDuckdbEngine,
    readonly path: string,
  ) {
    this.connection = { run: (sql, values, types) => this.run(sql, values, types) };
  }

  private async run(...args: Parameters<DuckDBConnection["run"]>): ReturnType<DuckDBConnection["run"]> {
    for (let open = this.engine.transaction; open && open.owner !== this; open = this.engine.transaction) await open.ended;
    return this.engine.connection.run(...args);
  }
}

/**
 * The legacy DuckDB backend: today's behaviour of MDM. One cached database with one connection,
 * the settings of mdm.yaml applied when it opens, rows written by multi-row INSERT statements of
 * 10,000 rows with bound parameters, reads materialised by the engine and handed out in batches,
 * no metrics, no optimize and no native file import/export. Correct, not optimised.
 */
export class LegacyDuckdbStorageBackend extends DuckdbFileBackend<LegacyDuckdbEngine, SharedConnectionSession> {
  readonly backendType = "duckdb" as const;
  readonly implementation = "legacy" as const;
  readonly capabilities: BackendCapabilities = {
    values: { nan: true, infinity: true, negativeZero: false, nulInText: true, nulInJson: true, maxDecimalPrecision: Number.POSITIVE_INFINITY },
    sql: true,
    concurrentReads: true,
    serializedWrites: true,
    fileImportExport: [],
    metrics: false,
  };

  constructor(options: DuckdbBackendOptions = {}) {
    super({ ...options, maxOpenEngines: 1, metrics: false });
  }

  protected async _openEngine(path: string): Promise<LegacyDuckdbEngine> {
    const lease = await this.leaseInstance(path);
    try {
      return { path, lease, connection: await lease.instance.connect() };
    } catch (error) {
      await lease.release();
      throw error;
    }
  }

  protected async _closeEngine(engine: LegacyDuckdbEngine): Promise<void> {
    engine.connection.closeSync();
    await engine.lease.release();
  }

  protected async _acquire(engine: LegacyDuckdbEngine): Promise<SharedConnectionSession> {
    return new SharedConnectionSession(engine, engine.path);
  }

  protected override async _begin(session: SharedConnectionSession): Promise<void> {
    // Writes are serialised by the base class: no other transaction is open here.
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    session.engine.transaction = { owner: session, ended, end };
    try {
      await session.connection.run("BEGIN");
    } catch (error) {
      this.endTransaction(session);
      throw error;
    }
  }

  protected override async _commit(session: SharedConnectionSession): Promise<void> {
    try {
      await super._commit(session);
    } finally {
      this.endTransaction(session);
    }
  }

  protected override async _rollback(session: SharedConnectionSession): Promise<void> {
    try {
      await session.connection.run("ROLLBACK");
    } finally {
      this.endTransaction(session);
    }
  }

  private endTransaction(session: SharedConnectionSession): void {
    const open = session.engine.transaction;
    if (open?.owner !== session) return;
    session.engine.transaction = undefined;
    open.end();
  }

  protected async _release(_engine: LegacyDuckdbEngine, session: SharedConnectionSession): Promise<void> {
    this.endTransaction(session); // never leave other sessions waiting on a session that is gone
  }

  protected _rawConnection(engine: LegacyDuckdbEngine): unknown {
    return engine.connection;
  }

  protected async _insertRows(session: SharedConnectionSession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    const binders = this.columnBinders(columns);
    const width = columns.length;
    const head = `INSERT INTO ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) VALUES `;
    for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
      const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
      const values: DuckDBValue[] = new Array(chunk.length * width);
      const types: Array<DuckDBType | undefined> = new Array(chunk.length * width);
      const tuples: string[] = new Array(chunk.length);
      let k = 0;
      for (let r = 0; r < chunk.length; r++) {
        const row = chunk[r] as Value[];
        const marks: string[] = new Array(width);
        for (let c = 0; c < width; c++) {
          const binder = binders[c] as (typeof binders)[number];
          values[k] = binder.write(row[c] ?? null);
          types[k] = binder.type;
          marks[c] = `$${k + 1}`;
          k++;
        }
        tuples[r] = `(${marks.join(", ")})`;
      }
      await session.connection.run(head + tuples.join(", "), values, types as DuckDBType[]);
    }
  }

  /** A plain read: the whole result materialised by DuckDB, then handed out in batches. */
  protected async *_streamSelect(session: SharedConnectionSession, plan: SelectPlan): AsyncIterable<Value[][]> {
    const { sql, values, types } = this.selectStatement(plan);
    const result = await session.connection.run(sql, values, types as DuckDBType[]);
    yield* resultBatches(result, plan.batchSize);
  }
}

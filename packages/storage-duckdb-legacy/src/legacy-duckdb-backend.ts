import { LIST, listValue, type DuckDBConnection, type DuckDBType, type DuckDBValue } from "@duckdb/node-api";
import { DuckdbFileBackend, duckdbTypeOf, resultBatches, writerFor, type DuckdbBackendOptions, type DuckdbEngine, type DuckdbSession, type DuckdbStatementRunner } from "@mdm/storage-duckdb";
import { quoteIdentifier, type BackendCapabilities, type ColumnDef, type SelectPlan, type Value } from "@mdm/storage-core";

/** Rows per INSERT statement (per execution of the prepared statement), like pandas `to_sql(chunksize=10000)` in Python MDM. */
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
 * the settings of mdm.yaml applied when it opens, rows written by one prepared INSERT per write executed
 * for every 10,000 rows with bound parameters (one list per column), reads materialised by the engine and handed out in batches,
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

  /**
   * One prepared statement per write, reused for every chunk of every batch:
   * `INSERT INTO t (a, b) SELECT UNNEST($1), UNNEST($2)`, each parameter a LIST of one column's values typed
   * by that column, at most INSERT_CHUNK_ROWS rows per execution. Inside the write's one transaction, so a
   * failing row leaves nothing of the write. A multi-row `VALUES` statement (the first version) was parsed and
   * planned again for every batch, and DuckDB's cost grows with its parameters: 3,900 rows/s into an
   * 11-column table, against 10x that with one list per column (see the README).
   */
  protected override async _insertBatches(session: SharedConnectionSession, table: string, columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): Promise<void> {
    const writers = columns.map((column) => writerFor(duckdbTypeOf(column)));
    const listTypes = columns.map((column) => LIST(duckdbTypeOf(column)));
    const names = columns.map((c) => quoteIdentifier(c.name)).join(", ");
    const unnest = columns.map((_, c) => `UNNEST($${c + 1})`).join(", ");
    // The write's transaction is this session's, so its statements go straight to the connection.
    const statement = await session.engine.connection.prepare(`INSERT INTO ${quoteIdentifier(table)} (${names}) SELECT ${unnest}`);
    try {
      for await (const rows of batches) {
        for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
          const end = Math.min(rows.length, start + INSERT_CHUNK_ROWS);
          const lists = writers.map((write, c) => {
            const items: DuckDBValue[] = new Array(end - start);
            for (let r = start; r < end; r++) items[r - start] = write((rows[r] as Value[])[c] ?? null);
            return listValue(items);
          });
          statement.bind(lists, listTypes);
          await statement.run();
        }
      }
    } finally {
      statement.destroySync();
    }
  }

  protected async _insertRows(session: SharedConnectionSession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    await this._insertBatches(session, table, columns, [rows]);
  }

  /** A plain read: the whole result materialised by DuckDB, then handed out in batches. */
  protected async *_streamSelect(session: SharedConnectionSession, plan: SelectPlan): AsyncIterable<Value[][]> {
    const { sql, values, types } = this.selectStatement(plan);
    const result = await session.connection.run(sql, values, types as DuckDBType[]);
    yield* resultBatches(result, plan.batchSize);
  }
}

import type { DuckDBConnection, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { DuckdbFileBackend, resultShape, chunkRows, type DuckdbBackendOptions, type DuckdbEngine, type DuckdbSession } from "@mdm/storage-duckdb";
import { quoteIdentifier, type BackendCapabilities, type ColumnDef, type SelectPlan, type Value } from "@mdm/storage-core";

/** Rows per INSERT statement, like pandas `to_sql(chunksize=10000)` in Python MDM. */
export const INSERT_CHUNK_ROWS = 10_000;

export interface LegacyDuckdbEngine extends DuckdbEngine {
  readonly connection: DuckDBConnection;
}

/**
 * The legacy DuckDB backend: today's behaviour of MDM. One cached database with one connection,
 * the settings of mdm.yaml applied when it opens, rows written by multi-row INSERT statements of
 * 10,000 rows with bound parameters, reads materialised by the engine and handed out in batches,
 * no metrics, no optimize and no native file import/export. Correct, not optimised.
 */
export class LegacyDuckdbStorageBackend extends DuckdbFileBackend<LegacyDuckdbEngine> {
  readonly backendType = "duckdb" as const;
  readonly implementation = "legacy" as const;
  readonly capabilities: BackendCapabilities = {
    values: { nan: true, infinity: true, negativeZero: true, nulInText: true, nulInJson: true, maxDecimalPrecision: Number.POSITIVE_INFINITY },
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

  protected async _acquire(engine: LegacyDuckdbEngine): Promise<DuckdbSession> {
    return { connection: engine.connection, path: engine.path };
  }

  protected async _release(): Promise<void> {}

  protected _rawConnection(engine: LegacyDuckdbEngine): unknown {
    return engine.connection;
  }

  protected async _insertRows(session: DuckdbSession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
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
  protected async *_streamSelect(session: DuckdbSession, plan: SelectPlan): AsyncIterable<Value[][]> {
    const { sql, values, types } = this.selectStatement(plan);
    const result = await session.connection.run(sql, values, types as DuckDBType[]);
    const { readers } = resultShape(result);
    let batch: Value[][] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const row of chunkRows(chunk, readers)) {
        batch.push(row);
        if (batch.length >= plan.batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  }
}

import { DuckDBDataChunk, DuckDBTypeId, type DuckDBAppender, type DuckDBConnection, type DuckDBType, type DuckDBValue } from "@duckdb/node-api";
import type { Value } from "@mdm/storage-core";
import { writerFor, type ValueWriter } from "./value-conversion.js";

/** Rows per data chunk handed to the Appender (DuckDB's vector size). */
const CHUNK_ROWS = 2048;
/**
 * DuckDB types whose vectors take the value model's values as they are: boolean, bigint, number and
 * string, and SqlDate / SqlTimestamp, which carry the `days` / `micros` fields the DATE and TIMESTAMP
 * vectors read (the same shape as DuckDBDateValue / DuckDBTimestampValue). The base class has already
 * normalised every value to the column's logical type, which is derived from this DuckDB type.
 */
const DIRECT_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BOOLEAN,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.VARCHAR,
  DuckDBTypeId.DATE,
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_TZ,
]);

/** A DuckDB Appender on one table with the column writers of its types, fed value-model rows. */
export class TableAppender {
  private constructor(
    private readonly appender: DuckDBAppender,
    private readonly types: DuckDBType[],
    private readonly writers: ValueWriter[],
    /** Columns whose value-model values are already what the vector stores: copied, not converted. */
    private readonly direct: boolean[],
  ) {}

  static async open(session: { connection: DuckDBConnection }, table: string): Promise<TableAppender> {
    const appender = await session.connection.createAppender(table);
    const types: DuckDBType[] = [];
    for (let c = 0; c < appender.columnCount; c++) types.push(appender.columnType(c));
    return new TableAppender(appender, types, types.map(writerFor), types.map((t) => DIRECT_TYPES.has(t.typeId)));
  }

  /** Rows in data chunks of up to CHUNK_ROWS, each column written straight into its vector (setItem, then one flush). */
  append(rows: Value[][]): void {
    const { types, writers, direct } = this;
    const width = types.length;
    for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, rows.length - start);
      const chunk = DuckDBDataChunk.create(types, count);
      for (let c = 0; c < width; c++) {
        const vector = chunk.getColumnVector(c);
        if (direct[c]) {
          for (let r = 0; r < count; r++) vector.setItem(r, ((rows[start + r] as Value[])[c] ?? null) as DuckDBValue);
        } else {
          const write = writers[c] as ValueWriter;
          for (let r = 0; r < count; r++) vector.setItem(r, write((rows[start + r] as Value[])[c] ?? null));
        }
        vector.flush();
      }
      this.appender.appendDataChunk(chunk);
    }
  }

  flush(): void {
    this.appender.flushSync();
  }

  close(): void {
    this.appender.closeSync();
  }
}

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { pgCopyNeedsEscape, pgCopyTextRow, pgTextEncoder, quoteIdentifier, type ColumnDef, type Value } from "@mdm/storage-core";

/** Characters of COPY text handed to the socket at once. */
const CHUNK_CHARS = 1 << 18;

function* copyTextChunks(columns: ColumnDef[], rows: Value[][]): Generator<string> {
  const encoders = columns.map(pgTextEncoder);
  const escape = columns.map(pgCopyNeedsEscape);
  let chunk = "";
  for (const row of rows) {
    chunk += pgCopyTextRow(row, encoders, escape);
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Rows into a table with `COPY ... FROM STDIN` in text format: values encoded by the shared
 * PostgreSQL dialect (exact bigint, -0/NaN/±Infinity, ISO dates with BC, µs timestamps with +00).
 */
export async function copyRowsIn(client: pg.PoolClient, table: string, columns: ColumnDef[], rows: Value[][]): Promise<number> {
  const sql = `COPY ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) FROM STDIN`;
  const stream = client.query(copyStreams.from(sql));
  await pipeline(Readable.from(copyTextChunks(columns, rows), { objectMode: false }), stream);
  return stream.rowCount;
}

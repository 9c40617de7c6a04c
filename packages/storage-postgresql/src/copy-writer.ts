import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { pgCopyNeedsEscape, pgCopyTextRow, pgTextEncoder, quoteIdentifier, type ColumnDef, type Value } from "@mdm/storage-core";
import { binaryFits, copyBinaryStream } from "./copy-binary.js";

/** Characters of COPY text handed to the socket at once. */
const CHUNK_CHARS = 1 << 18;

/** COPY text of a stream of batches, in chunks of about CHUNK_CHARS characters. */
async function* copyTextStream(columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): AsyncGenerator<string> {
  const encoders = columns.map(pgTextEncoder);
  const escape = columns.map(pgCopyNeedsEscape);
  let chunk = "";
  for await (const rows of batches) {
    for (const row of rows) {
      chunk += pgCopyTextRow(row, encoders, escape);
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = "";
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}

export type CopyFormat = "binary" | "text";

/**
 * A stream of batches into a table with one `COPY ... FROM STDIN`: the server parses and inserts
 * while the next batch is produced. Binary when the table's column types are exactly ours (the
 * server parses nothing), else text. Both encodings are exact (see the README).
 */
export async function copyBatchesIn(client: pg.PoolClient, schema: string, table: string, columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>, format: CopyFormat | "auto" = "auto"): Promise<number> {
  const binary = format === "binary" || (format === "auto" && (await binaryFits(client, schema, table, columns)));
  const sql = `COPY ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) FROM STDIN${binary ? " (FORMAT binary)" : ""}`;
  const stream = client.query(copyStreams.from(sql));
  const source = binary ? Readable.from(copyBinaryStream(columns, batches)) : Readable.from(copyTextStream(columns, batches));
  await pipeline(source, stream);
  return stream.rowCount;
}

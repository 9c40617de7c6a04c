import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { pgCopyNeedsEscape, pgCopyTextRow, pgTextEncoder, quoteIdentifier, type ColumnDef, type Value } from "@mdm/storage-core";
import { binaryFits, copyBinaryChunks } from "./copy-binary.js";

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

export type CopyFormat = "binary" | "text";

/**
 * Rows into a table with `COPY ... FROM STDIN`: binary when the table's column types are exactly
 * ours (the server parses nothing), else text. Both encodings are exact (see the README).
 */
export async function copyRowsIn(client: pg.PoolClient, schema: string, table: string, columns: ColumnDef[], rows: Value[][], format: CopyFormat | "auto" = "auto"): Promise<number> {
  const binary = format === "binary" || (format === "auto" && (await binaryFits(client, schema, table, columns)));
  const sql = `COPY ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) FROM STDIN${binary ? " (FORMAT binary)" : ""}`;
  const stream = client.query(copyStreams.from(sql));
  const source = binary ? Readable.from(copyBinaryChunks(columns, rows)) : Readable.from(copyTextChunks(columns, rows));
  await pipeline(source, stream);
  return stream.rowCount;
}

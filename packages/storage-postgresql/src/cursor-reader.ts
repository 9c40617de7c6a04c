import type pg from "pg";
import Cursor from "pg-cursor";
import { ErrorCodes, MdmError, pgParam, pgTypes, type Value } from "@mdm/storage-core";

/**
 * Rows of a query through a server-side portal (pg-cursor), `batchSize` rows at a time, so memory
 * stays bounded by the batch whatever the table size. Values are parsed by the shared dialect.
 */
export async function* cursorBatches(client: pg.PoolClient, sql: string, params: readonly Value[], batchSize: number, signal?: AbortSignal): AsyncGenerator<Value[][]> {
  const cursor = client.query(new Cursor<Value[]>(sql, params.map(pgParam), { rowMode: "array", types: pgTypes }));
  try {
    for (;;) {
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
      const rows = await cursor.read(batchSize);
      if (rows.length === 0) return;
      yield rows;
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
}

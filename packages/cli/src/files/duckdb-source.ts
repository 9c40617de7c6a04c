import { resolve } from "node:path";
import { ErrorCodes, MdmError, quoteIdentifier, quoteLiteral, toMdmError } from "@mdm/storage-core";
import type { DataFile } from "./discover.js";
import type { TableSource } from "./source.js";

const READERS = { parquet: "read_parquet", json: "read_json_auto" } as const;

/**
 * A Parquet or JSON file read through an in-memory DuckDB, streaming (one data chunk at a time): the file's
 * own types (Parquet) or DuckDB's detection (JSON) give the columns, mapped to logical types as the DuckDB
 * backend maps them.
 */
export async function duckdbSource(file: DataFile, options: { trackDistinct?: string } = {}): Promise<TableSource & { distinct?: number }> {
  const reader = READERS[file.format as keyof typeof READERS];
  if (!reader) throw new MdmError(ErrorCodes.INTERNAL, `No DuckDB reader for ${file.format}`);
  const from = `${reader}(${quoteLiteral(resolve(file.path))})`;
  // Imported here: DuckDB's native library is loaded only when a Parquet or JSON file is read.
  const { acquireInstance, resultBatches, resultShape } = await import("@mdm/storage-duckdb");
  const lease = await acquireInstance(":memory:", { threads: "1" });
  const connection = await lease.instance.connect();
  const fail = (error: unknown) => toMdmError(error, ErrorCodes.INVALID_ARGUMENT, `${file.path}`);
  try {
    const counted = await connection.runAndReadAll(`SELECT COUNT(*) FROM ${from}`).catch((e) => Promise.reject(fail(e)));
    const rowCount = Number(counted.getRows()[0]?.[0] ?? 0);
    const probe = await connection.stream(`SELECT * FROM ${from} LIMIT 0`).catch((e) => Promise.reject(fail(e)));
    const { columns } = resultShape(probe);
    let distinct: number | undefined;
    if (options.trackDistinct && columns.some((c) => c.name === options.trackDistinct)) {
      const d = await connection.runAndReadAll(`SELECT COUNT(DISTINCT ${quoteIdentifier(options.trackDistinct)}) FROM ${from}`);
      distinct = Number(d.getRows()[0]?.[0] ?? 0);
    }
    return {
      columns,
      rowCount,
      distinct,
      async *batches(batchSize: number, signal?: AbortSignal) {
        const result = await connection.stream(`SELECT * FROM ${from}`).catch((e) => Promise.reject(fail(e)));
        yield* resultBatches(result, batchSize, signal);
      },
      async close() {
        connection.closeSync();
        await lease.release();
      },
    };
  } catch (error) {
    connection.closeSync();
    await lease.release();
    throw error;
  }
}

import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { stringify } from "csv-stringify";
import { isSqlDate, isSqlTimestamp, type ColumnDef, type RowBatch, type Value } from "@mdm/storage-core";

/**
 * The CSV text of a value, chosen so that registering the exported file infers the same type and value
 * back: floats keep a decimal point (`1.0`) and their sign (`-0.0`), NaN and infinities are spelled out,
 * timestamps carry six fractional digits (and `Z` for timestamptz). NULL is an empty field; the empty
 * string is written quoted (`""`). Decimals, JSON and BLOBs (hex, `\x...`) are written as text.
 */
export function csvText(column: ColumnDef, value: Value): string | null {
  if (value === null) return null;
  switch (column.type) {
    case "float64": {
      const n = value as number;
      if (Number.isNaN(n)) return "NaN";
      if (n === Infinity) return "Infinity";
      if (n === -Infinity) return "-Infinity";
      if (Object.is(n, -0)) return "-0.0";
      const s = String(n);
      return /[.eE]/.test(s) ? s : `${s}.0`;
    }
    case "timestamp":
      return isSqlTimestamp(value) ? value.toString() : String(value);
    case "timestamptz":
      return isSqlTimestamp(value) ? value.toISOString() : String(value);
    case "date":
      return isSqlDate(value) ? value.toString() : String(value);
    case "blob":
      return `\\x${Buffer.from(value as Uint8Array).toString("hex")}`;
    case "boolean":
      return value ? "true" : "false";
    default:
      return typeof value === "bigint" ? value.toString() : String(value);
  }
}

/**
 * Write batches to a CSV file (the caller gives a temporary name and renames it when every file is
 * complete). A failed write, a full disk included, rejects with the file-system error; the file may
 * be partial and is the caller's to remove.
 */
export async function writeCsv(path: string, columns: ColumnDef[], batches: AsyncIterable<RowBatch>, delimiter = ","): Promise<number> {
  // NULL stays an empty field; only the empty string is quoted.
  const stringifier = stringify({ delimiter, record_delimiter: "\n", cast: { string: (s) => (s === "" ? { value: "", quoted_empty: true } : s) } });
  // pipeline() destroys both streams on an error of either (ENOSPC from the file): a write waiting for
  // "drain" then rejects instead of the error escaping as an unhandled 'error' event.
  const done = pipeline(stringifier, createWriteStream(path, { flags: "wx" }));
  // The file can fail while a batch is being read: keep its error for the next write (never unhandled).
  let failure: unknown;
  done.catch((error: unknown) => {
    failure = error;
  });
  let rows = 0;
  try {
    const write = async (record: Array<string | null>) => {
      if (failure !== undefined) throw failure;
      if (!stringifier.write(record)) await once(stringifier, "drain");
    };
    await write(columns.map((c) => c.name));
    for await (const batch of batches) {
      for (const row of batch.rows) {
        await write(columns.map((c, i) => csvText(c, row[i] as Value)));
        rows++;
      }
    }
    stringifier.end();
    await done;
    return rows;
  } catch (error) {
    stringifier.destroy();
    await done.catch(() => undefined);
    // An error of the file (ENOSPC) says more than the "premature close" a write waiting for it saw.
    throw failure instanceof Error && "syscall" in failure ? failure : error;
  }
}

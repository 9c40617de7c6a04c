import { createWriteStream, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
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

/** Write batches to a CSV file through a temporary file renamed into place when complete. */
export async function writeCsv(path: string, columns: ColumnDef[], batches: AsyncIterable<RowBatch>, delimiter = ","): Promise<number> {
  const temporary = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(temporary);
  // NULL stays an empty field; only the empty string is quoted.
  const stringifier = stringify({ delimiter, record_delimiter: "\n", cast: { string: (s) => (s === "" ? { value: "", quoted_empty: true } : s) } });
  stringifier.pipe(out);
  let rows = 0;
  try {
    const write = async (record: Array<string | null>) => {
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
    await once(out, "finish");
    renameSync(temporary, path);
    return rows;
  } catch (error) {
    stringifier.destroy();
    out.destroy();
    rmSync(temporary, { force: true });
    throw error;
  }
}

import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { ColumnDef, Value } from "./types.js";
import { isSqlDate, isSqlTimestamp } from "./values.js";

/**
 * The CSV that `exportFile(..., "csv")` writes, whichever engine writes it (DuckDB's and PostgreSQL's
 * own COPY give the same values, see their backends): a header line, `,` between fields, `\n` after
 * each record, a field quoted only when it holds `,`, `"`, CR or LF, or is the empty string. NULL is an
 * empty field, never quoted; the empty string is `""`, so the two stay apart.
 *
 * The text of a value is chosen so that registering the file infers the same type and value back:
 * floats keep a decimal point (`1.0`) and their sign (`-0.0`), NaN and infinities are spelled out,
 * booleans are `true`/`false`, timestamps are `YYYY-MM-DD HH:MM:SS.ffffff` (PostgreSQL's COPY drops
 * the fraction's trailing zeros, the same value) and timestamptz `YYYY-MM-DDTHH:MM:SS.ffffffZ`, BLOBs
 * are `\x` and lowercase hex. Decimals, JSON and text are their text.
 */
export function csvText(column: ColumnDef, value: Value): string | null {
  if (value === null) return null;
  switch (column.type) {
    case "float64":
      return float64Text(value as number);
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

/** A double's shortest exact text, with a decimal point (`1.0`, `-0.0`) unless it has an exponent; NaN and the infinities spelled out. */
export function float64Text(n: number): string {
  const s = String(n);
  if (s.includes(".") || s.includes("e")) return s;
  if (n !== n) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return n === 0 && 1 / n < 0 ? "-0.0" : `${s}.0`;
}

const NEEDS_QUOTES = /[",\r\n]/;

/** One field of a record: see `csvText` for the rules. */
export function csvField(text: string | null): string {
  if (text === null) return "";
  if (text === "") return '""';
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The field writer of a column (the switch on its type taken once, not per value). */
export function csvFieldWriter(column: ColumnDef): (value: Value) => string {
  switch (column.type) {
    case "int64":
      return (v) => (v as bigint).toString();
    case "float64":
      return (v) => float64Text(v as number);
    case "text":
      return (v) => csvField(v as string);
    case "boolean":
      return (v) => (v ? "true" : "false");
    default:
      return (v) => csvField(csvText(column, v));
  }
}

/** Text is flushed to the file in pieces of about this many characters (one write each). */
const FLUSH_AT = 1 << 20;

/**
 * Write a header and every row of `batches` to a new file at `path` (it must not exist), in large
 * writes. Returns the rows written. `writers` give the field of each column's non-NULL values (default:
 * `csvFieldWriter`; a backend passes its own to format stored values without converting them first).
 * A failed write, a full disk included, rejects with the file system's error; the partial file is the
 * caller's to remove.
 */
export async function writeCsvFile<T>(
  path: string,
  columns: readonly ColumnDef[],
  batches: AsyncIterable<T[][]> | Iterable<T[][]>,
  writers: ReadonlyArray<(value: NonNullable<T>, row: number) => string> = columns.map(csvFieldWriter) as never,
): Promise<number> {
  const out = createWriteStream(path, { flags: "wx" });
  // An error (EEXIST at open, ENOSPC at a write) is kept in out.errored and thrown at the next flush;
  // events.once rejects when the stream emits "error" while it waits.
  out.on("error", () => undefined);
  const flush = async (text: string) => {
    if (out.errored) throw out.errored;
    if (!out.write(text)) await once(out, "drain");
  };
  let rows = 0;
  try {
    await once(out, "open");
    let text = `${columns.map((c) => csvField(c.name)).join(",")}\n`;
    for await (const batch of batches) {
      text += csvLines(batch, writers, rows);
      rows += batch.length;
      if (text.length >= FLUSH_AT) {
        await flush(text);
        text = "";
      }
    }
    await flush(text);
    if (out.errored) throw out.errored;
    out.end();
    await once(out, "close");
    if (out.errored) throw out.errored;
    return rows;
  } catch (error) {
    out.destroy();
    throw out.errored ?? error;
  }
}

/** The CSV records of a batch (a plain function: V8 optimises its loop, not one inside an async function). */
function csvLines<T>(batch: T[][], writers: ReadonlyArray<(value: NonNullable<T>, row: number) => string>, first: number): string {
  const n = writers.length;
  let text = "";
  for (let r = 0; r < batch.length; r++) {
    const row = batch[r] as T[];
    let line = "";
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (i > 0) line += ",";
      if (v !== null && v !== undefined) line += (writers[i] as (value: NonNullable<T>, row: number) => string)(v as NonNullable<T>, first + r);
    }
    text += `${line}\n`;
  }
  return text;
}

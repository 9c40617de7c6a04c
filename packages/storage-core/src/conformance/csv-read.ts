import type { ColumnDef, Value } from "../types.js";
import { SqlDate, SqlTimestamp } from "../values.js";

/**
 * A small RFC 4180 reader for the conformance checks (not for users' files: the CLI has csv-parse):
 * records of fields, `null` for an empty field that was not quoted (NULL in `csvText`'s rules).
 */
export function readCsvRecords(text: string): Array<Array<string | null>> {
  const records: Array<Array<string | null>> = [];
  let record: Array<string | null> = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endField = () => {
    record.push(field === "" && !quoted ? null : field);
    field = "";
    quoted = false;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"' && field === "" && !quoted) {
      quoted = true;
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quoted field");
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else if (c === ",") {
      endField();
      i++;
    } else if (c === "\n") {
      endField();
      records.push(record);
      record = [];
      i++;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== "" || quoted || record.length > 0) {
    endField();
    records.push(record);
  }
  return records;
}

const FLOAT_WORDS: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** The value of a field as `csvText` wrote it (the inverse of csvText). */
export function csvValue(column: ColumnDef, text: string | null): Value {
  if (text === null) return null;
  switch (column.type) {
    case "boolean":
      if (text !== "true" && text !== "false") throw new Error(`not true/false: ${JSON.stringify(text)}`);
      return text === "true";
    case "int64":
      return BigInt(text);
    case "float64":
      return text in FLOAT_WORDS ? (FLOAT_WORDS[text] as number) : Number(text);
    case "date":
      return SqlDate.parse(text);
    case "timestamp":
      if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?$/.test(text)) throw new Error(`not YYYY-MM-DD HH:MM:SS[.ffffff]: ${JSON.stringify(text)}`);
      return SqlTimestamp.parse(text);
    case "timestamptz":
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(text)) throw new Error(`not YYYY-MM-DDTHH:MM:SS.ffffffZ: ${JSON.stringify(text)}`);
      return SqlTimestamp.parse(text);
    case "blob":
      if (!text.startsWith("\\x")) throw new Error(`not \\x hex: ${JSON.stringify(text)}`);
      return new Uint8Array(Buffer.from(text.slice(2), "hex"));
    default:
      return text;
  }
}

import { resolve } from "node:path";
import { parse } from "csv-parse/sync";
import { parse as parseStream } from "csv-parse";
import { ErrorCodes, MdmError, quoteIdentifier, quoteLiteral } from "@mdm/storage-core";
import { openDataFile, type DataFile } from "./discover.js";
import { ColumnInference, SAMPLE_ROWS } from "./infer.js";
import { castExpression, inferenceQuery, readInference, type InferredColumn } from "./inference-sql.js";
import type { ScanEngine } from "./scan-engine.js";
import type { SourceOptions } from "./source.js";
import type { TableSource } from "./table-source.js";
import { typedSource } from "./typed-source.js";

/** The candidate types common to each column's non-NULL values in `rows` (every type for a column with none). */
function sampleCandidates(rows: unknown[][], columns: readonly string[]): number[] {
  const inference = columns.map((name) => new ColumnInference(name));
  for (const row of rows) inference.forEach((column, i) => column.add(row[i] as string | null));
  return inference.map((column) => column.candidates);
}


/** The start of the file (decompressed), at most about 1 MB. */
async function firstText(file: DataFile): Promise<string> {
  const stream = openDataFile(file);
  let text = "";
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString("utf8");
      if (text.length > 1 << 20) break;
    }
  } finally {
    stream.destroy();
  }
  return text;
}

/** The delimiter of a CSV file (`start`: its first text): the most frequent of `,` `;` `|` tab outside quotes in its header (as pandas' sniffer would find). */
function sniffDelimiter(file: DataFile, start: string): string {
  if (file.format === "tsv") return "\t";
  const nl = start.indexOf("\n");
  const line = (nl >= 0 ? start.slice(0, nl) : start).replace(/"[^"]*"/g, "");
  let best = ",";
  let bestCount = 0;
  for (const candidate of [",", "\t", ";", "|"]) {
    const count = line.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

/** Header names as pandas gives them: an empty name is `Unnamed: <i>`, a repeated one `<name>.<n>`. */
function headerNames(header: Array<string | null>): string[] {
  const seen = new Map<string, number>();
  return header.map((raw, i) => {
    let name = raw === null || raw.trim() === "" ? `Unnamed: ${i}` : raw;
    const base = name;
    let n = seen.get(base) ?? 0;
    while (seen.has(name)) name = `${base}.${++n}`;
    seen.set(base, n);
    seen.set(name, 0);
    return name;
  });
}


/** The header record of the file's first text (quoted fields and a BOM as csv-parse reads them). */
function headerRecord(file: DataFile, text: string, delimiter: string): string[] {
  let records: string[][];
  try {
    records = parse(text, { delimiter, bom: true, to_line: 1, relax_quotes: false, record_delimiter: ["\r\n", "\n", "\r"] }) as string[][];
  } catch (error) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `${file.path}: its header line cannot be read: ${(error as Error).message}`, { details: { file: file.path } });
  }
  const header = records[0];
  if (!header || header.length === 0) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `${file.path} is empty: a header line is needed`, { details: { file: file.path } });
  return header;
}

/**
 * The line (1-based) where data record `record` (1-based, the header not counted) starts, read by csv-parse
 * with the file's delimiter: a quoted field may span lines, so records and lines differ. Only called to
 * name a refused value.
 */
async function csvLineOf(file: DataFile, delimiter: string, record: number): Promise<number | undefined> {
  const parser = openDataFile(file).pipe(parseStream({ delimiter, bom: true, info: true, skip_empty_lines: true, relax_column_count: true, record_delimiter: ["\r\n", "\n", "\r"] }));
  try {
    for await (const { record: fields, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; records: number } }>) {
      // info.lines is the line the record ends on; less the line breaks inside its fields.
      if (info.records === record + 1) return info.lines - fields.reduce((n, f) => n + (f.match(/\r\n|\n|\r/g)?.length ?? 0), 0);
    }
  } catch {
    // A file csv-parse reads differently from DuckDB: the caller names the record instead.
  } finally {
    parser.destroy();
  }
  return undefined;
}

/**
 * A CSV or TSV file (optionally gzip-compressed) scanned by DuckDB's CSV reader, every field as text (no
 * sniffing of types: our inference decides them, in one aggregate over the whole file). An empty field is
 * NULL, a quoted empty field the empty string. The typed rows are read in a second scan.
 */
export async function csvSource(engine: ScanEngine, file: DataFile, options: SourceOptions = {}): Promise<TableSource> {
  const start = await firstText(file);
  const delimiter = sniffDelimiter(file, start);
  const names = headerNames(headerRecord(file, start, delimiter));
  // Internal names c0, c1, ...: DuckDB compares names without case, a file may not.
  const internal = names.map((_, i) => `c${i}`);
  const columnTypes = internal.map((c) => `${quoteLiteral(c)}: 'VARCHAR'`).join(", ");
  const read = `read_csv(${quoteLiteral(resolve(file.path))}, delim = ${quoteLiteral(delimiter)}, quote = '"', escape = '"', header = true, auto_detect = false, columns = {${columnTypes}}, allow_quoted_nulls = false, compression = ${file.gzip ? "'gzip'" : "'none'"}, strict_mode = true)`;
  // A blank line is no record (as csv-parse skips it); DuckDB reads it as NULL in a one-column file.
  const from = names.length === 1 ? `(SELECT * FROM ${read} WHERE c0 IS NOT NULL)` : read;
  const target = options.trackDistinct === undefined ? undefined : internal[names.indexOf(options.trackDistinct)];
  // The first rows narrow each column's candidate types; the whole file is then checked for those alone.
  const allowed = sampleCandidates(await engine.rows(`SELECT * FROM ${from} LIMIT ${SAMPLE_ROWS}`), internal);
  const [row] = await engine.rows(inferenceQuery(from, internal, target, allowed));
  const inference = readInference(row as unknown[], internal, target);
  const inferred = inference.columns.map((c, i) => ({ ...c, name: names[i] as string }));
  const typeOf = (c: InferredColumn) => (options.asText?.has(c.name) ? "text" : c.type);
  const select = inferred.map((c, i) => `${castExpression(internal[i] as string, typeOf(c))} AS ${quoteIdentifier(c.name)}`).join(", ");
  return typedSource(engine, {
    file: file.path,
    columns: inferred.map((c) => ({ name: c.name, type: typeOf(c), nullable: true })),
    rowCount: inference.rowCount,
    inferred,
    distinctOf: "texts",
    query: `SELECT ${select} FROM ${from}`,
    exact: true,
    lineOf: (record) => csvLineOf(file, delimiter, record),
  });
}

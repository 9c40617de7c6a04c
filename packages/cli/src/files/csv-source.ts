import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parse } from "csv-parse";
import { ErrorCodes, MdmError, type ColumnDef, type Value } from "@mdm/storage-core";
import type { DataFile } from "./discover.js";
import { ColumnInference, fieldConverter, type FieldConverter } from "./infer.js";
import type { TableSource } from "./source.js";

type Field = string | null;

function open(file: DataFile): Readable {
  const raw = createReadStream(file.path, { highWaterMark: 1 << 20 });
  if (!file.gzip) return raw;
  const gunzip = createGunzip();
  raw.on("error", (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** The first line of the file (decompressed), at most 1 MB. */
async function firstLine(file: DataFile): Promise<string> {
  const stream = open(file);
  let text = "";
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString("utf8");
      const nl = text.indexOf("\n");
      if (nl >= 0) return text.slice(0, nl);
      if (text.length > 1 << 20) break;
    }
  } finally {
    stream.destroy();
  }
  return text;
}

/** The delimiter of a CSV file: the most frequent of `,` `;` `|` tab outside quotes in its header (as pandas' sniffer would find). */
export async function sniffDelimiter(file: DataFile): Promise<string> {
  if (file.format === "tsv") return "\t";
  const line = (await firstLine(file)).replace(/"[^"]*"/g, "");
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

/**
 * An empty field is NULL; a quoted empty field (`""`) is the empty string. csv-parse gives both as "";
 * which one it was is read from the record's raw text, for the records that have an empty field only (a
 * `cast` function would tell, but makes the parser an order of magnitude slower).
 */
function withNulls(record: string[], raw: string, delimiter: string): Field[] {
  let empty = false;
  for (let i = 0; i < record.length; i++) {
    if (record[i] === "") {
      empty = true;
      break;
    }
  }
  if (!empty) return record;
  const out: Field[] = record;
  let field = 0;
  let start = 0;
  let inQuotes = false;
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === "\n" || raw[end - 1] === "\r")) end--;
  for (let i = 0; i <= end; i++) {
    const ch = i < end ? raw[i] : delimiter;
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (i === end || raw.startsWith(delimiter, i))) {
      if (out[field] === "" && i - start === 0) out[field] = null;
      field++;
      start = i + delimiter.length;
      i += delimiter.length - 1;
    }
  }
  return out;
}

/**
 * Records of the file in groups (whatever the parser has ready), read with `read()` rather than one
 * promise per record: the per-record cost of async iteration dominated the parse.
 */
async function* recordGroups(file: DataFile, delimiter: string, signal?: AbortSignal): AsyncGenerator<Field[][]> {
  const input = open(file);
  const parser = parse({ delimiter, bom: true, raw: true, relax_quotes: false, skip_empty_lines: true, record_delimiter: ["\r\n", "\n", "\r"] });
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  input.on("error", (e) => parser.destroy(e));
  parser.on("readable", notify);
  parser.on("end", () => {
    ended = true;
    notify();
  });
  parser.on("error", (e) => {
    failure = e;
    notify();
  });
  input.pipe(parser);
  try {
    for (;;) {
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "Registration interrupted");
      if (failure) throw failure;
      const group: Field[][] = [];
      let item: { record: string[]; raw: string } | null;
      while (group.length < 4096 && (item = parser.read() as { record: string[]; raw: string } | null) !== null) group.push(withNulls(item.record, item.raw, delimiter));
      if (group.length > 0) {
        yield group;
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (ended || failure || parser.readableLength > 0) notify();
      });
    }
  } catch (error) {
    if (error instanceof MdmError) throw error;
    const e = error as { message?: string };
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `${file.path}: ${e.message ?? String(error)}`, { details: { file: file.path } });
  } finally {
    input.destroy();
    parser.destroy();
  }
}

/** Header names as pandas gives them: an empty name is `Unnamed: <i>`, a repeated one `<name>.<n>`. */
function headerNames(header: Field[]): string[] {
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

/**
 * A CSV or TSV file (optionally gzip-compressed) read twice, streaming: the first pass infers each column's
 * type from every value; the second converts and hands out batches. Memory is bounded by the batch size.
 */
export async function csvSource(file: DataFile, options: { trackDistinct?: string; signal?: AbortSignal } = {}): Promise<TableSource & { inference: ColumnInference[] }> {
  const delimiter = await sniffDelimiter(file);
  let names: string[] | undefined;
  let inference: ColumnInference[] = [];
  let rowCount = 0;
  for await (const group of recordGroups(file, delimiter, options.signal)) {
    for (const record of group) {
      if (!names) {
        names = headerNames(record);
        inference = names.map((n) => new ColumnInference(n, n === options.trackDistinct ? 1000 : 0));
        continue;
      }
      for (let c = 0; c < record.length; c++) (inference[c] as ColumnInference).add(record[c] as Field);
      rowCount++;
    }
  }
  if (!names) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `${file.path} is empty: a header line is needed`);
  const columns: ColumnDef[] = inference.map((i) => i.column());
  const converters: FieldConverter[] = columns.map(fieldConverter);
  const width = columns.length;
  return {
    columns,
    rowCount,
    inference,
    async *batches(batchSize: number, signal?: AbortSignal) {
      let batch: Value[][] = [];
      let header = true;
      for await (const group of recordGroups(file, delimiter, signal)) {
        for (const record of group) {
          if (header) {
            header = false;
            continue;
          }
          const row: Value[] = new Array(width);
          for (let c = 0; c < width; c++) {
            const field = record[c] as Field;
            row[c] = field === null ? null : (converters[c] as FieldConverter)(field);
          }
          batch.push(row);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    },
  };
}

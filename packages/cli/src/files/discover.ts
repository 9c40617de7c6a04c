import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { basename, join, resolve } from "node:path";
import { CliError, ExitCodes, UsageError } from "../exit-codes.js";

export type DataFormat = "csv" | "tsv" | "parquet" | "json";

export interface DataFile {
  /** The table it becomes. */
  table: string;
  path: string;
  format: DataFormat;
  gzip: boolean;
}

/** The file's bytes, decompressed when it is gzip. */
export function openDataFile(file: DataFile): Readable {
  const raw = createReadStream(file.path, { highWaterMark: 1 << 20 });
  if (!file.gzip) return raw;
  const gunzip = createGunzip();
  raw.on("error", (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** Extensions read, longest first (Python MDM's list without Excel, plus JSON lines). */
const EXTENSIONS: Array<[string, DataFormat, boolean]> = [
  [".csv.gz", "csv", true],
  [".tsv.gz", "tsv", true],
  [".json.gz", "json", true],
  [".jsonl.gz", "json", true],
  [".ndjson", "json", false],
  [".parquet", "parquet", false],
  [".jsonl", "json", false],
  [".json", "json", false],
  [".csv", "csv", false],
  [".tsv", "tsv", false],
  [".txt", "csv", false],
];

/** File stems Python MDM's auto-detection maps to its standard tables. */
const STANDARD_TABLES: Record<string, string> = {
  train: "train",
  training: "train",
  test: "test",
  testing: "test",
  validation: "validation",
  valid: "validation",
  val: "validation",
  dev: "validation",
  sample_submission: "sample_submission",
  samplesubmission: "sample_submission",
  "sample-submission": "sample_submission",
  submission: "sample_submission",
};

function splitName(file: string): { stem: string; format: DataFormat; gzip: boolean } | undefined {
  const lower = file.toLowerCase();
  for (const [ext, format, gzip] of EXTENSIONS) {
    if (lower.endsWith(ext) && lower.length > ext.length) return { stem: file.slice(0, -ext.length), format, gzip };
  }
  return undefined;
}

/** A table name from a file stem: lower case, runs of other characters as `_`. */
function tableOf(stem: string): string {
  const key = stem.trim().toLowerCase();
  if (STANDARD_TABLES[key]) return STANDARD_TABLES[key] as string;
  const cleaned = key.replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return cleaned === "" ? "data" : /^[0-9]/.test(cleaned) ? `t_${cleaned}` : cleaned;
}

/**
 * The data files of a registration, as Python MDM detects them: a single file becomes table `data`; in a
 * directory, `train`/`training`, `test`/`testing`, `validation`/`val`/`dev` and `sample_submission` become
 * those tables and any other data file a table named after its stem.
 */
export function discoverDataFiles(input: string): DataFile[] {
  const path = resolve(input);
  if (!existsSync(path)) throw new CliError(`No such file or directory: ${input}`, ExitCodes.NOT_FOUND);
  const stat = statSync(path);
  if (stat.isFile()) {
    const parts = splitName(basename(path));
    if (!parts) throw new UsageError(unsupported(basename(path)));
    return [{ table: "data", path, format: parts.format, gzip: parts.gzip }];
  }
  if (!stat.isDirectory()) throw new UsageError(`${input} is neither a file nor a directory`);
  const files: DataFile[] = [];
  const skipped: string[] = [];
  for (const entry of readdirSync(path).sort()) {
    const full = join(path, entry);
    if (entry.startsWith(".") || !statSync(full).isFile()) continue;
    const parts = splitName(entry);
    if (!parts) {
      skipped.push(entry);
      continue;
    }
    files.push({ table: tableOf(parts.stem), path: full, format: parts.format, gzip: parts.gzip });
  }
  if (files.length === 0) {
    throw new UsageError(`No data files (CSV, TSV, Parquet, JSON) in ${input}${skipped.length ? `; found ${skipped.slice(0, 5).join(", ")}` : ""}`);
  }
  const seen = new Map<string, string>();
  for (const f of files) {
    const other = seen.get(f.table);
    if (other) throw new UsageError(`Both ${basename(other)} and ${basename(f.path)} would become table ${JSON.stringify(f.table)}; keep one`);
    seen.set(f.table, f.path);
  }
  const order = ["train", "test", "validation", "sample_submission"];
  const rank = (t: string) => (order.includes(t) ? order.indexOf(t) : order.length);
  return files.sort((a, b) => rank(a.table) - rank(b.table) || (a.table < b.table ? -1 : 1));
}

function unsupported(file: string): string {
  if (/\.xlsx?$/i.test(file)) return `${file}: Excel files are not read; save the sheet as CSV or Parquet`;
  return `${file}: unsupported file type (CSV, TSV, Parquet, JSON, and .csv.gz/.tsv.gz are read)`;
}

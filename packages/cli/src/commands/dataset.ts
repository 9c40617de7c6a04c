import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline/promises";
import {
  BACKEND_TYPES,
  ErrorCodes,
  METADATA_COLUMNS,
  encodeMetadataValue,
  METADATA_TABLE,
  MdmError,
  fileSystemError,
  isMdmError,
  normalizeDatasetName,
  quoteIdentifier,
  coercedLines,
  type BackendType,
  type IStorageBackend,
  type Implementation,
  type LogicalType,
  type RegistryEntry,
  type CoercedCounts,
  type StorageEngine,
  type Value,
} from "@mdm/storage-core";
import { orderTables } from "@mdm/migration";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { discoverDataFiles, type DataFile } from "../files/discover.js";
import { removeDatasetLeftovers } from "./doctor.js";
import { problemTypeOf } from "../files/infer.js";
import type { InferredColumn } from "../files/inference-sql.js";
import { COLUMNS_TABLE, COLUMNS_TABLE_COLUMNS, STATISTICS_TABLE, STATISTICS_TABLE_COLUMNS, columnCounts, columnsRows, statisticsRows } from "../dataset-statistics.js";
import { ScanEngine } from "../files/scan-engine.js";
import { openSource, type TableSource } from "../files/source.js";
import { SPECIAL_VALUE_SQL, coerced, refusal, unsupportedOf } from "../files/unsupported-values.js";
import { checkChosenColumns, chosenTypes, withChosenTypes, type ChosenType, type ColumnTypeOrigin } from "../files/chosen-types.js";
import { colour, formatBytes, print, printJson, table } from "../output.js";
import { TableProgress } from "../progress.js";

/** `mdm dataset info --json` (and one element of `mdm dataset register --json`). */
export interface DatasetInfo {
  name: string;
  backend: BackendType;
  implementation: Implementation;
  location: string;
  /** `null_count` and `unique_count` (approximate) where the dataset has `_columns` (written by registration). */
  tables: Array<{ name: string; rows: number; columns: InfoColumn[] }>;
  target_column: string | null;
  id_columns: string[];
  problem_type: string | null;
  created_at: string | null;
  size_bytes: number | null;
  registry_file: string;
  /** Values that `--coerce-unsupported` changed, per table and column (absent when none was). */
  coerced?: Record<string, CoercedCounts>;
  /** Values `mdm migrate --coerce-unsupported` changed on the way to this backend, per table and column. */
  migration_coerced?: Record<string, CoercedCounts>;
}

/** A column of `mdm dataset info`. */
export interface InfoColumn {
  name: string;
  type: LogicalType;
  /**
   * Why it has that type: `inferred` by registration from the file, `chosen` by the user (`--dtype`,
   * `--parse-dates`), `cast` by a migration (`--cast`), or `stored`: the type its engine holds, in a dataset
   * registration did not write (Python MDM's).
   */
  type_origin: "inferred" | "chosen" | "cast" | "stored";
  /** For chosen and cast types: the option, and the type the values were converted from. */
  type_option?: string;
  converted_from?: string;
  null_count?: number;
  unique_count?: number;
}

/** The origin of a column's type, from the dataset's `column_types` metadata (`ColumnTypeOrigin` per table and column). */
function typeOrigin(origins: unknown, registered: boolean, table: string, column: string): Pick<InfoColumn, "type_origin" | "type_option" | "converted_from"> {
  const entry = (origins as Record<string, Record<string, ColumnTypeOrigin> | undefined> | undefined)?.[table]?.[column];
  if (entry && (entry.origin === "chosen" || entry.origin === "cast")) return { type_origin: entry.origin, type_option: String(entry.option), converted_from: String(entry.from) };
  return { type_origin: registered ? "inferred" : "stored" };
}

/** One element of `mdm dataset list --json`. */
export interface DatasetListItem {
  name: string;
  backend: string;
  location: string | null;
  tables: string[];
  rows: number | null;
  /** The dataset's database on disk (or on the server), in bytes; null where the backend cannot say. */
  size_bytes: number | null;
  target_column: string | null;
  problem_type: string | null;
  created_at: string | null;
  /**
   * ok; missing (registered, but its database is gone); invalid (its registry entry is invalid: `error` names
   * the file and the key); unavailable (the backend could not be reached).
   */
  status: "ok" | "missing" | "invalid" | "unavailable";
  error?: { code: string; message: string };
}

const BACKEND_CHOICES = BACKEND_TYPES as readonly string[];

function backendOption(value: string | undefined, fallback: BackendType): BackendType {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (!BACKEND_CHOICES.includes(v)) throw new UsageError(`--backend must be one of ${BACKEND_TYPES.join(", ")}, got ${JSON.stringify(value)}`);
  return v as BackendType;
}

function listOption(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** The info of a dataset from its registry entry and its tables (as read back, or as just written). */
async function datasetInfo(ctx: CliContext, entry: RegistryEntry, backend: IStorageBackend, name: string, tables: DatasetInfo["tables"]): Promise<DatasetInfo> {
  let size: number | null = null;
  try {
    size = await backend.getDatabaseSize(await backend.getDatasetEngine(name));
  } catch {
    size = null;
  }
  return {
    name,
    backend: backend.backendType,
    implementation: backend.implementation,
    location: ctx.location(backend, name),
    tables,
    target_column: (entry.target_column as string | null | undefined) ?? null,
    id_columns: Array.isArray(entry.id_columns) ? entry.id_columns.map(String) : [],
    problem_type: (entry.problem_type as string | null | undefined) ?? null,
    created_at: entry.created_at === undefined || entry.created_at === null ? null : String(entry.created_at),
    size_bytes: size,
    registry_file: ctx.home.registryFile(name),
  };
}

export async function describeDataset(ctx: CliContext, name: string): Promise<DatasetInfo> {
  return ctx.withEntry(name, (entry) => describeEntry(ctx, entry, name));
}

async function describeEntry(ctx: CliContext, entry: RegistryEntry, name: string): Promise<DatasetInfo> {
  const n = normalizeDatasetName(name);
  const { backend, engine } = await ctx.openRegistered(entry, n);
  const stats = await columnStatistics(backend, engine);
  const metadata = await backend.getMetadata(n).catch(() => ({}) as Record<string, unknown>);
  const registered = metadata.registered_with !== undefined;
  const tables: DatasetInfo["tables"] = [];
  for (const t of orderTables(await backend.listTables(n))) {
    const info = await backend.getTableInfo(t, engine);
    tables.push({ name: t, rows: info.rowCount, columns: info.columns.map((c) => ({ name: c.name, type: c.type, ...typeOrigin(metadata.column_types, registered, t, c.name), ...stats.get(`${t}\u0000${c.name}`) })) });
  }
  const result = await datasetInfo(ctx, entry, backend, n, tables);
  // What --coerce-unsupported changed, at registration or at the last migration (the dataset's metadata).
  const counts = (value: unknown) => (value !== null && typeof value === "object" && Object.keys(value).length > 0 ? (value as Record<string, CoercedCounts>) : undefined);
  const coerced = counts(metadata.coerced);
  const migrationCoerced = counts(metadata.migration_coerced);
  if (coerced) result.coerced = coerced;
  if (migrationCoerced) result.migration_coerced = migrationCoerced;
  return result;
}

/** The null and distinct counts of `_columns` by table and column; none when the dataset has no such table of ours (Python MDM's has no table_name). */
async function columnStatistics(backend: IStorageBackend, engine: StorageEngine): Promise<Map<string, { null_count: number; unique_count: number }>> {
  const stats = new Map<string, { null_count: number; unique_count: number }>();
  if (!(await backend.getTableNames(engine, { includeSystem: true })).includes(COLUMNS_TABLE)) return stats;
  const names = new Set((await backend.getTableInfo(COLUMNS_TABLE, engine)).columns.map((c) => c.name));
  if (!["table_name", "column_name", "null_count", "unique_count"].every((c) => names.has(c))) return stats;
  const df = await backend.readTable(COLUMNS_TABLE, { engine, columns: ["table_name", "column_name", "null_count", "unique_count"] });
  for (const r of df.rows as Array<Record<string, unknown>>) {
    stats.set(`${String(r.table_name)}\u0000${String(r.column_name)}`, { null_count: Number(r.null_count), unique_count: Number(r.unique_count) });
  }
  return stats;
}

function printInfo(info: DatasetInfo): void {
  print(`${colour.bold(info.name)}`);
  print(`  backend:      ${info.backend} (${info.implementation})`);
  print(`  location:     ${info.location}`);
  print(`  target:       ${info.target_column ?? "-"}`);
  print(`  id columns:   ${info.id_columns.length ? info.id_columns.join(", ") : "-"}`);
  print(`  problem type: ${info.problem_type ?? "-"}`);
  print(`  created:      ${info.created_at ?? "-"}`);
  print(`  size:         ${formatBytes(info.size_bytes)}`);
  printCoerced(info.coerced);
  printCoerced(info.migration_coerced, "coerced by the migration");
  for (const t of info.tables) {
    print();
    print(`  table ${colour.bold(t.name)}: ${t.rows.toLocaleString("en-US")} rows, ${t.columns.length} columns`);
    const stats = t.columns.some((c) => c.null_count !== undefined);
    const why = (c: InfoColumn) => (c.type_option === undefined ? c.type_origin : `${c.type_origin}: ${c.type_option} (from ${c.converted_from})`);
    const rows = t.columns.map((c) => (stats ? [c.name, c.type, why(c), c.null_count?.toLocaleString("en-US") ?? "-", c.unique_count === undefined ? "-" : `~${c.unique_count.toLocaleString("en-US")}`] : [c.name, c.type, why(c)]));
    print(table(stats ? ["column", "type", "why", "nulls", "distinct"] : ["column", "type", "why"], rows, { compact: true }).replace(/^/gm, "    "));
  }
}

// --- register ------------------------------------------------------------------------------------

export interface RegisterOptions {
  backend?: string;
  target?: string;
  idColumns?: string;
  problemType?: string;
  force?: boolean;
  json?: boolean;
  description?: string;
  /** `fastest` (default): written by the new implementation when installed (same layout); `flags`: by the flags' choice. */
  copyWith?: string;
  /** Values the target cannot hold become core's `COERCIONS` entry, counted; without it they are refused. */
  coerceUnsupported?: boolean;
  /** Print the columns inference gives (types, counts, a few values) and write nothing. */
  dryRun?: boolean;
  /** `column=type` (a logical type, `decimal(p,s)`, or an alias: int, float, bool, str, datetime), one per column. */
  dtype?: string[];
  /** Comma-separated columns parsed as dates or timestamps (with `dateFormat`, by it). */
  parseDates?: string;
  /** A `strptime` format (`%m/%d/%Y`) for `parseDates` and for `dtype` columns of date or timestamp types. */
  dateFormat?: string;
}

export async function registerCommand(ctx: CliContext, rawName: string, path: string, options: RegisterOptions, signal: AbortSignal): Promise<void> {
  const name = normalizeDatasetName(rawName);
  if (options.dryRun) return dryRun(ctx, name, path, options, signal);
  // A damaged entry is refused before the lock is taken, so that it fails the same way whoever holds the lock.
  if (ctx.registry.exists(name)) ctx.entry(name);
  const lock = ctx.lockDataset(name, `register ${name}`);
  try {
    await register(ctx, name, path, options, signal);
  } finally {
    lock.release();
  }
}

async function register(ctx: CliContext, name: string, path: string, options: RegisterOptions, signal: AbortSignal): Promise<void> {
  const files = discoverDataFiles(path);
  const type = backendOption(options.backend, ctx.config.database.default_backend);
  const chosen = chosenTypes(options);
  const idColumns = listOption(options.idColumns);
  const force = options.force === true;
  const copyWith = (options.copyWith ?? "fastest").trim().toLowerCase();
  if (copyWith !== "fastest" && copyWith !== "flags") throw new UsageError(`--copy-with must be fastest or flags, got ${JSON.stringify(options.copyWith)}`);
  const previous = ctx.registry.exists(name) ? ctx.entry(name) : undefined;
  if (previous && !force) {
    throw new MdmError(ErrorCodes.DATASET_EXISTS, `Dataset ${name} is already registered (${previous.database.backend}); pass --force to replace it`);
  }
  // Legacy and new share one layout: the new one writes when installed, the flags' choice serves.
  const served = ctx.implementationFor({ type }, name);
  const fastest = copyWith === "fastest" ? await ctx.fastestImplementation(type, name) : {};
  const backend = await ctx.backend({ type, implementation: fastest.implementation }, name);
  if (!previous && !force && (await backend.datasetExists(name))) {
    throw new MdmError(
      ErrorCodes.DATASET_EXISTS,
      `A ${type} database for ${name} exists but is not registered (${ctx.location(backend, name)}); pass --force to replace it`,
    );
  }
  const progress = new TableProgress(!options.json);
  await removeDatasetLeftovers(ctx, name, backend, (text) => process.stderr.write(`mdm: ${text}\n`));
  const sources: Array<{ table: string; source: TableSource; raw: TableSource }> = [];
  const loaded: DatasetInfo["tables"] = [];
  let entry: RegistryEntry | undefined;
  const runId = randomBytes(6).toString("hex");
  const staging = backend.getStagingPath(name, runId);
  let published = false;
  const coercedCounts: Record<string, CoercedCounts> = {};
  const columnTypes: Record<string, Record<string, ColumnTypeOrigin>> = {};
  const scan = await ScanEngine.open(resolve(path), signal);
  try {
    // Pass 1: infer every column of every file, one aggregate per file in the scan engine.
    for (const s of await scanFiles(scan, files, progress, name, options, chosen)) sources.push({ ...s, raw: s.source });
    checkChosenColumns(chosen, sources);
    // Values the target cannot hold: coerced (counted) with the option; without it refused, naming the first.
    for (const s of sources) {
      const counts: CoercedCounts = {};
      coercedCounts[s.table] = counts;
      if (options.coerceUnsupported) {
        const result = await coerced(scan, s.source, unsupportedOf(s.source, backend.capabilities.values));
        s.raw = result.source;
        Object.assign(counts, result.counts);
      }
      // Chosen types, converted on the way to the writer (their failures and coercions counted there).
      const withChosen = withChosenTypes(s.raw, s.table, chosen, { backendType: backend.backendType, values: backend.capabilities.values }, options.coerceUnsupported === true, counts);
      s.source = withChosen.source;
      if (Object.keys(withChosen.origins).length > 0) columnTypes[s.table] = withChosen.origins;
    }
    const refuse = async (error: unknown): Promise<never> => {
      // A refusal that names its line already (a chosen type's value) is the message.
      if (isMdmError(error) && error.details.option !== undefined) throw error;
      if (isMdmError(error, ErrorCodes.UNSUPPORTED_VALUE) && !options.coerceUnsupported) {
        for (const { table: t, raw: source } of sources) {
          const refused = await refusal(scan, t, source, unsupportedOf(source, backend.capabilities.values), backend.backendType, error);
          if (refused) throw refused;
        }
      }
      throw error;
    };
    const main = sources.find((s) => s.table === "train") ?? sources.find((s) => s.table === "data") ?? (sources[0] as (typeof sources)[number]);
    const mainColumns = main.source.columns.map((c) => c.name);
    if (options.target !== undefined && !mainColumns.includes(options.target)) {
      throw new UsageError(`--target ${JSON.stringify(options.target)} is not a column of table ${main.table} (columns: ${mainColumns.join(", ")})`);
    }
    for (const id of idColumns) {
      if (!mainColumns.includes(id)) throw new UsageError(`--id-columns: ${JSON.stringify(id)} is not a column of table ${main.table} (columns: ${mainColumns.join(", ")})`);
    }
    let problemType: string | null = options.problemType ?? null;
    if (problemType === null && options.target !== undefined) {
      problemType = problemTypeOf(main.source.inferred.find((c) => c.name === options.target) as InferredColumn);
    }

    // Pass 2: load every table into a staging database, then publish it as the dataset. Into DuckDB, the
    // scan engine creates the tables in the staging file itself, after the backend has written and let go
    // of it: the backend's staging instance (32 MB) then never checkpoints a file holding them, which
    // failed about one run in three with 3,000,000 rows ("failed to pin block").
    await backend.createDatabase(staging);
    // (Only when the new implementation writes: `--copy-with flags` with legacy DuckDB writes through its own writer.)
    const direct = (source: TableSource) => backend.backendType === "duckdb" && backend.implementation === "new" && source.createTableIn !== undefined;
    const written = new Map<string, number>();
    const engine = await backend.getEngine(staging);
    for (const { table: t, source } of sources.filter((s) => !direct(s.source))) {
      const key = `${name}/${t}`;
      progress.update(key, t, 0, source.rowCount);
      const rows = await backend
        .writeBatches(t, source.columns, source.batches(signal), {
          engine,
          ifExists: "fail",
          handOverRows: true,
          signal,
          onBatch: (n) => progress.update(key, t, n, source.rowCount),
        })
        .catch(refuse);
      progress.finish(key, t, rows);
      written.set(t, rows);
    }
    const createdAt = new Date().toISOString();
    // _columns and _statistics, from the counts of the scan (see dataset-statistics.ts).
    const statistics = sources.map(({ table: t, source }) => ({ table: t, distinctOf: source.distinctOf, rowCount: source.rowCount, columns: source.inferred }));
    await backend.writeBatches(COLUMNS_TABLE, COLUMNS_TABLE_COLUMNS, [columnsRows(statistics, options.target, idColumns)], { engine, ifExists: "replace", signal });
    await backend.writeBatches(STATISTICS_TABLE, STATISTICS_TABLE_COLUMNS, [statisticsRows(statistics, createdAt)], { engine, ifExists: "replace", signal });
    const metadata: Record<string, unknown> = {
      name,
      tables: Object.fromEntries(sources.map((s) => [s.table, s.table])),
      target_column: options.target ?? null,
      id_columns: idColumns,
      problem_type: problemType,
      source: resolve(path),
      created_at: createdAt,
      registered_with: `${backend.backendType}:${backend.implementation}`,
    };
    // (Written after the tables the bulk writer wrote, whose chosen types counted their coerced values.)
    for (const [t, counts] of Object.entries(coercedCounts)) if (Object.keys(counts).length === 0) delete coercedCounts[t];
    if (options.coerceUnsupported) metadata.coerced = coercedCounts;
    if (Object.keys(columnTypes).length > 0) metadata.column_types = columnTypes;
    await backend.writeBatches(METADATA_TABLE, METADATA_COLUMNS, [Object.entries(metadata).map(([k, v]) => [k, encodeMetadataValue(k, v), createdAt] as Value[])], {
      engine,
      ifExists: "replace",
      signal,
    });
    await backend.releaseEngine(engine);
    for (const { table: t, source } of sources.filter((s) => direct(s.source))) {
      const key = `${name}/${t}`;
      const rows = await withScanProgress(scan, progress, key, t, () =>
        (source.createTableIn as NonNullable<TableSource["createTableIn"]>)(staging, t, (from) => refuseUnsupportedValues(scan, backend, from, t, source)),
      ).catch(refuse);
      progress.finish(key, t, rows);
      written.set(t, rows);
    }
    for (const { table: t, source } of sources) {
      loaded.push({ name: t, rows: written.get(t) as number, columns: source.columns.map((c, i) => ({ name: c.name, type: c.type, ...typeOrigin(columnTypes, true, t, c.name), ...columnCounts(source.rowCount, source.inferred[i] as InferredColumn) })) });
    }
    if (signal.aborted) throw new MdmError(ErrorCodes.ABORTED, "Registration interrupted; nothing was registered");
    await backend.publishStaging(staging, name, { replace: force });
    published = true;

    // The registry entry is written last: until here, nothing is registered.
    entry = {
      ...(force && previous ? previous : {}),
      name,
      database: ctx.registryDatabase(backend, name),
      tables: metadata.tables as Record<string, string>,
      target_column: options.target ?? null,
      id_columns: idColumns,
      problem_type: problemType,
      source: resolve(path),
      created_at: createdAt,
    };
    if (options.description !== undefined) entry.description = options.description;
    ctx.registry.write(entry);
    // A replaced dataset that lived in another backend is dropped there, after the registry points at the new
    // one: a reader in between sees the old copy or the new one, never an entry without its database.
    if (previous && previous.database.backend !== type) {
      const old = await ctx.backend({ type: previous.database.backend }, name);
      try {
        if (await old.datasetExists(name)) await old.dropDataset(name);
      } catch (error) {
        process.stderr.write(`mdm: note: the replaced ${previous.database.backend} copy of ${name} could not be dropped (${error instanceof Error ? error.message : String(error)})\n`);
      }
    }
  } catch (error) {
    progress.stop();
    if (published) await backend.dropDataset(name).catch(() => undefined);
    else await backend.dropDatabase(staging).catch(() => undefined);
    // The dataset's directory, made for the staging file, goes too when nothing else is in it.
    if (!previous) {
      try {
        rmdirSync(ctx.home.datasetDir(name));
      } catch {
        // Not there, or not empty (another file of the dataset's): left as it is.
      }
    }
    // Whichever part saw the abort first (a reader, a writer, the scan), the user is told what is on disk.
    throw signal.aborted ? new MdmError(ErrorCodes.ABORTED, "Registration interrupted; nothing was registered", { cause: error }) : error;
  } finally {
    progress.stop();
    scan.close();
  }
  // Built from what was written: counting the rows again would read the whole dataset back.
  const info = await datasetInfo(ctx, entry as RegistryEntry, backend, name, loaded);
  info.implementation = served;
  if (Object.keys(coercedCounts).length > 0) info.coerced = coercedCounts;
  if (options.json) printJson(info);
  else {
    const rows = info.tables.map((t) => `${t.name} ${t.rows.toLocaleString("en-US")} rows`).join(", ");
    const writer = backend.implementation === served ? "" : `; written by ${backend.implementation}`;
    print(`${colour.green("Registered")} ${name} in ${info.backend} (${info.implementation}${writer}): ${rows}`);
    printCoerced(info.coerced);
  }
}

/** Pass 1 of a registration: every file's columns, types and counts, one aggregate per file in the scan engine. */
async function scanFiles(scan: ScanEngine, files: DataFile[], progress: TableProgress, name: string, options: RegisterOptions, chosen: Map<string, ChosenType>): Promise<Array<{ table: string; source: TableSource }>> {
  const sources: Array<{ table: string; source: TableSource }> = [];
  for (const file of files) {
    const key = `${name}/${file.table}/scan`;
    const label = `${file.table} (${basename(file.path)})`;
    const source = await withScanProgress(scan, progress, key, label, () => openSource(scan, file, { trackDistinct: options.target, asText: new Set(chosen.keys()) }));
    progress.finish(key, label, source.rowCount);
    sources.push({ table: file.table, source });
  }
  return sources;
}

/** Sample values shown per column by `--dry-run`. */
const DRY_RUN_SAMPLES = 3;

/** One table of `register --dry-run --json`. */
export interface DryRunTable {
  name: string;
  file: string;
  rows: number;
  columns: Array<{ name: string; type: LogicalType; type_origin: "inferred" | "chosen"; type_option?: string; null_count: number; unique_count: number; samples: Array<string | null> }>;
  /** Values the backend could not hold, per column and kind: refused without `--coerce-unsupported`. */
  unsupported: CoercedCounts;
}

/**
 * `register --dry-run`: the columns inference gives each file, with a few values (the first non-NULL ones,
 * as DuckDB writes them) and the values the backend could not hold; nothing is written, no lock is taken.
 */
async function dryRun(ctx: CliContext, name: string, path: string, options: RegisterOptions, signal: AbortSignal): Promise<void> {
  const files = discoverDataFiles(path);
  const type = backendOption(options.backend, ctx.config.database.default_backend);
  const chosen = chosenTypes(options);
  const values = (await ctx.backend({ type }, name)).capabilities.values;
  const progress = new TableProgress(!options.json);
  const scan = await ScanEngine.open(resolve(path), signal);
  const tables: DryRunTable[] = [];
  try {
    const scanned = await scanFiles(scan, files, progress, name, options, chosen);
    checkChosenColumns(chosen, scanned);
    for (const { table: t, source } of scanned) {
      // The chosen types (conversions checked when the rows are written); samples are the file's text.
      const { origins, source: typed } = withChosenTypes(source, t, chosen, { backendType: type, values }, false, {});
      const samples = await Promise.all(
        source.columns.map(async (c) => {
          const v = quoteIdentifier(c.name);
          const rows = await scan.rows(`SELECT CAST(${v} AS VARCHAR) FROM (${source.query}) WHERE ${v} IS NOT NULL LIMIT ${DRY_RUN_SAMPLES}`);
          return rows.map((row) => (row[0] === null ? null : String(row[0])));
        }),
      );
      const { counts } = await coerced(scan, source, unsupportedOf(source, values));
      tables.push({
        name: t,
        file: source.file,
        rows: source.rowCount,
        columns: typed.columns.map((c, i) => ({
          name: c.name,
          type: c.type,
          type_origin: origins[c.name] ? "chosen" : "inferred",
          ...(origins[c.name] ? { type_option: origins[c.name]?.option } : {}),
          ...columnCounts(source.rowCount, source.inferred[i] as InferredColumn),
          samples: samples[i] as Array<string | null>,
        })),
        unsupported: counts,
      });
    }
  } finally {
    progress.stop();
    scan.close();
  }
  if (options.json) {
    printJson({ name, backend: type, dry_run: true, tables });
    return;
  }
  print(`${colour.bold(name)} (dry run: nothing written) into ${type}`);
  for (const t of tables) {
    print(`  table ${colour.bold(t.name)} from ${t.file}: ${t.rows.toLocaleString("en-US")} rows`);
    const rows = t.columns.map((c) => [c.name, c.type_origin === "chosen" ? `${c.type} (chosen)` : c.type, c.null_count.toLocaleString("en-US"), `~${c.unique_count.toLocaleString("en-US")}`, c.samples.map((v) => (v === null ? "" : JSON.stringify(v.length > 30 ? `${v.slice(0, 30)}...` : v))).join(", ")]);
    print(table(["column", "type", "nulls", "distinct", "values"], rows, { compact: true }).replace(/^/gm, "    "));
    for (const line of coercedLines(t.unsupported)) print(`    ${colour.yellow(`${type} cannot hold`)} ${line} (refused; --coerce-unsupported stores them so)`);
  }
}

/** Run a scan, showing DuckDB's estimate of its progress every 250 ms (a bar on a terminal). */
async function withScanProgress<T>(scan: ScanEngine, progress: TableProgress, key: string, label: string, work: () => Promise<T>): Promise<T> {
  progress.percent(key, label, 0); // the clock starts now, not at the first estimate
  const timer = setInterval(() => progress.percent(key, label, scan.progress()), 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Into DuckDB: a value the new table holds but DuckDB cannot keep (-0.0) is refused like any other, naming its line. */
async function refuseUnsupportedValues(scan: ScanEngine, backend: IStorageBackend, from: string, table: string, source: TableSource): Promise<void> {
  const list = unsupportedOf(source, backend.capabilities.values);
  if (list.length === 0) return;
  const tests = list.map(({ column, kind }) => SPECIAL_VALUE_SQL[kind](quoteIdentifier(column.name))).join(" OR ");
  const [row] = await scan.rows(`SELECT count(*) FROM ${from} WHERE ${tests}`);
  if (Number(row?.[0]) === 0) return;
  const refused = await refusal(scan, table, source, list, backend.backendType);
  throw refused ?? new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `${backend.backendType} cannot hold some values of table ${table} (${source.file}); pass --coerce-unsupported`);
}

/** The summary's lines of coerced values. */
function printCoerced(coerced: DatasetInfo["coerced"], what = "coerced"): void {
  for (const [t, counts] of Object.entries(coerced ?? {})) {
    for (const line of coercedLines(counts)) print(`  ${colour.yellow(what)} ${t}.${line}`);
  }
}

// --- list, info -------------------------------------------------------------------------------------

export async function listCommand(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const items: DatasetListItem[] = [];
  for (const name of ctx.registry.list()) {
    let entry: RegistryEntry;
    try {
      entry = ctx.entry(name);
    } catch (error) {
      // One invalid entry is a row with its error: the other datasets are still listed.
      const e = isMdmError(error) ? error : new MdmError(ErrorCodes.INTERNAL, String(error));
      const status = e.code === ErrorCodes.INVALID_CONFIG ? "invalid" : "unavailable";
      items.push({ name, backend: "?", location: null, tables: [], rows: null, size_bytes: null, target_column: null, problem_type: null, created_at: null, status, error: { code: e.code, message: e.message } });
      continue;
    }
    const item: DatasetListItem = {
      name,
      backend: String(entry.database.backend),
      location: null,
      tables: [],
      rows: null,
      size_bytes: null,
      target_column: (entry.target_column as string | null | undefined) ?? null,
      problem_type: (entry.problem_type as string | null | undefined) ?? null,
      created_at: entry.created_at === undefined || entry.created_at === null ? null : String(entry.created_at),
      status: "ok",
    };
    try {
      const backend = await ctx.readerBackend({ type: entry.database.backend }, name);
      item.location = ctx.location(backend, name);
      if (!(await backend.datasetExists(name))) item.status = "missing";
      else {
        const engine = await backend.getDatasetEngine(name);
        item.tables = await backend.listTables(name);
        let rows = 0;
        for (const t of item.tables) rows += (await backend.getTableInfo(t, engine)).rowCount;
        item.rows = rows;
        item.size_bytes = await backend.getDatabaseSize(engine).catch(() => null);
      }
    } catch (error) {
      item.status = "unavailable";
      item.error = isMdmError(error) ? { code: error.code, message: error.message } : { code: ErrorCodes.INTERNAL, message: String(error) };
    }
    items.push(item);
  }
  if (options.json) {
    printJson(items);
    return;
  }
  if (items.length === 0) {
    print(`No datasets registered in ${ctx.home.root}`);
    return;
  }
  print(
    table(
      ["name", "backend", "tables", "rows", "size", "target", "problem type", "status"],
      items.map((i) => [i.name, i.backend, i.tables.join(", "), i.rows ?? "-", formatBytes(i.size_bytes), i.target_column ?? "-", i.problem_type ?? "-", i.status === "ok" ? i.status : colour.yellow(i.error ? `${i.status}: ${i.error.code}` : i.status)]),
    ),
  );
  // The whole message (an invalid entry's file and key), one line per dataset, after the table.
  for (const i of items) if (i.error) process.stderr.write(`mdm: ${i.name}: ${i.error.message.replace(/\s*\n\s*/g, " ")}\n`);
}

export async function infoCommand(ctx: CliContext, name: string, options: { json?: boolean }): Promise<void> {
  const info = await describeDataset(ctx, name);
  if (options.json) printJson(info);
  else printInfo(info);
}

// --- remove -------------------------------------------------------------------------------------------

export async function removeCommand(ctx: CliContext, rawName: string, options: { force?: boolean; json?: boolean }): Promise<void> {
  const name = normalizeDatasetName(rawName);
  ctx.entry(name); // a missing or damaged entry is refused before the lock is taken
  const lock = ctx.lockDataset(name, `remove ${name}`);
  try {
    await remove(ctx, name, options);
  } finally {
    lock.release();
  }
}

async function remove(ctx: CliContext, name: string, options: { force?: boolean; json?: boolean }): Promise<void> {
  const entry = ctx.entry(name);
  if (!options.force) {
    if (!process.stdin.isTTY) throw new UsageError(`Removing ${name} deletes its data; pass --force (no terminal to ask on)`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Remove dataset ${name} and its ${entry.database.backend} database? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      print("Nothing removed.");
      return;
    }
  }
  const backend = await ctx.backend({ type: entry.database.backend }, name);
  const location = ctx.location(backend, name);
  if (await backend.datasetExists(name)) await backend.dropDataset(name);
  await removeDatasetLeftovers(ctx, name, backend, (text) => process.stderr.write(`mdm: ${text}\n`));
  ctx.registry.remove(name);
  // Python MDM's leftovers (dataset_info.json, metadata/) go with it.
  const dir = ctx.home.datasetDir(name);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  if (options.json) printJson({ name, removed: true, backend: entry.database.backend, location });
  else print(`${colour.green("Removed")} ${name} (${entry.database.backend}: ${location})`);
}

// --- export -------------------------------------------------------------------------------------------

const FORMATS = ["csv", "parquet", "json"] as const;
type ExportFormat = (typeof FORMATS)[number];

export async function exportCommand(ctx: CliContext, rawName: string, options: { format?: string; output?: string; table?: string; json?: boolean; readWith?: string }): Promise<void> {
  const name = normalizeDatasetName(rawName);
  const format = (options.format ?? "csv").toLowerCase() as ExportFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(options.format)}`);
  const readWith = (options.readWith ?? "fastest").trim().toLowerCase();
  if (readWith !== "fastest" && readWith !== "flags") throw new UsageError(`--read-with must be fastest or flags, got ${JSON.stringify(options.readWith)}`);
  // Legacy and new share one layout: the new implementation reads when installed (--read-with flags: the flags' choice).
  const { backend, engine } = await ctx.withEntry(name, async (entry) => {
    const fastest = readWith === "fastest" ? await ctx.fastestImplementation(entry.database.backend, name) : {};
    return ctx.openRegistered(entry, name, fastest.implementation);
  });
  const all = await backend.listTables(name);
  const tables = options.table === undefined ? all : [options.table];
  if (options.table !== undefined && !all.includes(options.table)) {
    throw new MdmError(ErrorCodes.TABLE_NOT_FOUND, `Dataset ${name} has no table ${JSON.stringify(options.table)} (tables: ${all.join(", ")})`);
  }
  const dir = resolve(options.output ?? name);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw fileSystemError(error, dir, "create the output directory");
  }
  // Every table is written under a temporary name, and renamed (which needs no space) only when all are
  // complete: a failed export, a full disk included, leaves no file that looks like a finished export.
  const runId = randomBytes(6).toString("hex");
  const written: Array<{ table: string; file: string; rows: number; temporary: string }> = [];
  try {
    for (const t of tables) {
      const w = { table: t, file: join(dir, `${t}.${format}`), rows: 0, temporary: join(dir, `.${t}.${format}.tmp-${runId}`) };
      written.push(w);
      w.rows = await exportTable(ctx, backend, engine, t, format, w.temporary, w.file);
    }
    for (const w of written) {
      try {
        renameSync(w.temporary, w.file);
      } catch (error) {
        throw fileSystemError(error, w.file, "write");
      }
    }
  } catch (error) {
    for (const w of written) rmSync(w.temporary, { force: true, recursive: true });
    throw error;
  }
  const readBy = `${backend.backendType}:${backend.implementation}`;
  if (options.json) printJson({ name, format, readBy, files: written.map(({ table: t, file, rows }) => ({ table: t, file, rows })) });
  else for (const w of written) print(`${w.table}: ${w.rows.toLocaleString("en-US")} rows -> ${w.file} (read by ${readBy})`);
}

/** Write one table to `temporary` (to be renamed onto `file`); the rows written. Errors name `file`. */
async function exportTable(ctx: CliContext, backend: IStorageBackend, engine: StorageEngine, t: string, format: ExportFormat, temporary: string, file: string): Promise<number> {
  try {
    // CSV: the engine's own writer (DuckDB COPY, PostgreSQL COPY TO STDOUT) or core's streaming one.
    if (format === "csv") return await backend.exportFile(t, temporary, "csv", { engine });
    return await exportThroughDuckdb(ctx, backend, engine, t, temporary, format);
  } catch (error) {
    // A full disk names the file that could not be written (unless the engine named its own file system).
    if (isMdmError(error, ErrorCodes.DISK_FULL) && error.details.path === undefined) {
      throw new MdmError(ErrorCodes.DISK_FULL, `Cannot write ${file}: ${error.message}`, { cause: error, details: { ...error.details, path: file } });
    }
    throw fileSystemError(error, file, "write");
  }
}

/** Parquet and JSON are written by DuckDB: directly from a DuckDB dataset, else through a temporary DuckDB file. */
async function exportThroughDuckdb(ctx: CliContext, backend: IStorageBackend, engine: StorageEngine, t: string, file: string, format: "parquet" | "json"): Promise<number> {
  if (backend.backendType === "duckdb" && backend.capabilities.fileImportExport.includes(format)) return backend.exportFile(t, file, format, { engine });
  const { DuckdbStorageBackend } = await import("@mdm/storage-duckdb");
  const home = mkdtempSync(join(tmpdir(), "mdm-export-"));
  const duck = new DuckdbStorageBackend({ homeDir: home });
  try {
    await duck.init();
    await duck.createDataset("export");
    const target = await duck.getDatasetEngine("export");
    const info = await backend.getTableInfo(t, engine);
    await duck.writeBatches(t, info.columns, backend.readBatches(t, { engine, columns: info.columns.map((c) => c.name), batchSize: ctx.config.performance.batch_size, keepInCache: false }), { engine: target, ifExists: "fail" });
    return await duck.exportFile(t, file, format, { engine: target });
  } finally {
    await duck.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}


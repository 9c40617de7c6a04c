import { StorageMigrator, pendingMigrationResult, type MigrationResult, type VerifyMode } from "@mdm/migration";
import { ErrorCodes, coercedLines, isMdmError, normalizeDatasetName, redactSecrets, type BackendType, type IStorageBackend, type Implementation } from "@mdm/storage-core";
import { parseBackendSpec, type CliContext } from "../context.js";
import { ExitCodes, UsageError, exitCodeForErrorCode, type ExitCode } from "../exit-codes.js";
import { colour, formatBytes, formatDuration, print, printJson, table } from "../output.js";
import { TableProgress } from "../progress.js";

export interface MigrateCommandOptions {
  all?: boolean;
  to?: string;
  fromImpl?: string;
  batchSize?: string;
  verify?: string;
  overwrite?: boolean;
  removeSource?: boolean;
  /** `fastest` (default): a side without a named implementation is copied by the new one when installed; `flags`: by the flags' choice. */
  copyWith?: string;
  /** Values the target cannot hold become core's `COERCIONS` entry, counted; without it they are refused. */
  coerceUnsupported?: boolean;
  /** `table.column=type`, one per column: exact conversions on the way (core's `valueConverter`). */
  cast?: string[];
  json?: boolean;
}

/** `--cast table.column=type` as the migrator's casts (the table is up to the first dot, the type after the last `=`). */
function castsOf(specs: string[] | undefined): Array<{ table: string; column: string; type: string }> {
  return (specs ?? []).map((spec) => {
    const eq = spec.lastIndexOf("=");
    const dot = spec.indexOf(".");
    if (eq < 0 || dot <= 0 || dot >= eq - 1) throw new UsageError(`--cast takes table.column=type (for example --cast train.created=timestamp), got ${JSON.stringify(spec)}`);
    return { table: spec.slice(0, dot), column: spec.slice(dot + 1, eq), type: spec.slice(eq + 1) };
  });
}

/** What `--json` prints per dataset: the migrator's result (whose source and target name the implementations that copied) and who serves the dataset. */
export type MigrateJsonResult = MigrationResult & {
  copyWith: "fastest" | "flags";
  /** The implementation the feature flags choose for the dataset's new home: the one every later command uses. */
  servedBy: { type: BackendType; implementation: Implementation };
};

/** One dataset of a run: the migrator's result, who serves the dataset afterwards, where its source copy stays (when it does). */
interface DatasetRun {
  result: MigrationResult;
  served: { type: BackendType; implementation: Implementation };
  keptAt: string | null;
}

/** A dataset that failed before or outside the migrator (its backend could not be opened): a result saying so. */
function failedResult(name: string, source: MigrationResult["source"], target: MigrationResult["target"], error: unknown, secrets: string[]): MigrationResult {
  const code = isMdmError(error) ? error.code : ErrorCodes.INTERNAL;
  const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
  return { ...pendingMigrationResult(name, source, target), error: { code, message } };
}

function positiveInteger(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text.trim())) throw new UsageError(`${option} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Exit code of a run: the first failure's code mapped as errors are, or 0. A signal that arrived while a
 * dataset was being published let it finish (its exit status is success); datasets not started because
 * of it make the run exit 130, and say so.
 */
function exitAfter(results: MigrationResult[], notStarted: string[], interrupted: NodeJS.Signals | undefined, signal?: AbortSignal): ExitCode {
  const failed = results.find((r) => !r.success);
  if (failed) return exitCodeForErrorCode(failed.error?.code);
  if (!interrupted && signal?.aborted && notStarted.length > 0) {
    const done = results.map((r) => r.dataset);
    process.stderr.write(`mdm: interrupted between datasets${done.length ? `; migrated: ${done.join(", ")}` : ""}; not started: ${notStarted.join(", ")}\n`);
    return ExitCodes.ABORTED;
  }
  if (interrupted) {
    const last = results[results.length - 1] as MigrationResult;
    const rest = notStarted.length > 0 ? `; not started: ${notStarted.join(", ")}` : "";
    process.stderr.write(`mdm: ${interrupted} arrived while ${last.dataset} was being published: its migration completed and the registry points at ${last.target.type}${rest}\n`);
    return notStarted.length > 0 ? ExitCodes.ABORTED : ExitCodes.OK;
  }
  return ExitCodes.OK;
}

export async function migrateCommand(ctx: CliContext, names: string[], options: MigrateCommandOptions, signal?: AbortSignal): Promise<ExitCode> {
  if (!options.to) throw new UsageError("--to <backend[:legacy|new]> is required");
  const target = parseBackendSpec(options.to, "--to");
  const fromImpl = options.fromImpl === undefined ? undefined : options.fromImpl.trim().toLowerCase();
  if (fromImpl !== undefined && fromImpl !== "legacy" && fromImpl !== "new") throw new UsageError(`--from-impl must be legacy or new, got ${JSON.stringify(options.fromImpl)}`);
  const verify = (options.verify ?? "checksum").trim().toLowerCase() as VerifyMode;
  if (!["checksum", "count", "none"].includes(verify)) throw new UsageError(`--verify must be checksum, count or none, got ${JSON.stringify(options.verify)}`);
  // Without --batch-size, the migrator's default (2,048 rows, measured faster than mdm.yaml's 10,000 for a copy).
  const batchSize = positiveInteger(options.batchSize, "--batch-size");
  const casts = castsOf(options.cast);
  const copyWith = (options.copyWith ?? "fastest").trim().toLowerCase();
  if (copyWith !== "fastest" && copyWith !== "flags") throw new UsageError(`--copy-with must be fastest or flags, got ${JSON.stringify(options.copyWith)}`);
  if (options.all && names.length > 0) throw new UsageError("Give dataset names or --all, not both");
  if (!options.all && names.length === 0) throw new UsageError("Give at least one dataset name, or --all");

  // Which datasets, from which backend type. Every name is checked before anything moves.
  const selected = options.all ? ctx.registry.list() : [...new Set(names.map((n) => normalizeDatasetName(n)))];
  const plan: Array<{ name: string; from: BackendType }> = [];
  const skipped: string[] = [];
  for (const name of selected) {
    const entry = ctx.entry(name);
    if (entry.database.backend === target.type) {
      if (!options.all) {
        throw new UsageError(
          `${name} is already in ${target.type}; legacy and new ${target.type} share the same storage, so switch implementations with "mdm flags set use_new_storage_${target.type} true|false" instead`,
        );
      }
      skipped.push(name);
      continue;
    }
    plan.push({ name, from: entry.database.backend });
  }

  const progress = new TableProgress(!options.json);
  for (const name of skipped) progress.note(`${name}: already in ${target.type}, skipped`);
  const migrateOne = async (name: string, from: BackendType): Promise<DatasetRun> => {
    // Legacy and new share one storage layout, so the copy (a bulk job) uses the new implementation of each
    // side when it is installed; the dataset stays served by the flags' choice. --copy-with flags, --from-impl
    // and --to TYPE:IMPL choose otherwise.
    const open = async (type: BackendType, named: Implementation | undefined, make: (implementation?: Implementation) => Promise<IStorageBackend>): Promise<IStorageBackend> => {
      if (named !== undefined || copyWith === "flags") return make(named);
      const fastest = await ctx.fastestImplementation(type, name);
      if (fastest.reason) progress.note(`${name}: ${type} copied by the flags' choice: ${fastest.reason}`);
      if (!fastest.implementation) return make();
      try {
        return await make(fastest.implementation);
      } catch (error) {
        // Only a new backend that could not be loaded gives way; one that reached its engine or server and was
        // refused (locked file, connection, authentication) would meet the same with the flags' choice.
        if (isMdmError(error) && error.code !== ErrorCodes.BACKEND_NOT_INSTALLED && error.code !== ErrorCodes.BACKEND_UNAVAILABLE) throw error;
        const why = redactSecrets(error instanceof Error ? error.message : String(error), ctx.secrets);
        progress.note(`${name}: the new ${type} backend did not start (${why}); ${type} copied by the flags' choice`);
        return make();
      }
    };
    const source = await open(from, fromImpl as Implementation | undefined, (implementation) => ctx.readerBackend({ type: from, implementation }, name));
    const destination = await open(target.type, target.implementation, (implementation) => ctx.backend({ type: target.type, implementation }, name));
    const served = { type: target.type, implementation: ctx.implementationFor({ type: target.type }, name) };
    const migrator = new StorageMigrator({
      source,
      target: destination,
      manager: ctx.manager,
      home: ctx.home,
      registryDatabase: (backend, dataset) => ctx.registryDatabase(backend, dataset),
    });
    const serving = served.implementation === destination.implementation ? "" : `; served by ${served.type}:${served.implementation} (the flags' choice) afterwards`;
    progress.note(`${colour.bold(name)}: ${from} (${source.implementation}) -> ${target.type} (${destination.implementation})${serving}`);
    const result = await migrator.migrateDataset(name, {
      batchSize,
      verify,
      overwrite: options.overwrite === true,
      removeSource: options.removeSource === true,
      coerceUnsupported: options.coerceUnsupported === true,
      casts,
      handleSignals: true,
      signal,
      onNotice: (message) => (options.json ? process.stderr.write(`mdm: ${name}: ${message}\n`) : progress.note(`${name}: ${message}`)),
      onProgress: (e) => {
        if (e.phase === "copy" && e.table) {
          const key = `${name}/${e.table}`;
          const label = `${name}/${e.table}`;
          if (e.rowsDone >= e.rowsTotal && e.rate === 0) progress.finish(key, label, e.rowsDone);
          else progress.update(key, label, e.rowsDone, e.rowsTotal, e.rate, e.etaSeconds);
        } else if (e.phase === "verify") progress.note(`${name}: verifying (${verify})`);
        else if (e.phase === "publish") progress.note(`${name}: publishing`);
      },
    });
    return { result, served, keptAt: result.success && !result.sourceRemoved ? `${from} at ${ctx.location(source, name)}` : null };
  };
  const runs: DatasetRun[] = [];
  let interrupted: NodeJS.Signals | undefined;
  try {
    for (const { name, from } of plan) {
      // Ctrl-C stops the run: the dataset being migrated is rolled back (or, past its publish, finished),
      // the next ones are not started.
      if (signal?.aborted || interrupted) break;
      // A dataset that cannot even start (its server unreachable, its credentials refused) is one failure in
      // the summary; the next dataset is still tried.
      let run: DatasetRun;
      try {
        run = await migrateOne(name, from);
      } catch (error) {
        if (isMdmError(error, ErrorCodes.ABORTED)) throw error;
        const implementationOf = (type: BackendType) => ctx.implementationFor({ type }, name);
        const result = failedResult(name, { type: from, implementation: fromImpl ?? implementationOf(from) }, { type: target.type, implementation: target.implementation ?? implementationOf(target.type) }, error, ctx.secrets);
        run = { result, served: { type: from, implementation: implementationOf(from) }, keptAt: null };
        progress.note(`${name}: ${colour.red("failed")}: ${result.error?.message}`);
      }
      interrupted = run.result.interrupted;
      runs.push(run);
    }
  } finally {
    progress.stop();
  }
  const results = runs.map((r) => r.result);
  const notStarted = plan.slice(results.length).map((p) => p.name);

  if (options.json) {
    printJson(runs.map(({ result, served }): MigrateJsonResult => ({ ...result, copyWith, servedBy: served })));
    return exitAfter(results, notStarted, interrupted, signal);
  }
  if (results.length === 0) {
    print(`Nothing to migrate${skipped.length ? ` (${skipped.length} already in ${target.type})` : ""}.`);
    return ExitCodes.OK;
  }
  print(
    table(
      ["dataset", "from", "to", "data tables", "rows", "time", "rows/s", "size", "verification", "status"],
      results.map((r) => [
        r.dataset,
        `${r.source.type}:${r.source.implementation}`,
        `${r.target.type}:${r.target.implementation}`,
        r.dataTables.length,
        r.dataRows,
        formatDuration(r.durationMs),
        r.rowsPerSecond,
        formatBytes(r.bytes),
        r.verification ? `${r.verification.mode}: ${r.verification.passed ? "passed" : "FAILED"}` : verify === "none" ? "none" : "-",
        r.success ? colour.green("ok") : colour.red(r.error?.code ?? "failed"),
      ]),
    ),
  );
  for (const r of results) {
    for (const [t, counts] of Object.entries(r.coerced ?? {})) for (const line of coercedLines(counts)) print(`  ${colour.yellow("coerced")} ${r.dataset}/${t}.${line}`);
  }
  for (const r of results.filter((x) => !x.success)) process.stderr.write(`mdm: ${r.dataset}: ${r.error?.message ?? "failed"}\n`);
  const ok = results.filter((r) => r.success).length;
  const removed = results.filter((r) => r.sourceRemoved).length;
  const metadataRows = results.reduce((n, r) => n + (r.success ? r.rowsMigrated - r.dataRows : 0), 0);
  const failed = results.filter((r) => !r.success);
  const failures = failed.length > 0 ? `; failed: ${failed.map((r) => `${r.dataset} (${r.error?.code ?? "failed"})`).join(", ")}` : "";
  print(`${ok} of ${results.length} dataset(s) migrated to ${target.type}${removed > 0 ? ` (${removed} source(s) removed)` : ""}${failures}.`);
  if (metadataRows > 0) print(`(rows count the datasets' own tables; MDM's _metadata, _columns and _statistics came along: ${metadataRows.toLocaleString("en-US")} rows)`);
  for (const { result: r, keptAt: kept } of runs) {
    if (kept) print(`The source copy of ${r.dataset} stays in ${kept}, no longer registered; rerun with --remove-source to drop it after a verified migration, or delete it yourself.`);
  }
  const otherwise = runs.map((run) => [run.result, run.served] as const).filter(([r, s]) => r.success && s.implementation !== r.target.implementation);
  if (otherwise.length > 0) {
    const list = otherwise.map(([r, s]) => `${r.dataset} by ${s?.type}:${s?.implementation}`).join(", ");
    print(`from/to name the implementations that copied (legacy and new share the storage); the flags' choice serves ${list} from now on (--copy-with flags copies with it).`);
  }
  return exitAfter(results, notStarted, interrupted, signal);
}


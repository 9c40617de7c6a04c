import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isSystemTable,
  DEFAULT_BATCH_SIZE,
  DatasetLock,
  DatasetRegistry,
  ErrorCodes,
  METADATA_COLUMNS,
  encodeMetadataValue,
  METADATA_TABLE,
  MdmError,
  MdmHome,
  StorageBackendManager,
  TableChecksum,
  formatValue,
  rowCoercer,
  ConversionFailure,
  columnTypeText,
  countCoerced,
  parseColumnType,
  valueConverter,
  type ValueConverter,
  getDefaultManager,
  isMdmError,
  isStorageBackend,
  normalizeDatasetName,
  SPECIAL_VALUE_TYPES,
  type CoercedCounts,
  type ColumnDef,
  type IStorageBackend,
  type LogicalType,
  type Metadata,
  type RegistryEntry,
  type SpecialValue,
  type StorageEngine,
  type Value,
} from "@mdm/storage-core";
import { orderTables } from "./plan.js";
import { pendingMigrationResult } from "./result.js";
import { prefetch } from "./prefetch.js";
import { readJournal, removeJournal, writeJournal } from "./publish-journal.js";
import type {
  BackendRef,
  MigrateAllOptions,
  MigrateOptions,
  MigrationProgress,
  MigrationResult,
  MigrationSummary,
  VerificationCheck,
  VerifyMode,
  VerificationReport,
} from "./types.js";

export interface StorageMigratorOptions {
  source: BackendRef;
  target: BackendRef;
  /** Resolves backends given by type (default: the process-wide manager). */
  manager?: StorageBackendManager;
  /**
   * The MDM home whose registry (`config/datasets/{name}.yaml`) is updated to point at the target once it
   * is verified and published. Default: the manager's home when backends are given by type; none otherwise.
   */
  home?: MdmHome | string | null;
  /** Where lock files live (default `<home>/locks`, else the temp directory). */
  lockDir?: string;
  /**
   * The `database` section written into the registry entry once the target is published (default: the
   * backend type and its `getDatabasePath`; the CLI adds PostgreSQL's host, port and user).
   */
  registryDatabase?: (target: IStorageBackend, datasetName: string) => RegistryEntry["database"];
}

/** Where a run is: past the publish, an abort or a signal no longer stops it. */
interface RunStage {
  pastNoReturn: boolean;
}

interface TablePlan {
  name: string;
  /** The target's columns (a cast column with its new type). */
  columns: ColumnDef[];
  rowCount: number;
  /** The conversions of cast columns, by column index. */
  casts?: Array<{ index: number; convert: ValueConverter; option: string }>;
}

/** Each cast of `casts` applied to its plan: the column's new type and its converter; what the metadata records. */
function planCasts(plans: TablePlan[], casts: NonNullable<MigrateOptions["casts"]>): Record<string, Record<string, { origin: "cast"; option: string; from: string }>> {
  const origins: Record<string, Record<string, { origin: "cast"; option: string; from: string }>> = {};
  for (const cast of casts) {
    const option = `--cast ${cast.table}.${cast.column}=${cast.type}`;
    const plan = plans.find((p) => p.name === cast.table);
    if (!plan) throw new MdmError(ErrorCodes.TABLE_NOT_FOUND, `${option}: the dataset has no table ${JSON.stringify(cast.table)} (tables: ${plans.map((p) => p.name).join(", ")})`, { details: { table: cast.table } });
    const index = plan.columns.findIndex((c) => c.name === cast.column);
    if (index < 0) throw new MdmError(ErrorCodes.COLUMN_NOT_FOUND, `${option}: table ${cast.table} has no column ${JSON.stringify(cast.column)} (columns: ${plan.columns.map((c) => c.name).join(", ")})`, { details: { table: cast.table, column: cast.column } });
    const from = plan.columns[index] as ColumnDef;
    const to: ColumnDef = { name: from.name, nullable: from.nullable ?? true, ...parseColumnType(cast.type) };
    let convert: ValueConverter;
    try {
      convert = valueConverter(from, to);
    } catch (error) {
      if (isMdmError(error)) throw new MdmError(error.code, `${option}: ${error.message}`, { cause: error, details: error.details });
      throw error;
    }
    plan.columns = plan.columns.map((c, i) => (i === index ? to : c));
    (plan.casts ??= []).push({ index, convert, option });
    (origins[plan.name] ??= {})[from.name] = { origin: "cast", option, from: columnTypeText(from) };
  }
  return origins;
}


/**
 * Rows between commits while copying into staging (never visible before publish, dropped on failure):
 * DuckDB holds a transaction's appended rows in memory until it commits, so one transaction per table
 * made peak memory grow with the table. Of 25,000, 100,000 and 500,000 rows, 100,000 was the fastest
 * SQLite to DuckDB copy, with the peak within 5% of the lowest (see README, "Benchmark").
 */
const STAGING_COMMIT_ROWS = 100_000;

/** Special values (capability flags) the source can hold and the target cannot, for a column of this type. */
function kindsToFind(source: IStorageBackend, target: IStorageBackend, type: LogicalType): SpecialValue[] {
  return (Object.keys(SPECIAL_VALUE_TYPES) as SpecialValue[]).filter(
    (kind) => SPECIAL_VALUE_TYPES[kind] === type && source.capabilities.values[kind] && !target.capabilities.values[kind],
  );
}

/**
 * Which columns' values the target might refuse: those of a kind the target cannot hold and the
 * source can (a NUL in text from SQLite or DuckDB to PostgreSQL, -0.0 or NaN from PostgreSQL to
 * DuckDB or SQLite), and decimals wider than the target holds. Where the source cannot hold the value
 * either (no NaN or -0.0 comes out of SQLite), scanning would find nothing. The target's writer checks
 * every value again while copying.
 */
function columnsToScan(source: IStorageBackend, target: IStorageBackend, columns: ColumnDef[]): ColumnDef[] {
  const t = target.capabilities.values;
  const s = source.capabilities.values;
  return columns.filter((c) => {
    if (c.type === "decimal") return Number.isFinite(t.maxDecimalPrecision) && (c.precision === undefined || c.precision > t.maxDecimalPrecision || s.maxDecimalPrecision > t.maxDecimalPrecision);
    return kindsToFind(source, target, c.type).length > 0;
  });
}

/** The dataset's id columns, from its metadata (`id_columns`, as registration writes it). */
function idColumnsOf(metadata: Metadata): string[] {
  const ids = (metadata as Record<string, unknown>).id_columns;
  return Array.isArray(ids) ? ids.map(String) : [];
}

function errorInfo(error: unknown): { code: string; message: string } {
  if (isMdmError(error)) return { code: error.code, message: error.message };
  return { code: ErrorCodes.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}

/**
 * Moves whole datasets between backends: preflight, staging, streaming copy with bounded memory,
 * verification in staging, atomic publish, registry update; on any failure (or abort, or signal) the
 * staging data is removed and the source, the registry and any pre-existing target stay untouched.
 */
export class StorageMigrator {
  private readonly sourceRef: BackendRef;
  private readonly targetRef: BackendRef;
  private readonly manager: StorageBackendManager | undefined;
  private readonly homeOption: MdmHome | string | null | undefined;
  private readonly lockDirOption: string | undefined;
  private readonly registryDatabaseOption: StorageMigratorOptions["registryDatabase"];
  private resolved: Promise<{ source: IStorageBackend; target: IStorageBackend }> | undefined;

  /** `new StorageMigrator("sqlite", "duckdb")` as in the original, or with options. */
  constructor(source: BackendRef | StorageMigratorOptions, target?: BackendRef, options: Omit<StorageMigratorOptions, "source" | "target"> = {}) {
    const all: StorageMigratorOptions =
      target === undefined && typeof source === "object" && !isStorageBackend(source) && "source" in source
        ? (source as StorageMigratorOptions)
        : { ...options, source: source as BackendRef, target: target as BackendRef };
    if (all.source === undefined || all.target === undefined) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "StorageMigrator needs a source and a target backend");
    }
    this.sourceRef = all.source;
    this.targetRef = all.target;
    this.manager = all.manager;
    this.homeOption = all.home;
    this.lockDirOption = all.lockDir;
    this.registryDatabaseOption = all.registryDatabase;
  }

  /** The two backends (resolved through the manager when given by type). */
  backends(): Promise<{ source: IStorageBackend; target: IStorageBackend }> {
    this.resolved ??= (async () => {
      const resolve = async (ref: BackendRef): Promise<IStorageBackend> => {
        if (isStorageBackend(ref)) return ref;
        const manager = this.manager ?? getDefaultManager();
        if (typeof ref === "string") return manager.getStorageBackend(ref);
        return manager.getStorageBackend(ref.type, ref.implementation ? { implementation: ref.implementation } : {});
      };
      const source = await resolve(this.sourceRef);
      const target = await resolve(this.targetRef);
      if (source === target) {
        throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "Source and target are the same backend instance");
      }
      return { source, target };
    })();
    this.resolved.catch(() => {
      this.resolved = undefined;
    });
    return this.resolved;
  }

  private home(): MdmHome | undefined {
    if (this.homeOption === null) return undefined;
    if (this.homeOption instanceof MdmHome) return this.homeOption;
    if (typeof this.homeOption === "string") return new MdmHome(this.homeOption);
    const byType = !isStorageBackend(this.sourceRef) || !isStorageBackend(this.targetRef);
    if (byType) return new MdmHome((this.manager ?? getDefaultManager()).homeDir);
    return undefined;
  }

  private lockDir(): string {
    if (this.lockDirOption) return this.lockDirOption;
    const home = this.home();
    return home ? join(home.root, "locks") : join(tmpdir(), "mdm-locks");
  }

  /**
   * Migrate one dataset. Resolves with a result; `success: false` carries the error code and message.
   *
   * The dataset is locked for the whole run (`<lock dir>/<name>.lock`, whatever the target), and its
   * source is held against writers from preflight until the registry points at the target (see
   * `IStorageBackend.holdDataset`), so no row written meanwhile can be lost: a write that got in anyway
   * fails the run with MDM_SOURCE_CHANGED before anything is published, and the source is never removed
   * then. Once the publish has begun (the point of no return) an abort or a signal no longer stops the
   * run: it finishes and reports success, with the signal in `interrupted`.
   */
  async migrateDataset(datasetName: string, givenOptions: MigrateOptions = {}): Promise<MigrationResult> {
    // A malformed option is the caller's mistake: thrown at once, not a failed migration.
    const options = checkedOptions(givenOptions);
    const started = performance.now();
    const { source, target } = await this.backends();
    const result = pendingMigrationResult(String(datasetName), { type: source.backendType, implementation: source.implementation }, { type: target.backendType, implementation: target.implementation });
    const notice = (message: string) => {
      result.warnings.push(message);
      options.onNotice?.(message);
    };
    const controller = new AbortController();
    const stage: RunStage = { pastNoReturn: false };
    const onAbort = () => {
      if (!stage.pastNoReturn) controller.abort(options.signal?.reason);
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) controller.abort();
    let caughtSignal: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      caughtSignal ??= signal;
      if (stage.pastNoReturn) notice(`${signal} received while publishing: the migration finishes first`);
      else controller.abort(new MdmError(ErrorCodes.ABORTED, `Migration interrupted by ${signal}; staging removed, source and registry untouched`));
    };
    if (options.handleSignals) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    let lock: DatasetLock | undefined;
    try {
      const name = normalizeDatasetName(datasetName);
      result.dataset = name;
      // Preflight: an invalid registry entry fails here, before anything (the lock included) is written.
      if (this.home()) new DatasetRegistry(this.home() as MdmHome).readIfExists(name);
      lock = DatasetLock.acquire(this.lockDir(), name, { purpose: `migrate ${name} to ${target.backendType}`, onTakeover: notice });
      await this.run(name, source, target, { ...options, signal: controller.signal }, result, stage, notice);
      result.success = true;
    } catch (error) {
      const aborted = controller.signal.aborted && !stage.pastNoReturn && !isMdmError(error, ErrorCodes.LOCKED);
      // A signal is named whoever saw it first (the caller's own SIGINT handler may abort our signal before ours runs).
      const interruption = caughtSignal ? new MdmError(ErrorCodes.ABORTED, `Migration interrupted by ${caughtSignal}; staging removed, source and registry untouched`, { cause: error }) : undefined;
      result.error = errorInfo(aborted ? (interruption ?? abortError(error, controller.signal)) : error);
    } finally {
      lock?.release();
      // A signal that arrived during the last synchronous steps is still queued: take it while listening.
      if (options.handleSignals) await nextTurn();
      options.signal?.removeEventListener("abort", onAbort);
      if (options.handleSignals) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      result.durationMs = performance.now() - started;
      result.rowsPerSecond = result.durationMs > 0 ? Math.round((result.rowsMigrated / result.durationMs) * 1000) : 0;
    }
    if (caughtSignal) {
      // A completed migration keeps the signal to itself: the caller's exit status must say "done".
      if (result.success) result.interrupted = caughtSignal;
      else process.kill(process.pid, caughtSignal);
    }
    return result;
  }

  /** Migrate several datasets (every dataset of the source when no names are given). */
  async migrateAllDatasets(names?: string[], options: MigrateAllOptions = {}): Promise<MigrationSummary> {
    const started = performance.now();
    const { source } = await this.backends();
    const list = names ?? (await source.listDatasets());
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    const results: MigrationResult[] = new Array(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const index = next++;
        results[index] = await this.migrateDataset(list[index] as string, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    const failures = results.filter((r) => !r.success).map((r) => ({ dataset: r.dataset, code: r.error?.code ?? "", message: r.error?.message ?? "" }));
    return {
      total: results.length,
      succeeded: results.length - failures.length,
      failed: failures.length,
      totalRows: results.reduce((n, r) => n + r.rowsMigrated, 0),
      durationMs: performance.now() - started,
      results,
      failures,
    };
  }

  private async run(
    name: string,
    source: IStorageBackend,
    target: IStorageBackend,
    options: CheckedOptions,
    result: MigrationResult,
    stage: RunStage,
    notice: (message: string) => void,
  ): Promise<void> {
    // Core's readBatches default (2,048 rows): larger batches cost more in garbage collection than they save.
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const verify = options.verify;
    const signal = options.signal;
    const progress = (event: Omit<MigrationProgress, "dataset">) => options.onProgress?.({ dataset: name, ...event });
    const checkAbort = () => {
      if (signal?.aborted) throw abortError(undefined, signal);
    };

    // --- preflight ---------------------------------------------------------------------------
    progress({ phase: "preflight", rowsDone: 0, rowsTotal: 0, rate: 0, etaSeconds: null });
    const home = this.home();
    const registry = home ? new DatasetRegistry(home) : undefined;
    // The registry entry is read (and validated) before anything is written.
    const entry = registry?.readIfExists(name);
    if (entry && String(entry.database.backend).toLowerCase() !== source.backendType) {
      throw new MdmError(
        ErrorCodes.INVALID_ARGUMENT,
        `Dataset ${JSON.stringify(name)} is registered in ${String(entry.database.backend)}, not in the source ${source.backendType}: migrating this copy would leave the registered one behind`,
        { details: { dataset: name, registered: entry.database.backend } },
      );
    }
    if (registry) {
      registry.removeTemporaryFiles(name);
      await this.recoverInterruptedPublish(name, source, target, registry, notice);
    }
    if (!(await source.datasetExists(name))) {
      throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Source dataset ${JSON.stringify(name)} does not exist in ${source.backendType}`, {
        details: { dataset: name },
      });
    }
    // Opened first (a backend may set the journal mode as it opens, which a writer-free hold would block),
    // then held: from here until the registry points at the target, no other writer gets into the source.
    const sourceEngine = await source.getDatasetEngine(name);
    const hold = await source.holdDataset(name);
    let holdEnded = false;
    try {
      if (!options.overwrite && (await target.datasetExists(name))) {
        throw new MdmError(
          ErrorCodes.DATASET_EXISTS,
          `Dataset ${JSON.stringify(name)} already exists in ${target.backendType}; pass overwrite (--overwrite) to replace it`,
          { details: { dataset: name } },
        );
      }
      // Leftovers of a killed run: never visible as the dataset, removed before we start.
      for (const stale of await target.listStagingPaths(name)) await target.dropDatabase(stale);

      const tableNames = orderTables((await source.getTableNames(sourceEngine, { includeSystem: true })).filter((t) => t !== METADATA_TABLE));
      const plans: TablePlan[] = [];
      for (const table of tableNames) {
        const info = await source.getTableInfo(table, sourceEngine);
        plans.push({ name: table, columns: info.columns, rowCount: info.rowCount });
      }
      if (options.preflightScan !== false && !options.coerceUnsupported) {
        const idColumns = idColumnsOf(await source.getMetadata(name).catch(() => ({}) as Metadata));
        for (const plan of plans) await this.scanRepresentable(source, target, sourceEngine, plan, batchSize, idColumns, signal);
      }
      // After the preflight, which checks the source's own values.
      const castOrigins = options.casts && options.casts.length > 0 ? planCasts(plans, options.casts) : undefined;
      const runId = randomBytes(6).toString("hex");
      const metadata: Metadata = {
        ...(await source.getMetadata(name)),
        migrated_from: `${source.backendType}:${source.implementation}`,
        migrated_to: `${target.backendType}:${target.implementation}`,
        migration_date: new Date().toISOString(),
        migration_id: runId,
      };
      checkAbort();

      // --- staging -----------------------------------------------------------------------------
      const stagingPath = target.getStagingPath(name, runId);
      let published = false;
      try {
        await target.createDatabase(stagingPath);
        let stagingEngine = await target.getEngine(stagingPath);
        const sourceSums = new Map<string, TableChecksum>();
        const coercedByTable = new Map<string, CoercedCounts>();
        for (let i = 0; i < plans.length; i++) {
          const plan = plans[i] as TablePlan;
          const coercedCounts: CoercedCounts = {};
          coercedByTable.set(plan.name, coercedCounts);
          const sum = await this.copyTable(source, target, sourceEngine, stagingEngine, plan, batchSize, verify === "checksum", options, coercedCounts, (rowsDone, rate) =>
            progress({
              phase: "copy",
              table: plan.name,
              tableIndex: i + 1,
              tableCount: plans.length,
              rowsDone,
              rowsTotal: plan.rowCount,
              rate,
              etaSeconds: rate > 0 ? Math.max(0, (plan.rowCount - rowsDone) / rate) : null,
            }),
          );
            if (sum) sourceSums.set(plan.name, sum);
          result.tablesMigrated.push(plan.name);
          await nextTurn();
          checkAbort();
        }
        if (castOrigins) {
          const previous = (metadata as Record<string, unknown>).column_types;
          const merged: Record<string, Record<string, unknown>> = previous !== null && typeof previous === "object" ? { ...(previous as Record<string, Record<string, unknown>>) } : {};
          for (const [t, columns] of Object.entries(castOrigins)) merged[t] = { ...(merged[t] ?? {}), ...columns };
          metadata.column_types = merged as unknown as Metadata[string];
        }
        if (options.coerceUnsupported) {
          const coerced = Object.fromEntries([...coercedByTable].filter(([, counts]) => Object.keys(counts).length > 0));
          // Beside registration's own `coerced`, which the copied metadata keeps.
          metadata.migration_coerced = coerced;
          if (Object.keys(coerced).length > 0) result.coerced = coerced;
        }
        const now = new Date().toISOString();
        await target.writeBatches(
          METADATA_TABLE,
          METADATA_COLUMNS,
          [Object.entries(metadata).map(([k, v]) => [k, encodeMetadataValue(k, v), now] as Value[])],
          { engine: stagingEngine, ifExists: "replace", signal },
        );
        checkAbort();

        // --- verify (in staging, before anything is visible) -----------------------------------
        // Verify what will be published: close the staging engine so the data reaches its final on-disk
        // form (DuckDB's checkpoint compresses columns; its constant/RLE encodings once turned 0.0 into
        // -0.0 here), then read it back from storage.
        await target.releaseEngine(stagingEngine);
        stagingEngine = await target.getEngine(stagingPath);
        if (verify !== "none") {
          progress({ phase: "verify", rowsDone: 0, rowsTotal: 0, rate: 0, etaSeconds: null });
          result.verification = await this.verify(source, target, sourceEngine, stagingEngine, plans, sourceSums, verify, batchSize, signal);
          if (!result.verification.passed) {
            throw new MdmError(ErrorCodes.VERIFICATION_FAILED, `Verification failed: ${result.verification.differences.join("; ")}`, {
              details: { dataset: name, differences: result.verification.differences },
            });
          }
        }
        result.rowsMigrated = plans.reduce((n, p) => n + p.rowCount, 0);
        const data = plans.filter((p) => !isSystemTable(p.name));
        result.dataTables = data.map((p) => p.name);
        result.dataRows = data.reduce((n, p) => n + p.rowCount, 0);
        try {
          result.bytes = await target.getDatabaseSize(stagingEngine);
        } catch {
          result.bytes = null;
        }
        await target.releaseEngine(stagingEngine);

        // --- publish and registry, as one step ---------------------------------------------------
        // Everything that needs space is written first: the registry entry under a temporary name and the
        // publish journal. Then the source is proven unchanged, and only a rename (publish) and a rename
        // (registry) remain: a full or read-only registry directory fails the run while nothing is visible.
        const pending = registry && entry ? registry.prepare({ ...entry, name, database: this.registryDatabase(target, name) }) : undefined;
        try {
          if (pending) writeJournal(this.lockDir(), { runId, dataset: name, source: source.backendType, target: target.backendType, startedAt: new Date().toISOString() });
          await hold.assertUnchanged();
          // Synchronous engines (better-sqlite3) can keep the event loop busy from the copy to here: let a
          // pending SIGINT or SIGTERM reach its handler while it can still undo the run.
          await nextTurn();
          checkAbort();
          progress({ phase: "publish", rowsDone: result.rowsMigrated, rowsTotal: result.rowsMigrated, rate: 0, etaSeconds: 0 });
          stage.pastNoReturn = true;
          try {
            await target.publishStaging(stagingPath, name, { replace: options.overwrite === true });
          } catch (error) {
            stage.pastNoReturn = false; // a publish is atomic: nothing is visible
            throw error;
          }
          published = true;
          progress({ phase: "registry", rowsDone: result.rowsMigrated, rowsTotal: result.rowsMigrated, rate: 0, etaSeconds: 0 });
          if (pending) {
            try {
              pending.commit();
            } catch (error) {
              // The registry could not be switched: undo the publish, so that registry and data agree. When
              // even that fails, the journal stays and the next run removes the unregistered copy.
              try {
                await target.dropDataset(name);
                published = false;
                stage.pastNoReturn = false;
              } catch (undo) {
                notice(`the published ${target.backendType} copy of ${name} could not be removed (${errorInfo(undo).message}); the next migration of ${name} removes it`);
              }
              throw error;
            }
          }
        } catch (error) {
          if (!stage.pastNoReturn && pending) {
            pending.discard();
            removeJournal(this.lockDir(), name);
          }
          throw error;
        }
        removeJournal(this.lockDir(), name);
      } finally {
        if (!published) await target.dropDatabase(stagingPath).catch(() => undefined);
      }

      // --- the source: kept, or removed while writers are still held out -------------------------
      if (options.removeSource) {
        try {
          await hold.assertUnchanged();
          holdEnded = true;
          await hold.dropDataset();
          result.sourceRemoved = true;
        } catch (error) {
          notice(`the source ${source.backendType} copy of ${name} was kept: ${errorInfo(error).message}`);
        }
      }
      if (!result.sourceRemoved) {
        holdEnded = true;
        await hold.release({ moved: true }).catch(() => undefined);
      }
      progress({ phase: "done", rowsDone: result.rowsMigrated, rowsTotal: result.rowsMigrated, rate: 0, etaSeconds: 0 });
    } finally {
      if (!holdEnded) await hold.release().catch(() => undefined);
    }
  }

  /** The `database` section of the target's registry entry (the option, else the backend's location). */
  private registryDatabase(target: IStorageBackend, name: string): RegistryEntry["database"] {
    if (this.registryDatabaseOption) return this.registryDatabaseOption(target, name);
    const location = target.getDatabasePath(name);
    const database: RegistryEntry["database"] = { backend: target.backendType };
    if (target.backendType === "postgresql") database.database = location;
    else database.path = location;
    return database;
  }

  /** Apply the publish journal's recovery rule (see publish-journal.ts) for a run that died mid-publish. */
  private async recoverInterruptedPublish(name: string, source: IStorageBackend, target: IStorageBackend, registry: DatasetRegistry, notice: (message: string) => void): Promise<void> {
    const journal = readJournal(this.lockDir(), name);
    if (!journal) return;
    const registered = registry.exists(name) ? String(registry.read(name).database.backend).toLowerCase() : undefined;
    if (registered === journal.target) {
      removeJournal(this.lockDir(), name);
      return;
    }
    if (journal.target !== target.backendType) return; // that run's copy is in another backend: a run to it recovers it
    if (await target.datasetExists(name)) {
      const id = (await target.getMetadata(name).catch(() => ({}) as Metadata)).migration_id;
      if (id === journal.runId) {
        await target.dropDataset(name);
        notice(`removed the ${target.backendType} copy of ${name} that an interrupted migration (run ${journal.runId}) had published without pointing the registry at it; the registry and ${source.backendType} were never changed`);
      }
    }
    removeJournal(this.lockDir(), name);
  }

  /** Refuse, before writing anything, values the target cannot hold (naming table, column and row). */
  private async scanRepresentable(source: IStorageBackend, target: IStorageBackend, engine: StorageEngine, plan: TablePlan, batchSize: number, idColumns: string[], signal?: AbortSignal): Promise<void> {
    let columns = columnsToScan(source, target, plan.columns);
    if (columns.length === 0 || plan.rowCount === 0) return;
    // A special value the target lacks is first asked of the source's engine, one query per kind. The
    // columns it answers false for are not read here; when it finds one (or cannot ask), the rows are
    // read to name the first offending row.
    for (const type of new Set(columns.map((c) => c.type))) {
      const ofType = columns.filter((c) => c.type === type);
      const kinds = kindsToFind(source, target, type);
      if (kinds.length === 0) continue;
      let clean = true;
      for (const kind of kinds) {
        if ((await source.columnsContain(plan.name, ofType.map((c) => c.name), kind, engine)) !== false) {
          clean = false;
          break;
        }
      }
      if (clean) columns = columns.filter((c) => c.type !== type);
    }
    if (columns.length === 0) return;
    // The row's key (the dataset's id columns, where this table has them) is read beside, to name it.
    const keys = idColumns.filter((id) => plan.columns.some((c) => c.name === id));
    let row = 0;
    for await (const batch of source.readBatches(plan.name, { engine, columns: [...columns.map((c) => c.name), ...keys], batchSize, signal, keepInCache: false })) {
      for (const values of batch.rows) {
        for (let c = 0; c < columns.length; c++) {
          const column = columns[c] as ColumnDef;
          try {
            target.checkValue(column, values[c] as Value);
          } catch (error) {
            const info = errorInfo(error);
            const key = Object.fromEntries(keys.map((k, i) => [k, formatValue(values[columns.length + i] as Value)]));
            const named = keys.length > 0 ? `the row with ${keys.map((k) => `${k} = ${key[k]}`).join(", ")} (row ${row + 1})` : `row ${row + 1}`;
            throw new MdmError(
              ErrorCodes.UNSUPPORTED_VALUE,
              `${target.backendType} cannot hold the value ${formatValue(values[c] as Value)} of table ${JSON.stringify(plan.name)}, column ${JSON.stringify(column.name)}, ${named}, the first such: ${info.message}. ` +
                `Nothing was written; pass coerceUnsupported (--coerce-unsupported) to store the nearest value it holds instead, counted`,
              { cause: error, details: { table: plan.name, column: column.name, row: row + 1, ...(keys.length > 0 ? { key } : {}), option: "--coerce-unsupported" } },
            );
          }
        }
        row++;
      }
    }
  }

  private async copyTable(
    source: IStorageBackend,
    target: IStorageBackend,
    sourceEngine: StorageEngine,
    stagingEngine: StorageEngine,
    plan: TablePlan,
    batchSize: number,
    checksum: boolean,
    options: MigrateOptions,
    coercedCounts: CoercedCounts,
    onRows: (rowsDone: number, rate: number) => void,
  ): Promise<TableChecksum | undefined> {
    const sum = checksum ? new TableChecksum(plan.columns) : undefined;
    // Coerced before the checksum: verification compares the target with what the source becomes.
    const coerce = options.coerceUnsupported ? rowCoercer(plan.columns, target.capabilities.values, coercedCounts) : undefined;
    const started = performance.now();
    const transform = options.transformBatch;
    const names = plan.columns.map((c) => c.name);
    let read = 0;
    const casts = plan.casts ?? [];
    const batches = async function* () {
      for await (const batch of prefetch(source.readBatches(plan.name, { engine: sourceEngine, columns: names, batchSize, signal: options.signal, keepInCache: false }))) {
        if (casts.length > 0) castRows(plan, casts, batch.rows, read, options.coerceUnsupported === true, coercedCounts);
        if (coerce) coerce(batch.rows);
        if (sum) sum.addAll(batch.rows);
        read += batch.rows.length;
        yield transform ? transform(plan.name, batch.rows) : batch.rows;
      }
    };
    const written = await target.writeBatches(plan.name, plan.columns, batches(), {
      engine: stagingEngine,
      ifExists: "fail",
      signal: options.signal,
      commitEveryRows: STAGING_COMMIT_ROWS,
      onBatch: (n) => {
        const seconds = (performance.now() - started) / 1000;
        onRows(n, seconds > 0 ? n / seconds : 0);
      },
    });
    if (written !== read) {
      throw new MdmError(ErrorCodes.VERIFICATION_FAILED, `Table ${JSON.stringify(plan.name)}: read ${read} rows but wrote ${written}`);
    }
    plan.rowCount = read;
    onRows(written, 0);
    return sum;
  }

  private async verify(
    source: IStorageBackend,
    target: IStorageBackend,
    sourceEngine: StorageEngine,
    stagingEngine: StorageEngine,
    plans: TablePlan[],
    sourceSums: Map<string, TableChecksum>,
    mode: "checksum" | "count",
    batchSize: number,
    signal?: AbortSignal,
  ): Promise<VerificationReport> {
    const checks: VerificationCheck[] = [];
    const differences: string[] = [];
    const add = (check: VerificationCheck, difference: string) => {
      checks.push(check);
      if (!check.matches) differences.push(difference);
    };
    for (const plan of plans) {
      const info = await target.getTableInfo(plan.name, stagingEngine);
      add({ table: plan.name, check: "row_count", source: plan.rowCount, target: info.rowCount, matches: info.rowCount === plan.rowCount }, `Table ${plan.name}: row count mismatch (source: ${plan.rowCount}, target: ${info.rowCount})`);
      const sourceNames = plan.columns.map((c) => c.name);
      const targetNames = info.columns.map((c) => c.name);
      const sameNames = sourceNames.length === targetNames.length && sourceNames.every((n, i) => n === targetNames[i]);
      add({ table: plan.name, check: "columns", source: sourceNames, target: targetNames, matches: sameNames }, `Table ${plan.name}: columns differ (source: ${sourceNames.join(", ")}; target: ${targetNames.join(", ")})`);
      const sourceTypes = plan.columns.map((c) => c.type);
      const targetTypes = plan.columns.map((c) => info.columns.find((t) => t.name === c.name)?.type ?? null);
      const typeDiffs = plan.columns.filter((c, i) => targetTypes[i] !== c.type).map((c) => c.name);
      add({ table: plan.name, check: "types", source: sourceTypes, target: targetTypes, matches: typeDiffs.length === 0, columns: typeDiffs }, `Table ${plan.name}: logical types differ in ${typeDiffs.join(", ")}`);
      if (mode !== "checksum" || !sameNames) continue;
      const targetSum = await target.tableChecksum(plan.name, { engine: stagingEngine, columns: sourceNames, batchSize, signal });
      const sourceSum = sourceSums.get(plan.name) as TableChecksum;
      const matches = sourceSum.hash === targetSum.hash && sourceSum.count === targetSum.count;
      let columns: string[] | undefined;
      if (!matches) columns = await this.differingColumns(source, target, sourceEngine, stagingEngine, plan, batchSize, signal);
      add(
        { table: plan.name, check: "checksum", source: sourceSum.toJSON(), target: targetSum.toJSON(), matches, columns },
        `Table ${plan.name}: checksum mismatch (source ${sourceSum.hash}, target ${targetSum.hash})${columns && columns.length > 0 ? ` in column ${columns.join(", ")}` : ""}`,
      );
    }
    return { mode, passed: differences.length === 0, checks, differences };
  }

  /** Per-column checksums of both sides, to name the columns that differ. */
  private async differingColumns(source: IStorageBackend, target: IStorageBackend, sourceEngine: StorageEngine, stagingEngine: StorageEngine, plan: TablePlan, batchSize: number, signal?: AbortSignal): Promise<string[]> {
    const sums = async (backend: IStorageBackend, engine: StorageEngine) => {
      const perColumn = plan.columns.map((c) => new TableChecksum([c]));
      for await (const batch of backend.readBatches(plan.name, { engine, columns: plan.columns.map((c) => c.name), batchSize, signal, keepInCache: false })) {
        for (const row of batch.rows) for (let c = 0; c < perColumn.length; c++) (perColumn[c] as TableChecksum).add([row[c] as Value]);
      }
      return perColumn.map((s) => s.hash);
    };
    const a = await sums(source, sourceEngine);
    const b = await sums(target, stagingEngine);
    return plan.columns.filter((_, i) => a[i] !== b[i]).map((c) => c.name);
  }
}

/** Convert the cast columns of `rows` in place (`before`: rows of the table already read), naming a value that does not convert. */
function castRows(plan: TablePlan, casts: NonNullable<TablePlan["casts"]>, rows: Value[][], before: number, coerce: boolean, counts: CoercedCounts): void {
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Value[];
    for (const { index, convert, option } of casts) {
      try {
        row[index] = convert(row[index] as Value);
      } catch (error) {
        if (!(error instanceof ConversionFailure)) throw error;
        const column = (plan.columns[index] as ColumnDef).name;
        if (!coerce) {
          throw new MdmError(
            ErrorCodes.UNSUPPORTED_VALUE,
            `Table ${JSON.stringify(plan.name)}, column ${JSON.stringify(column)}, row ${before + r + 1}: ${error.message} (${option}); nothing was published. ` +
              `Pass coerceUnsupported (--coerce-unsupported) to store NULL instead, counted`,
            { cause: error, details: { table: plan.name, column, row: before + r + 1, option: "--coerce-unsupported" } },
          );
        }
        row[index] = null;
        countCoerced(counts, column, "unconverted");
      }
    }
  }
}

/** One turn of the event loop (its poll phase delivers signals). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function abortError(error: unknown, signal: AbortSignal): MdmError {
  // The reason says why (a signal, the caller's own MdmError); a backend's "aborted" says only where.
  const reason = signal.reason;
  if (isMdmError(reason)) return reason;
  if (isMdmError(error, ErrorCodes.ABORTED)) return error;
  return new MdmError(ErrorCodes.ABORTED, "The migration was aborted; staging was removed, source and registry are untouched", { cause: error });
}

/**
 * The options of a migration, checked before anything starts (MDM_INVALID_ARGUMENT naming the option):
 * `verify` as a mode (`true` is checksum, `false` none), a positive integer `batchSize`.
 */
type CheckedOptions = MigrateOptions & { verify: VerifyMode };

function checkedOptions(options: MigrateOptions): CheckedOptions {
  if (options === null || typeof options !== "object") throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `migrateDataset options must be an object, got ${JSON.stringify(options)}`);
  const verify = options.verify === undefined || options.verify === true ? "checksum" : options.verify === false ? "none" : options.verify;
  if (!["checksum", "count", "none"].includes(verify)) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `verify must be checksum, count, none, true (checksum) or false (none); got ${JSON.stringify(options.verify)}`);
  }
  const batchSize = options.batchSize;
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1)) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `batchSize must be a positive integer, got ${JSON.stringify(batchSize)}`);
  }
  return { ...options, verify };
}

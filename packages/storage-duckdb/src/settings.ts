import { ErrorCodes, MEMORY_SIZE_EXPECTED, MdmError, parseMemorySize, type DuckdbConfig } from "@mdm/storage-core";

/** DuckDB settings of a backend (the `database.duckdb` section of mdm.yaml). */
export interface DuckdbSettings {
  /** `memory_limit`, e.g. "8GB". */
  memoryLimit?: string;
  /** `threads`: worker threads of the instance. */
  threads?: number;
  /** `temp_directory`: where DuckDB spills. */
  tempDirectory?: string;
  /** READ_ONLY opens files read-only (no write is possible, several processes may read). */
  accessMode?: DuckdbConfig["access_mode"];
  /**
   * `memory_limit` of a migration's staging database (default {@link DEFAULT_STAGING_MEMORY_LIMIT}, or
   * `memoryLimit` when that is smaller).
   * Its rows are written once and read once by verification, so DuckDB's cache of them only grows
   * the process: with the 8GB limit, a copy kept every block it wrote.
   */
  stagingMemoryLimit?: string;
  /**
   * Milliseconds to wait for another process that holds a file (DuckDB lets one process write a file, or
   * several read it) before failing with MDM_LOCKED. From mdm.yaml's `database.connection_timeout`
   * (seconds, default 30); default 0 (fail at once) for a backend built in code.
   */
  lockWaitMs?: number;
}

/**
 * Staging's `memory_limit`. Migrating the migration benchmark's table from SQLite to DuckDB (an ad-hoc
 * script, 2026-11-26), 1M and 5M rows peaked at 239-251 and 280 MB with 32MB, at 272-277 and 305 MB with
 * 64MB; with the 8GB of datasets, 5M rows peaked at 497 MB. The copy took as long with each.
 */
export const DEFAULT_STAGING_MEMORY_LIMIT = "32MB";

/** Settings from the mdm.yaml section (keys as Python MDM spells them) and `database.connection_timeout` (seconds). */
export function settingsFromConfig(config: Partial<DuckdbConfig> | undefined, connectionTimeoutSeconds?: number): DuckdbSettings {
  return {
    memoryLimit: config?.memory_limit,
    threads: config?.threads,
    tempDirectory: config?.temp_directory,
    accessMode: config?.access_mode,
    lockWaitMs: connectionTimeoutSeconds === undefined ? undefined : connectionTimeoutSeconds * 1000,
  };
}

/**
 * A `memory_limit` value ("512MB", "8GB", "75%"), checked by core's rule, and its bytes. DuckDB refuses a
 * percentage (1.5: "Unknown unit for memory: '%'"), so one is given to it as MiB of the physical memory.
 */
function memoryLimit(value: string, key: string): { text: string; bytes: number } {
  const size = typeof value === "string" ? parseMemorySize(value) : undefined;
  if (size === undefined) throw new MdmError(ErrorCodes.INVALID_CONFIG, `duckdb.${key} must be ${MEMORY_SIZE_EXPECTED}, got ${JSON.stringify(value)}`, { details: { key: `database.duckdb.${key}` } });
  return { text: size.percent ? `${Math.max(1, Math.floor(size.bytes / 2 ** 20))}MiB` : value.trim(), bytes: size.bytes };
}

/**
 * The configuration of a migration's staging database: the backend's, with the staging memory limit.
 * Without an explicit `stagingMemoryLimit`, a `memoryLimit` below the default is kept: staging never
 * gets more memory than the user gave DuckDB.
 */
export function stagingInstanceOptions(settings: DuckdbSettings): Record<string, string> {
  const staging = memoryLimit(settings.stagingMemoryLimit ?? DEFAULT_STAGING_MEMORY_LIMIT, "stagingMemoryLimit");
  const own = settings.memoryLimit === undefined ? undefined : memoryLimit(settings.memoryLimit, "memory_limit");
  const limit = settings.stagingMemoryLimit === undefined && own !== undefined && own.bytes < staging.bytes ? own : staging;
  return { ...instanceOptions(settings), memory_limit: limit.text };
}

/**
 * The configuration a DuckDB instance is opened with. Extensions: parquet and json are statically
 * linked into the Node bindings; auto-install and auto-load are switched off and community
 * extensions refused, so nothing is ever downloaded.
 */
export function instanceOptions(settings: DuckdbSettings): Record<string, string> {
  const options: Record<string, string> = {
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
    allow_community_extensions: "false",
  };
  if (settings.memoryLimit !== undefined) options.memory_limit = memoryLimit(settings.memoryLimit, "memory_limit").text;
  if (settings.threads !== undefined) {
    if (!Number.isSafeInteger(settings.threads) || settings.threads < 1) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `duckdb.threads must be a positive integer, got ${settings.threads}`);
    }
    options.threads = String(settings.threads);
  }
  if (settings.tempDirectory !== undefined && settings.tempDirectory !== "") options.temp_directory = settings.tempDirectory;
  if (settings.accessMode !== undefined) {
    if (!["READ_WRITE", "READ_ONLY", "AUTOMATIC"].includes(settings.accessMode)) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `duckdb.access_mode must be READ_WRITE, READ_ONLY or AUTOMATIC, got ${JSON.stringify(settings.accessMode)}`);
    }
    options.access_mode = settings.accessMode;
  }
  return options;
}

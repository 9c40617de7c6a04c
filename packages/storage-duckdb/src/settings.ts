import { ErrorCodes, MdmError, type DuckdbConfig } from "@mdm/storage-core";

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
}

/** Settings from the mdm.yaml section (keys as Python MDM spells them). */
export function settingsFromConfig(config: Partial<DuckdbConfig> | undefined): DuckdbSettings {
  return {
    memoryLimit: config?.memory_limit,
    threads: config?.threads,
    tempDirectory: config?.temp_directory,
    accessMode: config?.access_mode,
  };
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
  if (settings.memoryLimit !== undefined) {
    if (!/^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.test(settings.memoryLimit) && !/^\d+(\.\d+)?%$/.test(settings.memoryLimit.trim())) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `duckdb.memory_limit must look like "8GB", got ${JSON.stringify(settings.memoryLimit)}`);
    }
    options.memory_limit = settings.memoryLimit.trim();
  }
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

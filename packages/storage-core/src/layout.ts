import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { defaultConfig, resolveHomeDir, type MdmConfig } from "./config.js";
import { writeFileDurably } from "./durable-file.js";
import { ErrorCodes, MdmError, fileSystemError, redactSecrets } from "./errors.js";
import { normalizeDatasetName } from "./names.js";
import type { BackendType } from "./types.js";

/**
 * The on-disk layout of an MDM home, the same one Python MDM's registrar writes:
 *
 * ```
 * <home>/mdm.yaml
 * <home>/feature_flags.yaml
 * <home>/config/datasets/{name}.yaml            registry entry
 * <home>/datasets/{name}/{name}.sqlite | .duckdb
 * ```
 */
export class MdmHome {
  readonly root: string;
  readonly datasetsDir: string;
  readonly configsDir: string;

  constructor(root?: string, paths: MdmConfig["paths"] = defaultConfig().paths) {
    this.root = resolve(root ?? resolveHomeDir());
    // resolve(): no trailing slash ("datasets/"), so directories compare equal as strings.
    this.datasetsDir = resolve(this.root, paths.datasets_path);
    this.configsDir = resolve(this.root, paths.configs_path);
  }

  get configFile(): string {
    return join(this.root, "mdm.yaml");
  }

  get flagsFile(): string {
    return join(this.root, "feature_flags.yaml");
  }

  datasetDir(name: string): string {
    return join(this.datasetsDir, normalizeDatasetName(name));
  }

  /** `datasets/{name}/{name}.sqlite` or `.duckdb`. */
  databaseFile(name: string, backend: "sqlite" | "duckdb"): string {
    const n = normalizeDatasetName(name);
    return join(this.datasetsDir, n, `${n}.${backend}`);
  }

  registryFile(name: string): string {
    return join(this.configsDir, `${normalizeDatasetName(name)}.yaml`);
  }
}

/** A dataset's registry entry (`config/datasets/{name}.yaml`), as Python MDM writes it. */
export interface RegistryEntry {
  name: string;
  display_name?: string;
  description?: string;
  database: {
    backend: BackendType;
    /** File path (SQLite, DuckDB). */
    path?: string;
    /** PostgreSQL: host, port, database or schema; never a password. */
    host?: string;
    port?: number;
    user?: string;
    database?: string;
    schema?: string;
    [key: string]: unknown;
  };
  tables?: Record<string, string>;
  target_column?: string | null;
  id_columns?: string[];
  problem_type?: string | null;
  [key: string]: unknown;
}

/** A registry entry written under a temporary name, not yet in place (`DatasetRegistry.prepare`). */
export interface PendingRegistryWrite {
  readonly file: string;
  /** Rename it into place (idempotent). */
  commit(): void;
  /** Remove it (idempotent; nothing after commit). */
  discard(): void;
}

/** Remove a file if the file system lets us (a read-only one does not). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // left for removeTemporaryFiles
  }
}

/** Make a rename in a directory durable (best effort: some file systems refuse fsync on a directory). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here: the rename itself is atomic
  }
}

/** Read and write registry entries. Writes go through a temporary file and a rename. */
export class DatasetRegistry {
  constructor(readonly home: MdmHome) {}

  exists(name: string): boolean {
    return existsSync(this.home.registryFile(name));
  }

  read(name: string): RegistryEntry {
    const file = this.home.registryFile(name);
    if (!existsSync(file)) {
      throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Dataset ${JSON.stringify(normalizeDatasetName(name))} is not registered`, {
        details: { dataset: normalizeDatasetName(name) },
      });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} is not valid YAML`, { cause: error });
    }
    if (!parsed || typeof parsed !== "object") throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} does not hold a mapping`);
    const entry = parsed as RegistryEntry;
    if (!entry.database || typeof entry.database !== "object") {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} has no database section`);
    }
    return entry;
  }

  /** Write an entry; a `password` key anywhere in it is refused (registry files are not secret stores). */
  write(entry: RegistryEntry): void {
    this.prepare(entry).commit();
  }

  /**
   * Write an entry under a temporary name beside its file and make it durable; `commit()` renames it into
   * place (a rename needs no space), `discard()` removes it. A migration prepares before it publishes, so a
   * full or read-only registry directory fails it while nothing is published yet. Errors: MDM_DISK_FULL,
   * MDM_PERMISSION_DENIED, naming the file; the temporary file never stays behind.
   */
  prepare(entry: RegistryEntry): PendingRegistryWrite {
    const name = normalizeDatasetName(entry.name);
    if (containsPassword(entry)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A registry entry must not hold a password");
    }
    const file = this.home.registryFile(name);
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileDurably(tmp, stringifyYaml({ ...entry, name }));
    } catch (error) {
      throw fileSystemError(error, file, "write the registry entry");
    }
    let done = false;
    return {
      file,
      commit: () => {
        if (done) return;
        done = true;
        try {
          renameSync(tmp, file);
        } catch (error) {
          removeQuietly(tmp); // on a read-only directory it stays: the next write of this entry removes it
          throw fileSystemError(error, file, "write the registry entry");
        }
        syncDirectory(dirname(file));
      },
      discard: () => {
        if (done) return;
        done = true;
        removeQuietly(tmp);
      },
    };
  }

  /** Remove temporary files a killed or failed write of this entry left (`{name}.yaml.tmp-*`). */
  removeTemporaryFiles(name: string): string[] {
    const file = this.home.registryFile(name);
    const prefix = `${basename(file)}.tmp-`;
    let removed: string[] = [];
    try {
      removed = readdirSync(dirname(file)).filter((f) => f.startsWith(prefix)).map((f) => join(dirname(file), f));
    } catch {
      return [];
    }
    for (const path of removed) removeQuietly(path);
    return removed;
  }

  remove(name: string): void {
    rmSync(this.home.registryFile(name), { force: true });
  }

  /** Names of registered datasets, sorted. */
  list(): string[] {
    if (!existsSync(this.home.configsDir)) return [];
    return readdirSync(this.home.configsDir)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.slice(0, -".yaml".length))
      .filter((n) => {
        try {
          return normalizeDatasetName(n) === n;
        } catch {
          return false;
        }
      })
      .sort();
  }
}

function containsPassword(value: unknown): boolean {
  if (!value || typeof value !== "object") return false;
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (/(pass(word)?|passwd|pwd)$/i.test(key) && inner !== null && inner !== undefined && inner !== "") return true;
    // A connection URL or keyword string with a password in it (postgresql://u:pw@h/db, "password=pw").
    if (typeof inner === "string" && redactSecrets(inner) !== inner) return true;
    if (containsPassword(inner)) return true;
  }
  return false;
}

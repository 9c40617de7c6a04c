import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve, sep } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { defaultConfig, resolveHomeDir, type MdmConfig } from "./config.js";
import { describeValue } from "./config-schema.js";
import { writeFileDurably } from "./durable-file.js";
import { ErrorCodes, MdmError, fileSystemError, redactSecrets } from "./errors.js";
import { normalizeDatasetName } from "./names.js";
import { BACKEND_TYPES, type BackendType } from "./types.js";

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

  /**
   * The entry of a dataset, checked before anything uses it (`checkRegistryEntry`): MDM_DATASET_NOT_FOUND
   * when there is none, MDM_INVALID_CONFIG naming the file and the key when it is invalid.
   */
  read(name: string): RegistryEntry {
    const entry = this.readIfExists(name);
    if (!entry) {
      throw new MdmError(ErrorCodes.DATASET_NOT_FOUND, `Dataset ${JSON.stringify(normalizeDatasetName(name))} is not registered`, {
        details: { dataset: normalizeDatasetName(name) },
      });
    }
    return entry;
  }

  /** The checked entry of a dataset, or undefined when it is not registered (a migration's preflight). */
  readIfExists(name: string): RegistryEntry | undefined {
    const file = this.home.registryFile(name);
    if (!existsSync(file)) return undefined;
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} is not valid YAML: ${(error as Error).message}`, { cause: error, details: { file } });
    }
    return checkRegistryEntry(parsed, file, normalizeDatasetName(name), this.home);
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

/** Keys of an entry (Python MDM's DatasetInfo and ours) that hold text, or null. */
const ENTRY_TEXT_KEYS = ["display_name", "description", "target_column", "problem_type", "time_column", "group_column", "source", "created_at", "registered_at", "last_updated_at"];
/** ... a list of text. */
const ENTRY_LIST_KEYS = ["id_columns", "tags"];
/** ... a mapping of text to text. */
const ENTRY_MAP_KEYS = ["tables", "feature_tables"];
/** Keys of `database` that hold text (PostgreSQL's location; Python MDM's connection_string). */
const DATABASE_TEXT_KEYS = ["host", "user", "database", "schema", "connection_string"];

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Whether a path is `dir` or inside it, as written or once symbolic links are resolved (a home reached through a link). */
function isInside(dir: string, path: string): boolean {
  const inside = (d: string, p: string) => p === d || p.startsWith(d.endsWith(sep) ? d : d + sep);
  if (inside(dir, path)) return true;
  try {
    return inside(realpathSync(dir), realpathSync(path));
  } catch {
    return false;
  }
}

/**
 * Check a registry entry read from `file`, the entry of dataset `name` (the file's name), before anything
 * uses or rewrites it: a mapping; `name` the file's name (after normalisation: `Titanic` in titanic.yaml
 * is fine); `database.backend` one of ours; `database.path`, when present, inside the dataset's own
 * directory of this home; the keys we read of the types Python MDM writes. Keys we do not read are kept
 * (Python MDM writes more: its backend settings in `database`, `metadata`, ...). MDM_INVALID_CONFIG
 * names the file and the key; the entry is returned with `name` normalised and `backend` lower-cased.
 */
export function checkRegistryEntry(parsed: unknown, file: string, name: string, home: MdmHome): RegistryEntry {
  const fail = (key: string | undefined, problem: string) =>
    new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: ${key === undefined ? "" : `${key} `}${problem}`, { details: { file, ...(key === undefined ? {} : { key }), dataset: name } });
  if (!isMapping(parsed)) throw fail(undefined, `does not hold a mapping (a registry entry holds name, database and the dataset's keys), got ${describeValue(parsed)}`);

  const declared = parsed.name;
  if (declared === undefined || declared === null) throw fail("name", `is missing; it must be ${JSON.stringify(name)}, the file's name`);
  if (typeof declared !== "string") {
    const quote = String(declared).toLowerCase() === name ? `; quote it: name: '${name}'` : "";
    throw fail("name", `must be the text ${JSON.stringify(name)} (the file's name), got ${describeValue(declared)}${quote}`);
  }
  let normalized: string;
  try {
    normalized = normalizeDatasetName(declared);
  } catch {
    throw fail("name", `${JSON.stringify(declared)} is not a dataset name (letters, digits, _ and -, which become file and database names)`);
  }
  if (normalized !== name) {
    throw fail("name", `is ${JSON.stringify(declared)} but the file is ${name}.yaml: an entry's name must be its file's name (rename the file or set name: ${name})`);
  }

  const database = parsed.database;
  if (!isMapping(database)) throw fail("database", `must be a mapping with the dataset's backend (database: { backend: sqlite, ... }), got ${describeValue(database)}`);
  const backend = typeof database.backend === "string" ? database.backend.trim().toLowerCase() : undefined;
  if (backend === undefined || !(BACKEND_TYPES as readonly string[]).includes(backend)) {
    throw fail("database.backend", `must be one of ${BACKEND_TYPES.join(", ")}, got ${describeValue(database.backend)}`);
  }
  if (database.path !== undefined && database.path !== null) {
    if (typeof database.path !== "string" || database.path.trim() === "" || database.path.includes("\0")) {
      throw fail("database.path", `must be the path of the dataset's database file, got ${describeValue(database.path)}`);
    }
    const path = resolve(home.root, database.path.replace(/^~(?=$|[\\/])/, homedir()));
    const dir = home.datasetDir(name);
    if (!isInside(dir, path)) {
      throw fail("database.path", `${JSON.stringify(database.path)} is outside the dataset's directory ${dir}; it must point into it (if the home was moved, correct the path or remove the key)`);
    }
  }
  for (const key of DATABASE_TEXT_KEYS) {
    const value = database[key];
    if (value !== undefined && value !== null && typeof value !== "string") throw fail(`database.${key}`, `must be text, got ${describeValue(value)}`);
  }
  const port = database.port;
  if (port !== undefined && port !== null && !(Number.isSafeInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
    throw fail("database.port", `must be an integer from 1 to 65535, got ${describeValue(port)}`);
  }

  for (const key of ENTRY_TEXT_KEYS) {
    const value = parsed[key];
    if (value !== undefined && value !== null && typeof value !== "string") throw fail(key, `must be text, got ${describeValue(value)}`);
  }
  for (const key of ENTRY_LIST_KEYS) {
    const value = parsed[key];
    if (value !== undefined && value !== null && !(Array.isArray(value) && value.every((v) => typeof v === "string"))) {
      throw fail(key, `must be a list of text, got ${describeValue(value)}`);
    }
  }
  for (const key of ENTRY_MAP_KEYS) {
    const value = parsed[key];
    if (value !== undefined && value !== null && !(isMapping(value) && Object.values(value).every((v) => typeof v === "string"))) {
      throw fail(key, `must be a mapping of table names, got ${describeValue(value)}`);
    }
  }
  if (parsed.metadata !== undefined && parsed.metadata !== null && !isMapping(parsed.metadata)) throw fail("metadata", `must be a mapping, got ${describeValue(parsed.metadata)}`);
  if (parsed.version !== undefined && parsed.version !== null && typeof parsed.version !== "string" && typeof parsed.version !== "number") {
    throw fail("version", `must be text, got ${describeValue(parsed.version)}`);
  }
  return { ...parsed, name, database: { ...database, backend: backend as BackendType } } as RegistryEntry;
}

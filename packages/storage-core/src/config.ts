import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ErrorCodes, MdmError } from "./errors.js";
import { BACKEND_TYPES, type BackendType } from "./types.js";

export interface SqliteConfig {
  journal_mode: "DELETE" | "TRUNCATE" | "PERSIST" | "MEMORY" | "WAL" | "OFF";
  synchronous: "OFF" | "NORMAL" | "FULL" | "EXTRA";
  cache_size: number;
  temp_store: "DEFAULT" | "FILE" | "MEMORY";
  mmap_size: number;
  /** Milliseconds a write waits for another writer (new backend). */
  busy_timeout: number;
}

export interface DuckdbConfig {
  memory_limit: string;
  threads: number;
  temp_directory: string;
  access_mode: "READ_WRITE" | "READ_ONLY" | "AUTOMATIC";
}

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface PostgresqlConfig {
  host: string;
  port: number;
  user: string | null;
  password: string | null;
  database_prefix: string;
  sslmode: SslMode;
  sslrootcert: string | null;
  sslcert: string | null;
  sslkey: string | null;
  pool_size: number;
  max_overflow: number;
  pool_timeout: number;
  pool_recycle: number;
  connect_timeout: number;
  statement_timeout: number;
  lock_timeout: number;
  idle_in_transaction_session_timeout: number;
  application_name: string;
  /** Database that holds one schema per dataset when `schema_per_dataset` is true. */
  database: string | null;
  schema_per_dataset: boolean;
}

export interface MdmConfig {
  database: {
    default_backend: BackendType;
    connection_timeout: number;
    sqlalchemy: { echo: boolean; pool_size: number; max_overflow: number; pool_timeout: number; pool_recycle: number };
    sqlite: SqliteConfig;
    duckdb: DuckdbConfig;
    postgresql: PostgresqlConfig;
  };
  performance: { batch_size: number; max_concurrent_operations: number };
  paths: { datasets_path: string; configs_path: string; logs_path: string; custom_features_path: string };
}

/** Python MDM's defaults (`mdm.yaml.default`), plus the keys it documented but ignored. */
export function defaultConfig(): MdmConfig {
  return {
    database: {
      default_backend: "sqlite",
      connection_timeout: 30,
      sqlalchemy: { echo: false, pool_size: 5, max_overflow: 10, pool_timeout: 30, pool_recycle: 3600 },
      sqlite: { journal_mode: "WAL", synchronous: "NORMAL", cache_size: -64000, temp_store: "MEMORY", mmap_size: 268435456, busy_timeout: 5000 },
      duckdb: { memory_limit: "8GB", threads: 4, temp_directory: "/tmp", access_mode: "READ_WRITE" },
      postgresql: {
        host: "localhost",
        port: 5432,
        user: null,
        password: null,
        database_prefix: "mdm_",
        sslmode: "prefer",
        sslrootcert: null,
        sslcert: null,
        sslkey: null,
        pool_size: 10,
        max_overflow: 20,
        pool_timeout: 30,
        pool_recycle: 3600,
        connect_timeout: 10,
        statement_timeout: 0,
        lock_timeout: 0,
        idle_in_transaction_session_timeout: 0,
        application_name: "mdm",
        database: null,
        schema_per_dataset: false,
      },
    },
    performance: { batch_size: 10000, max_concurrent_operations: 5 },
    paths: { datasets_path: "datasets/", configs_path: "config/datasets/", logs_path: "logs/", custom_features_path: "config/custom_features/" },
  };
}

const ENUMS: Record<string, readonly string[]> = {
  "database.default_backend": BACKEND_TYPES,
  "database.sqlite.journal_mode": ["DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF"],
  "database.sqlite.synchronous": ["OFF", "NORMAL", "FULL", "EXTRA"],
  "database.sqlite.temp_store": ["DEFAULT", "FILE", "MEMORY"],
  "database.duckdb.access_mode": ["READ_WRITE", "READ_ONLY", "AUTOMATIC"],
  "database.postgresql.sslmode": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
};

const UPPER_CASE_ENUMS = new Set(["database.sqlite.journal_mode", "database.sqlite.synchronous", "database.sqlite.temp_store", "database.duckdb.access_mode"]);

const MINIMUMS: Record<string, number> = {
  "performance.batch_size": 100,
  "performance.max_concurrent_operations": 1,
  "database.postgresql.port": 1,
  "database.postgresql.pool_size": 1,
  "database.duckdb.threads": 1,
};

/** The MDM home: `$MDM_HOME_DIR`, else `~/.mdm`. */
export function resolveHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MDM_HOME_DIR;
  return resolve(fromEnv && fromEnv.trim() !== "" ? fromEnv : join(homedir(), ".mdm"));
}

type Leaf = { path: string[]; sample: unknown };

function leaves(obj: Record<string, unknown>, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) out.push(...leaves(value as Record<string, unknown>, [...prefix, key]));
    else out.push({ path: [...prefix, key], sample: value });
  }
  return out;
}

/** `MDM_<SECTION>_<KEY>` names of every known key, e.g. MDM_DATABASE_POSTGRESQL_HOST → database.postgresql.host. */
export function environmentKeys(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const leaf of leaves(defaultConfig() as unknown as Record<string, unknown>)) {
    map.set(`MDM_${leaf.path.join("_").toUpperCase()}`, leaf.path);
  }
  return map;
}

function coerce(path: string[], sample: unknown, raw: unknown, source: string): unknown {
  const where = `${path.join(".")} (from ${source})`;
  if (raw === null || raw === undefined) return null;
  if (typeof sample === "number") {
    const n = typeof raw === "number" ? raw : Number(String(raw).trim());
    if (!Number.isFinite(n) || String(raw).trim() === "") throw new MdmError(ErrorCodes.INVALID_CONFIG, `${where} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof sample === "boolean") {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(s)) return true;
    if (["false", "0", "no", "off"].includes(s)) return false;
    throw new MdmError(ErrorCodes.INVALID_CONFIG, `${where} must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (typeof raw === "object") throw new MdmError(ErrorCodes.INVALID_CONFIG, `${where} must be a single value`);
  return String(raw);
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function getPath(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function validate(config: MdmConfig): MdmConfig {
  for (const [dotted, allowed] of Object.entries(ENUMS)) {
    const path = dotted.split(".");
    let value = getPath(config, path);
    if (typeof value === "string" && UPPER_CASE_ENUMS.has(dotted)) {
      value = value.toUpperCase();
      setPath(config as unknown as Record<string, unknown>, path, value);
    }
    if (!allowed.includes(value as string)) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${dotted} must be one of ${allowed.join(", ")}; got ${JSON.stringify(value)}`);
    }
  }
  for (const [dotted, min] of Object.entries(MINIMUMS)) {
    const value = getPath(config, dotted.split("."));
    if (typeof value !== "number" || value < min || !Number.isInteger(value)) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${dotted} must be an integer >= ${min}; got ${JSON.stringify(value)}`);
    }
  }
  return config;
}

export interface LoadedConfig {
  config: MdmConfig;
  homeDir: string;
  /** Where each key that is not a default came from. */
  sources: Record<string, "file" | "env">;
}

/**
 * Load `mdm.yaml` from the MDM home with Python MDM's precedence: defaults < YAML < environment
 * (`MDM_<SECTION>_<KEY>`). Unknown YAML keys are kept; known keys are type-checked.
 */
export function loadConfig(options: { homeDir?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ? resolve(options.homeDir) : resolveHomeDir(env);
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const sources: Record<string, "file" | "env"> = {};
  const known = leaves(defaultConfig() as unknown as Record<string, unknown>);
  const file = join(homeDir, "mdm.yaml");
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} is not valid YAML: ${(error as Error).message}`, { cause: error });
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} must hold a mapping`);
      mergeUnknown(config, parsed as Record<string, unknown>);
      for (const leaf of known) {
        const raw = getPath(parsed, leaf.path);
        if (raw !== undefined) {
          setPath(config, leaf.path, coerce(leaf.path, leaf.sample, raw, "mdm.yaml"));
          sources[leaf.path.join(".")] = "file";
        }
      }
    }
  }
  for (const [name, path] of environmentKeys()) {
    const raw = env[name];
    if (raw === undefined) continue;
    const sample = getPath(defaultConfig(), path);
    setPath(config, path, coerce(path, sample, raw, name));
    sources[path.join(".")] = "env";
  }
  return { config: validate(config as unknown as MdmConfig), homeDir, sources };
}

function mergeUnknown(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (!(key in target)) target[key] = value;
    else if (value && typeof value === "object" && !Array.isArray(value) && target[key] && typeof target[key] === "object") {
      mergeUnknown(target[key] as Record<string, unknown>, value as Record<string, unknown>);
    }
  }
}

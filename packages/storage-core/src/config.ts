import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ErrorCodes, MdmError } from "./errors.js";
import { CONFIG_RULES, checkConfigEnvironment, checkConfigFile, environmentName } from "./config-schema.js";
import type { BackendType } from "./types.js";

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

/** The MDM home: `$MDM_HOME_DIR`, else `~/.mdm`. */
export function resolveHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MDM_HOME_DIR;
  return resolve(fromEnv && fromEnv.trim() !== "" ? fromEnv : join(homedir(), ".mdm"));
}

/** `MDM_<SECTION>_<KEY>` names of every known key, e.g. MDM_DATABASE_POSTGRESQL_HOST → database.postgresql.host. */
export function environmentKeys(): Map<string, string[]> {
  return new Map(Object.keys(CONFIG_RULES).map((key) => [environmentName(key), key.split(".")]));
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

export interface LoadedConfig {
  config: MdmConfig;
  homeDir: string;
  /** Where each key that is not a default came from. */
  sources: Record<string, "file" | "env">;
}

/**
 * Load `mdm.yaml` from the MDM home with Python MDM's precedence: defaults < YAML < environment
 * (`MDM_<SECTION>_<KEY>`). The file and the variables are checked against the schema
 * (`CONFIG_RULES`): a wrong type, a value a setting cannot take or an unknown key is MDM_INVALID_CONFIG
 * naming the file (or the variable) and the key. Python MDM's keys that we do not read
 * (`PYTHON_MDM_CONFIG_KEYS`) are accepted, kept in the result and ignored.
 */
export function loadConfig(options: { homeDir?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ? resolve(options.homeDir) : resolveHomeDir(env);
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const sources: Record<string, "file" | "env"> = {};
  const file = join(homeDir, "mdm.yaml");
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} is not valid YAML: ${(error as Error).message}`, { cause: error, details: { file } });
    }
    const checked = checkConfigFile(parsed, file);
    for (const [key, value] of checked.ignored) setPath(config, key.split("."), value);
    for (const [key, value] of checked.values) {
      setPath(config, key.split("."), value);
      sources[key] = "file";
    }
  }
  for (const [key, value] of checkConfigEnvironment(env)) {
    setPath(config, key.split("."), value);
    sources[key] = "env";
  }
  return { config: config as unknown as MdmConfig, homeDir, sources };
}

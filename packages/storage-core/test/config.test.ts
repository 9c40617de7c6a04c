import { mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { CONFIG_RULES, ErrorCodes, checkConfigSection, defaultConfig, environmentKeys, isMdmError, loadConfig, parseMemorySize, resolveHomeDir } from "../src/index.js";
import { tempDir } from "./helpers/temp-dir.js";
import { codeOf, errorOf } from "./helpers/error-code.js";

function homeWith(yaml?: string): string {
  const home = tempDir();
  if (yaml !== undefined) writeFileSync(join(home, "mdm.yaml"), yaml);
  return home;
}

describe("defaults", () => {
  test("equal Python MDM's mdm.yaml.default (mdm-original.md §8)", () => {
    const c = defaultConfig();
    expect(c.database.default_backend).toBe("sqlite");
    expect(c.database.connection_timeout).toBe(30);
    expect(c.database.sqlalchemy).toEqual({ echo: false, pool_size: 5, max_overflow: 10, pool_timeout: 30, pool_recycle: 3600 });
    expect(c.database.sqlite).toMatchObject({ journal_mode: "WAL", synchronous: "NORMAL", cache_size: -64000, temp_store: "MEMORY", mmap_size: 268435456 });
    expect(c.database.duckdb).toEqual({ memory_limit: "8GB", threads: 4, temp_directory: "/tmp", access_mode: "READ_WRITE" });
    expect(c.database.postgresql).toMatchObject({ host: "localhost", port: 5432, user: null, password: null, database_prefix: "mdm_", sslmode: "prefer", pool_size: 10 });
    expect(c.performance).toEqual({ batch_size: 10000, max_concurrent_operations: 5 });
    expect(c.paths).toEqual({ datasets_path: "datasets/", configs_path: "config/datasets/", logs_path: "logs/", custom_features_path: "config/custom_features/" });
  });

  test("loading a home without mdm.yaml gives the defaults and no sources", () => {
    const home = homeWith();
    const loaded = loadConfig({ homeDir: home, env: {} });
    expect(loaded.config).toEqual(defaultConfig());
    expect(loaded.sources).toEqual({});
    expect(loaded.homeDir).toBe(home);
  });

  test("each call returns a fresh object", () => {
    const a = defaultConfig();
    a.performance.batch_size = 1;
    expect(defaultConfig().performance.batch_size).toBe(10000);
  });
});

describe("mdm.yaml", () => {
  test("overrides the keys it sets, keeps the rest, records the source", () => {
    const home = homeWith(`
database:
  default_backend: duckdb
  duckdb:
    memory_limit: 2GB
    threads: 2
  postgresql:
    host: db.example.org
    port: "6543"
  sqlite:
    journal_mode: delete
performance:
  batch_size: 500
`);
    const { config, sources } = loadConfig({ homeDir: home, env: {} });
    expect(config.database.default_backend).toBe("duckdb");
    expect(config.database.duckdb).toEqual({ memory_limit: "2GB", threads: 2, temp_directory: "/tmp", access_mode: "READ_WRITE" });
    expect(config.database.postgresql.host).toBe("db.example.org");
    expect(config.database.postgresql.port).toBe(6543);
    expect(config.database.sqlite.journal_mode).toBe("DELETE"); // upper-cased as PRAGMA values are
    expect(config.database.sqlite.synchronous).toBe("NORMAL");
    expect(config.performance.batch_size).toBe(500);
    expect(sources).toEqual({
      "database.default_backend": "file",
      "database.duckdb.memory_limit": "file",
      "database.duckdb.threads": "file",
      "database.postgresql.host": "file",
      "database.postgresql.port": "file",
      "database.sqlite.journal_mode": "file",
      "performance.batch_size": "file",
    });
  });

  test("Python MDM's keys are accepted and kept, whole sections included (mdm-original.md §3.6, §8)", () => {
    const home = homeWith(`
database:
  sqlite:
    foreign_keys: true
    pragmas: [foreign_keys=ON]
  duckdb:
    settings:
      preserve_insertion_order: false
    max_memory: 4GB
  postgresql:
    pool_pre_ping: true
    connect_args: { sslmode: require }
performance:
  max_workers: 8
  cache: { enabled: true, size: 100 }
logging:
  level: INFO
  file: mdm.log
feature_engineering:
  enabled: true
  generic: { binning: { n_bins: [5, 10] } }
export: { default_format: csv }
validation: { before_features: { min_rows: 10 } }
cli: { page_size: 20 }
development: { debug_mode: false }
storage:
  datasets_path: datasets/
`);
    const { config, sources } = loadConfig({ homeDir: home, env: {} });
    expect((config.database.sqlite as unknown as Record<string, unknown>).foreign_keys).toBe(true);
    expect((config.database.duckdb as unknown as Record<string, unknown>).settings).toEqual({ preserve_insertion_order: false });
    expect((config as unknown as Record<string, unknown>).logging).toEqual({ level: "INFO", file: "mdm.log" });
    // Ignored: what storage reads is untouched.
    expect(config.database.duckdb.memory_limit).toBe("8GB");
    expect(sources).toEqual({});
  });

  test("an empty file is the defaults", () => {
    expect(loadConfig({ homeDir: homeWith(""), env: {} }).config).toEqual(defaultConfig());
  });

  test.each([
    ["invalid YAML", "database: [\n"],
    ["a list at the top", "- a\n"],
    ["a number that is not", "performance:\n  batch_size: many\n"],
    ["a batch size under 100", "performance:\n  batch_size: 99\n"],
    ["a fractional batch size", "performance:\n  batch_size: 150.5\n"],
    ["an unknown backend", "database:\n  default_backend: mysql\n"],
    ["an unknown journal mode", "database:\n  sqlite:\n    journal_mode: FAST\n"],
    ["an unknown sslmode", "database:\n  postgresql:\n    sslmode: maybe\n"],
    ["a boolean that is not", "database:\n  sqlalchemy:\n    echo: sometimes\n"],
    ["a mapping where a value goes", "database:\n  postgresql:\n    host:\n      a: 1\n"],
    ["port 0", "database:\n  postgresql:\n    port: 0\n"],
  ])("%s is MDM_INVALID_CONFIG", (_label, yaml) => {
    expect(codeOf(() => loadConfig({ homeDir: homeWith(yaml), env: {} }))).toBe(ErrorCodes.INVALID_CONFIG);
  });

  test("booleans accept YAML and text spellings", () => {
    expect(loadConfig({ homeDir: homeWith("database:\n  sqlalchemy:\n    echo: 'yes'\n"), env: {} }).config.database.sqlalchemy.echo).toBe(true);
    expect(loadConfig({ homeDir: homeWith("database:\n  postgresql:\n    schema_per_dataset: true\n"), env: {} }).config.database.postgresql.schema_per_dataset).toBe(true);
  });

  test("a null value is kept as null (PostgreSQL user)", () => {
    const { config } = loadConfig({ homeDir: homeWith("database:\n  postgresql:\n    user: ~\n"), env: {} });
    expect(config.database.postgresql.user).toBeNull();
  });
});

describe("MDM_<SECTION>_<KEY> environment overrides", () => {
  test("multi-word keys map to their path", () => {
    const keys = environmentKeys();
    expect(keys.get("MDM_DATABASE_DEFAULT_BACKEND")).toEqual(["database", "default_backend"]);
    expect(keys.get("MDM_DATABASE_POSTGRESQL_HOST")).toEqual(["database", "postgresql", "host"]);
    expect(keys.get("MDM_DATABASE_SQLITE_JOURNAL_MODE")).toEqual(["database", "sqlite", "journal_mode"]);
    expect(keys.get("MDM_PERFORMANCE_BATCH_SIZE")).toEqual(["performance", "batch_size"]);
    expect(keys.get("MDM_DATABASE_SQLALCHEMY_POOL_RECYCLE")).toEqual(["database", "sqlalchemy", "pool_recycle"]);
    expect(keys.get("MDM_PATHS_DATASETS_PATH")).toEqual(["paths", "datasets_path"]);
  });

  test("override the defaults, typed", () => {
    const { config, sources } = loadConfig({
      homeDir: homeWith(),
      env: {
        MDM_DATABASE_DEFAULT_BACKEND: "postgresql",
        MDM_DATABASE_POSTGRESQL_HOST: "10.0.0.5",
        MDM_DATABASE_POSTGRESQL_PORT: "15432",
        MDM_DATABASE_SQLITE_JOURNAL_MODE: "truncate",
        MDM_PERFORMANCE_BATCH_SIZE: "2500",
        MDM_DATABASE_SQLALCHEMY_ECHO: "true",
        MDM_DATABASE_POSTGRESQL_SCHEMA_PER_DATASET: "on",
      },
    });
    expect(config.database.default_backend).toBe("postgresql");
    expect(config.database.postgresql.host).toBe("10.0.0.5");
    expect(config.database.postgresql.port).toBe(15432);
    expect(config.database.sqlite.journal_mode).toBe("TRUNCATE");
    expect(config.performance.batch_size).toBe(2500);
    expect(config.database.sqlalchemy.echo).toBe(true);
    expect(config.database.postgresql.schema_per_dataset).toBe(true);
    expect(sources["database.postgresql.host"]).toBe("env");
    expect(sources["performance.batch_size"]).toBe("env");
  });

  test("precedence: defaults < YAML < env", () => {
    const home = homeWith("performance:\n  batch_size: 500\n  max_concurrent_operations: 3\n");
    const { config, sources } = loadConfig({ homeDir: home, env: { MDM_PERFORMANCE_BATCH_SIZE: "700" } });
    expect(config.performance.batch_size).toBe(700);
    expect(sources["performance.batch_size"]).toBe("env");
    expect(config.performance.max_concurrent_operations).toBe(3);
    expect(sources["performance.max_concurrent_operations"]).toBe("file");
    expect(config.database.duckdb.threads).toBe(4);
    expect(sources["database.duckdb.threads"]).toBeUndefined();
  });

  test.each([
    ["MDM_PERFORMANCE_BATCH_SIZE", "lots"],
    ["MDM_PERFORMANCE_BATCH_SIZE", ""],
    ["MDM_PERFORMANCE_BATCH_SIZE", "10"],
    ["MDM_DATABASE_DEFAULT_BACKEND", "oracle"],
    ["MDM_DATABASE_POSTGRESQL_PORT", "http"],
    ["MDM_DATABASE_SQLALCHEMY_ECHO", "2"],
    ["MDM_DATABASE_DUCKDB_ACCESS_MODE", "WRITE_ONLY"],
  ])("%s=%j is MDM_INVALID_CONFIG naming the key", (name, value) => {
    try {
      loadConfig({ homeDir: homeWith(), env: { [name]: value } });
      expect.unreachable();
    } catch (error) {
      expect(isMdmError(error, ErrorCodes.INVALID_CONFIG)).toBe(true);
      // The message names the key: the variable for a type error, the dotted key for a range error.
      const message = (error as Error).message;
      expect(message.includes(name) || environmentKeys().get(name)?.join(".") === message.split(" ")[0]).toBe(true);
    }
  });
});

describe("MDM home", () => {
  test("MDM_HOME_DIR moves the home; otherwise ~/.mdm", () => {
    const home = tempDir();
    expect(resolveHomeDir({ MDM_HOME_DIR: home })).toBe(home);
    expect(resolveHomeDir({})).toBe(join(homedir(), ".mdm"));
    expect(resolveHomeDir({ MDM_HOME_DIR: "  " })).toBe(join(homedir(), ".mdm"));
  });

  test("loadConfig reads mdm.yaml from MDM_HOME_DIR", () => {
    const home = tempDir();
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "mdm.yaml"), "database:\n  default_backend: duckdb\n");
    const loaded = loadConfig({ env: { MDM_HOME_DIR: home } });
    expect(loaded.homeDir).toBe(home);
    expect(loaded.config.database.default_backend).toBe("duckdb");
  });
});

describe("the schema of mdm.yaml", () => {
  function leaves(obj: object, prefix = ""): string[] {
    return Object.entries(obj).flatMap(([k, v]) => (v !== null && typeof v === "object" ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
  }

  test("has a rule for every key of the defaults, and the defaults follow their rules", () => {
    expect(Object.keys(CONFIG_RULES).sort()).toEqual(leaves(defaultConfig()).sort());
    for (const section of ["database.sqlite", "database.duckdb", "database.postgresql", "performance", "paths"]) {
      const values = section.split(".").reduce<Record<string, unknown>>((node, k) => node[k] as Record<string, unknown>, defaultConfig() as unknown as Record<string, unknown>);
      expect(() => checkConfigSection(section, values)).not.toThrow();
    }
  });

  test("a section that is not a mapping (database: [1, 2]) names the file and the key", () => {
    const home = homeWith("database: [1, 2]\n");
    const error = errorOf(() => loadConfig({ homeDir: home, env: {} }));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.message).toBe(`${join(home, "mdm.yaml")}: database must be a mapping of settings, got a list ([1,2])`);
    expect(error.details).toEqual({ file: join(home, "mdm.yaml"), key: "database" });
    // An empty section is fine (every key commented out).
    expect(loadConfig({ homeDir: homeWith("database:\n  duckdb:\n"), env: {} }).config).toEqual(defaultConfig());
  });

  test("a DuckDB memory_limit that is not a size is refused before any backend opens", () => {
    const home = homeWith("database:\n  duckdb:\n    memory_limit: \"1GB'; DROP TABLE data; --\"\n");
    const error = errorOf(() => loadConfig({ homeDir: home, env: {} }));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.details).toEqual({ file: join(home, "mdm.yaml"), key: "database.duckdb.memory_limit" });
    expect(error.message).toMatch(/database\.duckdb\.memory_limit must be a size such as 8GB, 512MiB or 75%.*got "1GB'; DROP TABLE data; --"$/);
  });

  test.each([
    ["8GB", 8e9, false],
    ["512MiB", 512 * 2 ** 20, false],
    ["1.5 gb", 1.5e9, false],
    ["75%", 0.75 * 16 * 2 ** 30, true],
  ])("memory size %j is %d bytes", (text, bytes, percent) => {
    expect(parseMemorySize(text, 16 * 2 ** 30)).toEqual({ bytes, percent });
  });

  test.each(["100", "0GB", "-1GB", "8 XB", "120%", "0%", "GB", "8GB; SET x=1", ""])("memory size %j is refused", (text) => {
    expect(parseMemorySize(text)).toBeUndefined();
  });

  test.each([
    ["database:\n  duckdb:\n    memorylimit: 2GB\n", "database.duckdb.memorylimit", "database.duckdb.memory_limit"],
    ["database:\n  sqlite:\n    memory_limit: 2GB\n", "database.sqlite.memory_limit", "database.duckdb.memory_limit"],
    ["databse:\n  default_backend: duckdb\n", "databse", "database"],
    ["database:\n  postgresql:\n    Host: db\n", "database.postgresql.Host", "database.postgresql.host"],
    ["performance:\n  batchsize: 500\n", "performance.batchsize", "performance.batch_size"],
  ])("an unknown key is refused with the nearest known key (%#)", (yaml, key, suggestion) => {
    const error = errorOf(() => loadConfig({ homeDir: homeWith(yaml), env: {} }));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.details.key).toBe(key);
    expect(error.message).toContain(`${key} is not a key of mdm.yaml; did you mean ${suggestion}?`);
  });

  test("an unknown key nothing is near lists the keys of its section", () => {
    const error = errorOf(() => loadConfig({ homeDir: homeWith("features:\n  enabled: true\n"), env: {} }));
    expect(error.message).toMatch(/features is not a key of mdm\.yaml \(keys at the top: database, performance, paths, logging, feature_engineering/);
  });

  test.each([
    ["a null where a number goes", "database:\n  duckdb:\n    threads:\n", "database.duckdb.threads", /must be an integer >= 1, got null/],
    ["a number where text goes", "database:\n  postgresql:\n    password: 0123\n", "database.postgresql.password", /got the number 123; quote the value/],
    ["an application_name with a newline", "database:\n  postgresql:\n    application_name: \"mdm\\nx\"\n", "database.postgresql.application_name", /printable ASCII/],
    ["a database_prefix with a quote", "database:\n  postgresql:\n    database_prefix: \"mdm'\"\n", "database.postgresql.database_prefix", /lower-case letters/],
    ["a database_prefix too long for staging names", `database:\n  postgresql:\n    database_prefix: ${"a".repeat(27)}\n`, "database.postgresql.database_prefix", /at most 26/],
    ["a port out of range", "database:\n  postgresql:\n    port: 70000\n", "database.postgresql.port", /from 1 to 65535/],
    ["a fractional integer", "database:\n  sqlite:\n    busy_timeout: 1.5\n", "database.sqlite.busy_timeout", /an integer from 0 to 2147483647/],
    ["a hexadecimal text", "database:\n  duckdb:\n    threads: '0x10'\n", "database.duckdb.threads", /an integer/],
    ["a statement_timeout past int32", "database:\n  postgresql:\n    statement_timeout: 2147483648\n", "database.postgresql.statement_timeout", /to 2147483647/],
    ["a host with a space", "database:\n  postgresql:\n    host: 'db host'\n", "database.postgresql.host", /a host name/],
    ["${VAR} interpolation", "database:\n  postgresql:\n    host: ${PGHOST:-localhost}\n", "database.postgresql.host", /interpolation is not supported.*set MDM_DATABASE_POSTGRESQL_HOST instead/],
    ["an empty path", "paths:\n  datasets_path: ''\n", "paths.datasets_path", /a path/],
  ])("%s is refused naming the key", (_label, yaml, key, message) => {
    const error = errorOf(() => loadConfig({ homeDir: homeWith(yaml), env: {} }));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.details.key).toBe(key);
    expect(error.message).toMatch(message);
  });

  test("environment variables get the same checks, naming the variable", () => {
    const home = homeWith();
    const injected = errorOf(() => loadConfig({ homeDir: home, env: { MDM_DATABASE_DUCKDB_MEMORY_LIMIT: "1GB'; DROP TABLE data; --" } }));
    expect(injected.details).toEqual({ variable: "MDM_DATABASE_DUCKDB_MEMORY_LIMIT", key: "database.duckdb.memory_limit" });
    expect(injected.message).toMatch(/^MDM_DATABASE_DUCKDB_MEMORY_LIMIT \(database\.duckdb\.memory_limit\) must be a size/);
    const misspelt = errorOf(() => loadConfig({ homeDir: home, env: { MDM_DATABASE_DUCKDB_MEMORYLIMIT: "2GB" } }));
    expect(misspelt.message).toBe("MDM_DATABASE_DUCKDB_MEMORYLIMIT is not a configuration variable; did you mean MDM_DATABASE_DUCKDB_MEMORY_LIMIT?");
    expect(misspelt.details).toEqual({ variable: "MDM_DATABASE_DUCKDB_MEMORYLIMIT" });
    // Python MDM's keys, and variables outside our sections (other tools', Python MDM's logging), are left alone.
    const env = { MDM_DATABASE_SQLITE_FOREIGN_KEYS: "true", MDM_DATABASE_DUCKDB_SETTINGS_PRESERVE_INSERTION_ORDER: "false", MDM_LOGGING_LEVEL: "DEBUG", MDM_TEST_POSTGRES_URL: "postgresql://x", MDM_BATCH_SIZE: "5" };
    expect(loadConfig({ homeDir: home, env }).config).toEqual(defaultConfig());
  });

  test("a section handed to a backend in code is checked by the same rules", () => {
    expect(() => checkConfigSection("database.postgresql", { application_name: "ok name", port: 5433 })).not.toThrow();
    const error = errorOf(() => checkConfigSection("database.postgresql", { application_name: "x\u0000y" }));
    expect(error.message).toMatch(/^database\.postgresql\.application_name must be printable ASCII/);
    expect(error.details).toEqual({ key: "database.postgresql.application_name" });
  });
});

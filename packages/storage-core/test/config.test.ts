import { mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ErrorCodes, defaultConfig, environmentKeys, isMdmError, loadConfig, resolveHomeDir } from "../src/index.js";
import { tempDir } from "./helpers/temp-dir.js";
import { codeOf } from "./helpers/error-code.js";

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

  test("unknown keys are kept (documented-but-ignored keys of the original)", () => {
    const home = homeWith("database:\n  sqlite:\n    foreign_keys: true\nfeatures:\n  enabled: true\n");
    const { config } = loadConfig({ homeDir: home, env: {} });
    expect((config.database.sqlite as unknown as Record<string, unknown>).foreign_keys).toBe(true);
    expect((config as unknown as Record<string, unknown>).features).toEqual({ enabled: true });
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

import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type IStorageBackend } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { CliContext } from "../src/context.js";
import { EXAMPLE_DATASET, cleanEnv, datasetChecksums, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

const pg = postgresEnv();
const pgSkip = await postgresAvailable();

describe("mdm migrate", () => {
  let home: string;
  let expected: Awaited<ReturnType<typeof datasetChecksums>>;
  const env = () => cleanEnv(home, pg.env);

  async function checksumsIn(type: string, name: string): Promise<typeof expected> {
    let backend: IStorageBackend;
    if (type === "sqlite") backend = new SqliteStorageBackend({ homeDir: home });
    else if (type === "duckdb") backend = new DuckdbStorageBackend({ homeDir: home });
    else {
      const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
      backend = new PostgresqlStorageBackend({ config: pg.config });
    }
    try {
      await backend.init();
      return await datasetChecksums(backend, name);
    } finally {
      await backend.close();
    }
  }

  function registry(name: string): { database: Record<string, unknown>; target_column: string; id_columns: string[] } {
    return new DatasetRegistry(new MdmHome(home)).read(name) as ReturnType<typeof registry>;
  }

  beforeAll(async () => {
    home = tempDir("migrate-home");
    const r = await mdm(["dataset", "register", "churn", EXAMPLE_DATASET, "--target", "churned", "--id-columns", "id"], env());
    expect(r.code).toBe(0);
    expected = await checksumsIn("sqlite", "churn");
    expect(expected.train?.count).toBe(400);
  });

  afterAll(async () => {
    if (!pgSkip) await dropPostgresDatabases(pg.config);
    removeDir(home);
  });

  it("sqlite -> duckdb: progress lines without a TTY, a summary, the registry entry points at DuckDB", async () => {
    const r = await mdm(["migrate", "churn", "--to", "duckdb", "--verify", "checksum"], env());
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/churn\/train: started \(400 rows\)/);
    expect(r.stderr).toMatch(/churn\/train: done, 400 rows/);
    expect(r.stderr).toMatch(/churn: verifying \(checksum\)/);
    // No flag set: the new implementations copy (same storage as legacy); legacy serves it afterwards.
    // Tables and rows: train and test (500 rows), and registration's _columns (21 rows) and _statistics (2).
    expect(r.stdout).toMatch(/churn\s+│ sqlite:new\s+│ duckdb:new\s+│ 2\s+│ 500\s+│/);
    expect(r.stdout).toMatch(/checksum: passed/);
    expect(registry("churn").database).toEqual({ backend: "duckdb", path: join(home, "datasets", "churn", "churn.duckdb") });
    expect(registry("churn").target_column).toBe("churned");
    expect(await checksumsIn("duckdb", "churn")).toEqual(expected);
    // Without --remove-source the source copy stays (not registered).
    expect(existsSync(join(home, "datasets", "churn", "churn.sqlite"))).toBe(true);
    const info = JSON.parse((await mdm(["dataset", "info", "churn", "--json"], env())).stdout);
    expect(info.backend).toBe("duckdb");
    expect(info.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])).toEqual([
      ["train", 400],
      ["test", 100],
    ]);
  });

  it("duckdb -> sqlite over the stale source copy needs --overwrite (exit 4 otherwise); --json prints the result objects", async () => {
    const refused = await mdm(["migrate", "churn", "--to", "sqlite"], env());
    expect(refused.code).toBe(4);
    expect(registry("churn").database.backend).toBe("duckdb");
    const r = await mdm(["migrate", "churn", "--to", "sqlite:new", "--overwrite", "--remove-source", "--json", "--batch-size", "37"], env());
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      dataset: "churn",
      success: true,
      source: { type: "duckdb" },
      target: { type: "sqlite", implementation: "new" },
      tablesMigrated: ["train", "test", "_columns", "_statistics"],
      rowsMigrated: 523,
      error: null,
      verification: { mode: "checksum", passed: true },
    });
    expect(r.stderr).toBe("");
    expect(registry("churn").database.backend).toBe("sqlite");
    expect(existsSync(join(home, "datasets", "churn", "churn.duckdb"))).toBe(false);
    expect(await checksumsIn("sqlite", "churn")).toEqual(expected);
  });

  describe.skipIf(pgSkip)("with PostgreSQL", () => {
    it.each([
      ["sqlite", "postgresql"],
      ["postgresql", "duckdb"],
      ["duckdb", "postgresql:new"],
      ["postgresql", "sqlite"],
    ])("%s -> %s keeps every value and moves the registry entry", async (from, to) => {
      expect(registry("churn").database.backend).toBe(from);
      const r = await mdm(["migrate", "churn", "--to", to, "--overwrite", "--remove-source", "--json"], env());
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const [result] = JSON.parse(r.stdout);
      expect(result.success).toBe(true);
      const type = to.split(":")[0] as string;
      expect(result.target.type).toBe(type);
      const entry = registry("churn");
      expect(entry.database.backend).toBe(type);
      if (type === "postgresql") {
        expect(entry.database).toMatchObject({ database: `${pg.prefix}churn`, host: pg.config.host, port: pg.config.port });
        expect(JSON.stringify(entry)).not.toMatch(/password/);
        const info = JSON.parse((await mdm(["dataset", "info", "churn", "--json"], env())).stdout);
        expect(info.location).toBe(`postgresql://${pg.config.user ? `${pg.config.user}@` : ""}${pg.config.host}:${pg.config.port}/${pg.prefix}churn`);
      }
      expect(await checksumsIn(type, "churn")).toEqual(expected);
    });

    it("registers straight into PostgreSQL and removes it again", async () => {
      const r = await mdm(["dataset", "register", "pgdirect", EXAMPLE_DATASET, "--backend", "postgresql", "--json"], env());
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).location).toMatch(new RegExp(`/${pg.prefix}pgdirect$`));
      const removed = await mdm(["dataset", "remove", "pgdirect", "--force"], env());
      expect(removed.code).toBe(0);
      const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
      const backend = new PostgresqlStorageBackend({ config: pg.config });
      try {
        expect(await backend.datasetExists("pgdirect")).toBe(false);
      } finally {
        await backend.close();
      }
    });
  });

  it("--all moves every registered dataset not already in the target; a dataset already there is a usage error by name", async () => {
    expect((await mdm(["dataset", "register", "second", join(EXAMPLE_DATASET, "test.csv"), "--backend", "duckdb"], env())).code).toBe(0);
    const same = await mdm(["migrate", "second", "--to", "duckdb"], env());
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/already in duckdb/);
    const before = registry("churn").database.backend;
    const r = await mdm(["migrate", "--all", "--to", "duckdb", "--overwrite", "--remove-source", "--json"], env());
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{ dataset: string; success: boolean }>;
    expect(results.map((x) => x.dataset)).toEqual(before === "duckdb" ? [] : ["churn"]);
    expect(registry("churn").database.backend).toBe("duckdb");
    expect(registry("second").database.backend).toBe("duckdb");
    expect(await checksumsIn("duckdb", "churn")).toEqual(expected);
  });
});

describe("mdm migrate: which implementation copies", () => {
  let home: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, extra);

  /** A hash of every file of the home's config (registry entries) and of its flags file, by path. */
  function configState(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else out[path.slice(home.length)] = createHash("sha256").update(readFileSync(path)).digest("hex");
      }
    };
    walk(join(home, "config"));
    for (const file of ["feature_flags.yaml", "mdm.yaml"]) if (existsSync(join(home, file))) out[file] = createHash("sha256").update(readFileSync(join(home, file))).digest("hex");
    return out;
  }

  beforeAll(async () => {
    home = tempDir("migrate-impl");
    for (const name of ["alpha", "gamma"]) {
      expect((await mdm(["dataset", "register", name, join(EXAMPLE_DATASET, "test.csv"), "--id-columns", "id"], env())).code).toBe(0);
    }
  });

  afterAll(() => removeDir(home));

  it("with no flag set, the new implementations copy, the summary says so, and legacy serves the dataset afterwards", async () => {
    const before = configState();
    expect(before["feature_flags.yaml"]).toBeUndefined();
    const r = await mdm(["migrate", "alpha", "--to", "duckdb"], env());
    expect(r.code).toBe(0);
    // One data table of 100 rows; MDM's _columns (10) and _statistics (1) said apart.
    expect(r.stdout).toMatch(/alpha\s+│ sqlite:new\s+│ duckdb:new\s+│ 1\s+│ 100\s+│/);
    expect(r.stdout).toContain("MDM's _metadata, _columns and _statistics came along: 11 rows");
    expect(r.stdout).toMatch(/the flags' choice serves alpha by duckdb:legacy from now on \(--copy-with flags copies with it\)/);
    expect(r.stderr).toMatch(/alpha: sqlite \(new\) -> duckdb \(new\); served by duckdb:legacy \(the flags' choice\) afterwards/);
    // The flags and the rest of the registry are untouched: only alpha's entry changed, and only its database section.
    const after = configState();
    expect(after["feature_flags.yaml"]).toBeUndefined();
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const key of Object.keys(before)) if (!key.endsWith("alpha.yaml")) expect(after[key]).toBe(before[key]);
    const entry = new DatasetRegistry(new MdmHome(home)).read("alpha") as unknown as Record<string, unknown>;
    expect(entry.database).toEqual({ backend: "duckdb", path: join(home, "datasets", "alpha", "alpha.duckdb") });
    expect(JSON.stringify(entry)).not.toMatch(/legacy|"new"|implementation/);
    const flags = JSON.parse((await mdm(["flags", "list", "--json"], env())).stdout) as Record<string, { source: string }>;
    expect(Object.values(flags).every((f) => f.source === "default")).toBe(true);
    // Served by legacy (the flags' choice) from the file the new implementation wrote.
    const info = JSON.parse((await mdm(["dataset", "info", "alpha", "--json"], env())).stdout);
    expect([info.backend, info.implementation]).toEqual(["duckdb", "legacy"]);
    expect(info.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])).toEqual([["data", 100]]);
  });

  it("--copy-with flags copies with the flags' choice; --json names the implementations that copied; --to TYPE:IMPL and the flags win over fastest; no flag is written", async () => {
    /** The one result of `mdm migrate gamma ... --json`: which implementations copied, which one serves gamma. */
    const copied = async (args: string[]) => {
      const run = await mdm(["migrate", "gamma", ...args, "--json"], env());
      expect(run.code).toBe(0);
      const [result] = JSON.parse(run.stdout);
      expect(result).toMatchObject({ success: true, verification: { mode: "checksum", passed: true }, servedBy: { type: "duckdb", implementation: "legacy" } });
      return [`${result.source.type}:${result.source.implementation}`, `${result.target.type}:${result.target.implementation}`, result.copyWith];
    };
    expect(await copied(["--to", "duckdb", "--copy-with", "flags"])).toEqual(["sqlite:legacy", "duckdb:legacy", "flags"]);
    expect(existsSync(join(home, "feature_flags.yaml"))).toBe(false);
    // The human summary under --copy-with flags names legacy, with no note about who serves it.
    const back = await mdm(["migrate", "gamma", "--to", "sqlite", "--overwrite", "--copy-with", "flags"], env());
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/gamma\s+│ duckdb:legacy │ sqlite:legacy │ 1\s+│ 100\s+│/);
    expect(back.stdout).not.toMatch(/serves/);
    // An implementation named on the command line is used as named.
    expect(await copied(["--to", "duckdb:legacy", "--overwrite"])).toEqual(["sqlite:new", "duckdb:legacy", "fastest"]);
    // When the flags choose new, new copies and serves, and the summary has no note.
    const flagged = await mdm(["migrate", "gamma", "--to", "sqlite", "--overwrite"], env({ MDM_FEATURE_USE_NEW_STORAGE: "true" }));
    expect(flagged.code).toBe(0);
    expect(flagged.stdout).toMatch(/gamma\s+│ duckdb:new\s+│ sqlite:new\s+│/);
    expect(flagged.stdout).not.toMatch(/serves/);
    expect(existsSync(join(home, "feature_flags.yaml"))).toBe(false);
    const bad = await mdm(["migrate", "gamma", "--to", "duckdb", "--copy-with", "slowest"], env());
    expect(bad.code).toBe(2);
    // A new backend its server refuses fails the run as the flags' choice would (exit 6), without trying legacy after it.
    const refused = await mdm(["migrate", "gamma", "--to", "postgresql"], env({ MDM_DATABASE_POSTGRESQL_HOST: "127.0.0.1", MDM_DATABASE_POSTGRESQL_PORT: "1" }));
    expect(refused.code).toBe(6);
    expect(refused.stderr).not.toMatch(/did not start/);
  });

  it("the new implementation copies only where it shares legacy's layout; when the flags choose new, the flags (and their fallback) decide", async () => {
    const context = (extra: Record<string, string> = {}) => new CliContext(env(extra));
    expect(await context().fastestImplementation("sqlite", "alpha")).toEqual({ implementation: "new" });
    expect(await context().fastestImplementation("postgresql", "alpha")).toEqual({ implementation: "new" });
    const schemas = context({ MDM_DATABASE_POSTGRESQL_SCHEMA_PER_DATASET: "true", MDM_DATABASE_POSTGRESQL_DATABASE: "shared" });
    expect(await schemas.fastestImplementation("postgresql", "alpha")).toEqual({ reason: expect.stringMatching(/schema_per_dataset/) });
    expect(await schemas.fastestImplementation("duckdb", "alpha")).toEqual({ implementation: "new" });
    expect(await context({ MDM_FEATURE_USE_NEW_STORAGE: "true" }).fastestImplementation("duckdb", "alpha")).toEqual({});
  });
});

import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type IStorageBackend } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
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
    expect(r.stdout).toMatch(/churn\s+│ sqlite:legacy │ duckdb:legacy │ 2\s+│ 500/);
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
      tablesMigrated: ["train", "test"],
      rowsMigrated: 500,
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

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";
import { SmallFileSystem } from "./small-fs.js";

/**
 * A PostgreSQL server that runs out of space (issue 20): a tablespace on a 256 KB tmpfs, the default tablespace of
 * a role made for this file, so only the tables this test's `mdm` creates land there. A migration and a
 * registration into PostgreSQL must fail with MDM_DISK_FULL (exit 9) naming the server, leave no staging
 * database, keep the source and the registry; once the file system is grown the same command succeeds.
 */

const pg = postgresEnv();
const pgSkip = await postgresAvailable();
const role = `${pg.prefix}role`;
const tablespace = `${pg.prefix}ts`;

type Admin = { query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };

/** Run statements as the test server's (superuser) user, in a database (default postgres). */
async function asAdmin<T>(fn: (admin: Admin) => Promise<T>, database = "postgres"): Promise<T> {
  const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
  const backend = new PostgresqlStorageBackend({ config: pg.config });
  try {
    await backend.init();
    return await fn((await backend.getConnection(await backend.getEngine(database))) as Admin);
  } finally {
    await backend.close();
  }
}

/** Why the tablespace cannot be made here: the server must run on this machine, as the OS user postgres. */
async function localServerReason(): Promise<string | undefined> {
  if (pgSkip) return pgSkip;
  const dataDirectory = await asAdmin(async (a) => String((await a.query("SHOW data_directory")).rows[0]?.data_directory));
  if (!existsSync(dataDirectory)) {
    const reason = `the PostgreSQL server's data directory ${dataDirectory} is not on this machine: a tablespace on a local tmpfs cannot be made`;
    if (process.env.CI === "true") throw new Error(`CI=true and the PostgreSQL disk-full test cannot run: ${reason}`);
    console.warn(`[@mdm/cli] skipping the PostgreSQL disk-full test: ${reason}`);
    return reason;
  }
  return undefined;
}

const serverSkip = await localServerReason();
const small = serverSkip ? serverSkip : SmallFileSystem.mount(256 * 1024, { owner: "postgres" });
const skip = typeof small === "string" ? small : undefined;

describe.skipIf(skip)("PostgreSQL out of space in a tablespace: exit 9, no staging database, the rerun succeeds", () => {
  const fs = small as SmallFileSystem;
  let home: string;
  let data: string;
  const env = () => cleanEnv(home, { ...pg.env, MDM_DATABASE_POSTGRESQL_USER: role });

  /** Databases (datasets and staging) of this file's prefix. */
  const databases = () => asAdmin(async (a) => (await a.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [pg.prefix])).rows.map((r) => String(r.datname)));

  beforeAll(async () => {
    home = tempDir("pg-full-home");
    data = tempDir("pg-full-data");
    const lines = ["id,amount,label,text"];
    for (let i = 0; i < 4000; i++) lines.push(`${i},${(i * 7919) % 100003}.${i % 97},${i % 2},row_${(i * 31) % 99991}_abcdefghijklmnop`);
    writeFileSync(join(data, "big.csv"), `${lines.join("\n")}\n`);
    const location = fs.path("ts");
    await asAdmin(async (a) => {
      await a.query(`CREATE ROLE "${role}" LOGIN CREATEDB`);
      await a.query(`CREATE TABLESPACE "${tablespace}" OWNER "${role}" LOCATION '${location}'`);
      await a.query(`ALTER ROLE "${role}" SET default_tablespace = '${tablespace}'`);
    });
    const r = await mdm(["dataset", "register", "big", join(data, "big.csv"), "--backend", "sqlite"], env());
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    try {
      await dropPostgresDatabases(pg.config);
      await asAdmin(async (a) => {
        await a.query(`DROP TABLESPACE IF EXISTS "${tablespace}"`);
        await a.query(`DROP ROLE IF EXISTS "${role}"`);
      });
    } finally {
      fs.unmount();
      removeDir(home);
      removeDir(data);
    }
  });

  it("migrate SQLite -> PostgreSQL (legacy and new) and register into PostgreSQL", async () => {
    const registry = join(home, "config", "datasets", "big.yaml");
    const before = readFileSync(registry, "utf8");
    const source = readFileSync(join(home, "datasets", "big", "big.sqlite"));
    const runs: Array<[string, string[]]> = [
      ["migrate (legacy)", ["migrate", "big", "--to", "postgresql"]],
      ["migrate (new, COPY)", ["migrate", "big", "--to", "postgresql:new"]],
      ["register", ["dataset", "register", "fresh", join(data, "big.csv"), "--backend", "postgresql"]],
    ];
    for (const [what, args] of runs) {
      const r = await mdm(args, env());
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(9);
      expect(`${r.stdout}${r.stderr}`, what).toMatch(/MDM_DISK_FULL/);
      expect(r.stderr, what).toMatch(new RegExp(`PostgreSQL server out of disk space \\(user "${role}", ${pg.config.host}:${pg.config.port}.*\\): could not extend file`));
      expect(await databases(), `${what}: databases left`).toEqual([]);
      expect(readFileSync(registry, "utf8"), what).toBe(before);
      expect(readFileSync(join(home, "datasets", "big", "big.sqlite")).equals(source), `${what}: source changed`).toBe(true);
      expect(existsSync(join(home, "config", "datasets", "fresh.yaml")), what).toBe(false);
    }

    // Space freed: the same command succeeds.
    fs.resize(8 * 1024 * 1024);
    const r = await mdm(["migrate", "big", "--to", "postgresql"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(await databases()).toEqual([`${pg.prefix}big`]);
    expect(readFileSync(registry, "utf8")).toMatch(/backend: postgresql/);
    // The tables really live in the small tablespace: it was this file system that was full.
    const tables = await asAdmin(async (a) => (await a.query("SELECT tablename FROM pg_tables WHERE tablespace = $1 ORDER BY 1", [tablespace])).rows.map((t) => t.tablename), `${pg.prefix}big`);
    expect(tables).toContain("data");
  });
});

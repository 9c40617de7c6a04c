import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DoctorReport } from "../src/commands/doctor.js";
import { EXAMPLE_DATASET, cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

const pg = postgresEnv();
const pgSkip = await postgresAvailable();

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid as number;
}

function touch(path: string, text = "x"): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

async function doctor(env: NodeJS.ProcessEnv, ...args: string[]): Promise<DoctorReport> {
  const r = await mdm(["doctor", "--json", ...args], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DoctorReport;
}

describe("mdm doctor, and the commands that clean a dataset's leftovers themselves", () => {
  let home: string;
  let files: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, extra);

  beforeAll(async () => {
    home = tempDir("doctor-home");
    files = tempDir("doctor-files");
    expect((await mdm(["dataset", "register", "churn", EXAMPLE_DATASET, "--target", "churned"], env())).code).toBe(0);
  });

  afterAll(async () => {
    if (!pgSkip) await dropPostgresDatabases(pg.config);
    removeDir(home);
    removeDir(files);
  });

  it("lists every kind of leftover, --clean removes them but never a live lock, a journal or a published dataset", async () => {
    const data = join(home, "datasets");
    const locks = join(home, "locks");
    const dead = deadPid();
    const made = {
      staging: join(data, "churn", ".churn.duckdb.staging-a1b2c3"),
      stagingWal: join(data, "churn", ".churn.duckdb.staging-a1b2c3.wal"),
      orphanShm: join(data, "churn", ".churn.sqlite.staging-d4e5f6-shm"),
      init: join(data, "churn", ".churn.duckdb.init-0a0b0c"),
      registryTemp: join(home, "config", "datasets", `churn.yaml.tmp-${dead}-0a0b0c0d`),
      emptyLock: join(locks, "churn--to-duckdb.lock"), // what the older migrator left on a full disk
      staleLock: join(locks, "gone.lock"),
      journal: join(locks, "churn.publish.json"),
      busyStaging: join(data, "busy", ".busy.sqlite.staging-r1"),
      liveLock: join(locks, "busy.lock"),
    };
    touch(made.staging);
    touch(made.stagingWal);
    touch(made.orphanShm);
    touch(made.init);
    touch(made.registryTemp, "name: churn\n");
    touch(made.emptyLock, "");
    touch(made.staleLock, JSON.stringify({ pid: dead, host: hostname(), startedAt: "2026-01-01T00:00:00Z" }));
    touch(made.journal, "{}");
    touch(made.busyStaging);
    // A lock of a live process of this host (the test runner), as DatasetLock writes it.
    touch(made.liveLock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose: "migrate busy --to duckdb" }));

    const listed = await doctor(env());
    const status = (report: DoctorReport) => Object.fromEntries(report.leftovers.map((l) => [l.path, l.status]));
    expect(status(listed)).toEqual({
      [made.staging]: "found",
      [made.stagingWal]: "found",
      [made.orphanShm]: "found",
      [made.init]: "found",
      [made.registryTemp]: "found",
      [made.emptyLock]: "found",
      [made.staleLock]: "found",
      [made.journal]: "kept",
      [made.busyStaging]: "kept",
    });
    expect(listed.leftovers.find((l) => l.path === made.busyStaging)?.reason).toMatch(new RegExp(`process ${process.pid} .*holds .*busy\\.lock \\(migrate busy --to duckdb\\)`));
    expect(listed.leftovers.find((l) => l.path === made.emptyLock)?.lock?.state).toBe("unreadable");
    expect(listed.leftovers.find((l) => l.path === made.staleLock)?.lock?.state).toBe("stale");
    expect(listed.postgresql.checked).toBe(false);
    for (const path of Object.values(made)) expect(existsSync(path), path).toBe(true); // listing removes nothing

    const text = await mdm(["doctor"], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/9 leftover\(s\); "mdm doctor --clean" removes 7\./);
    expect(text.stderr).toMatch(/PostgreSQL not checked: no dataset of this home uses it/);

    const cleaned = await doctor(env(), "--clean");
    expect(Object.values(status(cleaned)).sort()).toEqual(["kept", "kept", "removed", "removed", "removed", "removed", "removed", "removed", "removed"]);
    for (const key of ["journal", "busyStaging", "liveLock"] as const) expect(existsSync(made[key]), key).toBe(true);
    for (const key of ["staging", "stagingWal", "orphanShm", "init", "registryTemp", "emptyLock", "staleLock"] as const) expect(existsSync(made[key]), key).toBe(false);
    expect(readdirSync(join(data, "churn"))).toEqual(["churn.sqlite"]);
    const info = await mdm(["dataset", "info", "churn", "--json"], env());
    expect(JSON.parse(info.stdout).tables.map((t: { rows: number }) => t.rows)).toEqual([400, 100]);
    expect((await doctor(env())).leftovers.map((l) => l.status)).toEqual(["kept", "kept"]);
  });

  it("a registration killed mid-copy leaves its staging; the next registration of that name removes it itself", async () => {
    const csv = join(files, "killed.csv");
    const rows = ["id,text,value"];
    for (let i = 0; i < 100_000; i++) rows.push(`${i},row number ${i},${i / 7}`);
    writeFileSync(csv, `${rows.join("\n")}\n`);
    let sent = false;
    const killed = await mdm(["dataset", "register", "killed", csv], env(), {
      onStderr: (text, child) => {
        if (!sent && /data: started/.test(text)) {
          sent = true;
          child.kill("SIGKILL");
        }
      },
    });
    expect(killed.signal).toBe("SIGKILL");
    const left = (await doctor(env())).leftovers.filter((l) => l.dataset === "killed");
    expect(left.length, JSON.stringify(left)).toBeGreaterThan(0);
    // Its staging files, and the dataset's lock that names the killed process.
    expect(left.filter((l) => l.kind !== "lock").every((l) => l.kind === "staging" && l.status === "found"), JSON.stringify(left)).toBe(true);
    expect(left.filter((l) => l.kind === "lock").map((l) => l.status)).toEqual(["found"]);

    const again = await mdm(["dataset", "register", "killed", join(EXAMPLE_DATASET, "test.csv")], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/removed \d+ leftover\(s\) of an earlier run of killed: .*\.killed\.sqlite\.staging-/);
    expect(again.stderr).toMatch(/took over the lock of killed: its holder \(process \d+ .*\(register killed\)\) no longer runs/);
    expect(readdirSync(join(home, "datasets", "killed"))).toEqual(["killed.sqlite"]);
    expect((await doctor(env())).leftovers.filter((l) => l.dataset === "killed")).toEqual([]);
  });

  it("PostgreSQL: an unreachable server is a note, not a failure", async () => {
    const report = await doctor(env({ MDM_DATABASE_POSTGRESQL_HOST: "127.0.0.1", MDM_DATABASE_POSTGRESQL_PORT: "1", MDM_DATABASE_POSTGRESQL_CONNECT_TIMEOUT: "2" }), "--postgresql");
    expect(report.postgresql.checked).toBe(false);
    expect(report.postgresql.note).toMatch(/^PostgreSQL not checked: .*MDM_CONNECTION_FAILED/);
  });

  it.skipIf(pgSkip)("PostgreSQL: a staging database of a dataset of the home is listed and --clean drops it; remove drops them too", async () => {
    const e = env(pg.env);
    expect((await mdm(["dataset", "register", "pgdata", EXAMPLE_DATASET, "--backend", "postgresql"], e)).code).toBe(0);
    const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
    const backend = new PostgresqlStorageBackend({ config: pg.config });
    try {
      await backend.init();
      const staging = backend.getStagingPath("pgdata", "deadbeef01");
      await backend.createDatabase(staging);
      await backend.closeConnections();

      const listed = await doctor(e);
      expect(listed.postgresql).toEqual({ checked: true });
      expect(listed.leftovers.filter((l) => l.kind === "staging-database")).toEqual([{ kind: "staging-database", dataset: "pgdata", path: staging, bytes: null, status: "found" }]);
      const cleaned = await doctor(e, "--clean");
      expect(cleaned.leftovers.filter((l) => l.kind === "staging-database").map((l) => l.status)).toEqual(["removed"]);
      expect(await backend.listStagingPaths("pgdata")).toEqual([]);

      await backend.createDatabase(backend.getStagingPath("pgdata", "deadbeef02"));
      await backend.closeConnections();
      const removed = await mdm(["dataset", "remove", "pgdata", "--force"], e);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toMatch(/removed 1 leftover\(s\) of an earlier run of pgdata/);
      expect(await backend.listStagingPaths("pgdata")).toEqual([]);
      expect(await backend.datasetExists("pgdata")).toBe(false);
    } finally {
      await backend.close();
    }
  });
});

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome } from "@mdm/storage-core";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir, type RunResult } from "./helpers.js";

const pg = postgresEnv();
const pgSkip = await postgresAvailable();

/** A directory of train.csv (rows) and test.csv (rows / 2): two tables, so "the second table" is a moment. */
function writeFiles(dir: string, rows: number): string {
  mkdirSync(dir, { recursive: true });
  for (const [file, n] of [["train.csv", rows], ["test.csv", Math.floor(rows / 2)]] as const) {
    const lines = ["id,text,value,day"];
    for (let i = 0; i < n; i++) lines.push(`${i},row ${i},${i / 7},2024-01-${String((i % 28) + 1).padStart(2, "0")}`);
    writeFileSync(join(dir, file), `${lines.join("\n")}\n`);
  }
  return dir;
}

function rowsOf(info: RunResult): number[] {
  return (JSON.parse(info.stdout) as { tables: Array<{ rows: number }> }).tables.map((t) => t.rows);
}

describe("mdm migrate interrupted by SIGINT or SIGTERM: the exit status and the message say what is on disk", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home, pg.env);
  const ROWS = 20_000;

  beforeAll(async () => {
    home = tempDir("interrupts");
    files = writeFiles(join(tempDir("interrupt-files"), "d"), ROWS);
  }, 60_000);

  afterAll(async () => {
    if (!pgSkip) await dropPostgresDatabases(pg.config);
    removeDir(home);
  });

  // The moment is a line of the migration's own output on stderr (no TTY: one line per event).
  const moments: Array<[string, RegExp, NodeJS.Signals]> = [
    ["at the start of the copy", /\/train: started/, "SIGINT"],
    ["in the second table", /\/test: started/, "SIGTERM"],
    ["during verification", /: verifying/, "SIGINT"],
    ["while publishing", /: publishing/, "SIGTERM"],
  ];
  // Every moment into PostgreSQL (its steps take longest); the first and the last into the file engines.
  // (@mdm/migration's signals test stops a run at each moment exactly, for each target.)
  const targets: Array<[string, string, typeof moments]> = [
    ["sqlite", "duckdb", [moments[0], moments[3]] as typeof moments],
    ["duckdb", "sqlite", [moments[0], moments[3]] as typeof moments],
    ["sqlite", "postgresql", moments],
  ];
  let n = 0;

  describe.each(targets)("%s -> %s", (from, to, at) => {
    it.each(at)("%s (%s)", async (_label, moment, signal) => {
      if (to === "postgresql" && pgSkip) return;
      const name = `d${n++}`;
      // Registered by the new backend (faster); migrated with the default flags.
      expect((await mdm(["dataset", "register", name, files, "--backend", from], { ...env(), MDM_FEATURE_USE_NEW_STORAGE: "true" })).code).toBe(0);
      let sent = false;
      const r = await mdm(["migrate", name, "--to", to, "--batch-size", "500"], env(), {
        onStderr: (text, child) => {
          if (!sent && moment.test(text)) {
            sent = true;
            child.kill(signal);
          }
        },
      });
      expect(sent, r.stderr).toBe(true);
      const registered = new DatasetRegistry(new MdmHome(home)).read(name).database.backend;
      const info = await mdm(["dataset", "info", name, "--json"], env());
      expect(rowsOf(info).sort((a, b) => a - b)).toEqual([ROWS / 2, ROWS]);
      if (r.code === 0) {
        // Finished: the registry points at the target, and the output says the signal came during the publish.
        expect(registered).toBe(to);
        expect(r.stdout).toMatch(new RegExp(`${name} .*ok`));
        expect(r.stdout).toMatch(/1 of 1 dataset\(s\) migrated/);
        // A signal that came while it was published is named as such; one that came after the run is no news.
        if (/arrived while/.test(r.stderr)) expect(r.stderr).toMatch(new RegExp(`${signal} arrived while ${name} was being published: its migration completed and the registry points at ${to}`));
      } else {
        // Rolled back: nothing changed, and the message says so.
        expect(r.code, r.stderr).toBe(130);
        expect(registered).toBe(from);
        expect(r.stdout + r.stderr).toMatch(/interrupted by SIG(INT|TERM); staging removed, source and registry untouched/);
        if (to !== "postgresql") {
          const dir = join(home, "datasets", name);
          expect(readdirSync(dir).filter((f) => f.includes(`.${to}`))).toEqual([]);
        }
      }
      // Past the publish the signal cannot undo anything: the run always completes. (Before it, the signal
      // may still reach a run that got to its publish meanwhile: either outcome must be told truly, above;
      // @mdm/migration's signals test stops a run at each moment exactly.)
      if (moment.source.includes("publishing")) expect(r.code, r.stderr).toBe(0);
      if (moment.source.includes("train: started")) expect(r.code, r.stderr).toBe(130);
    }, 120_000);
  });
});

describe("reading a DuckDB dataset while it is migrated", () => {
  let home: string;
  const env = () => cleanEnv(home, { MDM_DATABASE_CONNECTION_TIMEOUT: "2" });
  const ROWS = 100_000;

  beforeAll(async () => {
    home = tempDir("readers");
    const files = writeFiles(join(tempDir("reader-files"), "d"), ROWS);
    // Registered by the new backend (faster); read and migrated below with the default flags.
    expect((await mdm(["dataset", "register", "big", files, "--backend", "duckdb"], { ...env(), MDM_FEATURE_USE_NEW_STORAGE: "true" })).code).toBe(0);
  }, 120_000);

  afterAll(() => removeDir(home));

  it("mdm dataset info and export polled during the migration: it succeeds, and every read shows the whole dataset or MDM_LOCKED", async () => {
    const out = tempDir("reader-out");
    let done = false;
    const migration = mdm(["migrate", "big", "--to", "sqlite"], env()).finally(() => (done = true));
    const reads: Array<{ kind: string; result: RunResult; during: boolean }> = [];
    let i = 0;
    while (!done) {
      const during = !done;
      const kind = i % 2 === 0 ? "info" : "export";
      const result = kind === "info" ? await mdm(["dataset", "info", "big", "--json"], env()) : await mdm(["dataset", "export", "big", "--table", "test", "--output", join(out, String(i))], env());
      reads.push({ kind, result, during });
      i++;
    }
    const m = await migration;
    expect(m.code, m.stderr).toBe(0);
    expect(new DatasetRegistry(new MdmHome(home)).read("big").database.backend).toBe("sqlite");
    expect(reads.length).toBeGreaterThan(1);
    for (const [index, { kind, result }] of reads.entries()) {
      if (result.code === 7) {
        expect(result.stderr).toMatch(/MDM_LOCKED/);
        continue;
      }
      expect(result.code, `${kind}: ${result.stderr}`).toBe(0);
      if (kind === "info") expect(rowsOf(result).sort((a, b) => a - b)).toEqual([ROWS / 2, ROWS]);
      else expect(readFileSync(join(out, String(index), "test.csv"), "utf8").trim().split("\n")).toHaveLength(ROWS / 2 + 1);
    }
    // Readers and the migration read the file side by side: none had to give up.
    expect(reads.filter((r) => r.result.code === 7)).toEqual([]);
    expect(existsSync(join(home, "locks", "big.lock"))).toBe(false);
  }, 240_000);

  it("a DuckDB file another process writes is waited for up to database.connection_timeout, then exit 7 naming that process", async () => {
    // The dataset is in SQLite now (the test above migrated it): register a DuckDB one and hold it open for writing.
    const files = writeFiles(join(tempDir("held-files"), "d"), 100);
    expect((await mdm(["dataset", "register", "held", files, "--backend", "duckdb"], env())).code).toBe(0);
    const script = `
      import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
      const backend = new DuckdbStorageBackend({ homeDir: ${JSON.stringify(home)} });
      await backend.getDatasetEngine("held");
      process.stdout.write("ready\\n");
      process.stdin.resume();
      process.stdin.on("end", async () => { await backend.close(); process.exit(0); });
    `;
    const holder = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: join(import.meta.dirname, ".."), stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise((resolve) => holder.on("exit", resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        holder.on("exit", (code) => reject(new Error(`the holder exited early (${code})`)));
      });
      const started = performance.now();
      const info = await mdm(["dataset", "info", "held"], env());
      const waited = performance.now() - started;
      expect(info.code, info.stderr).toBe(7);
      expect(info.stderr).toMatch(new RegExp(`is locked by process ${holder.pid} .*could not be opened for reading within 2 s .*\\[MDM_LOCKED\\]`));
      expect(waited).toBeGreaterThanOrEqual(2000);
      const migrate = await mdm(["migrate", "held", "--to", "sqlite"], env());
      expect(migrate.code).toBe(7);
      expect(new DatasetRegistry(new MdmHome(home)).read("held").database.backend).toBe("duckdb");
    } finally {
      holder.stdin.end();
      await exited;
    }
    // Once the writer is gone, the same commands work.
    expect((await mdm(["dataset", "info", "held"], env())).code).toBe(0);
    expect((await mdm(["migrate", "held", "--to", "sqlite"], env())).code).toBe(0);
  }, 120_000);
});

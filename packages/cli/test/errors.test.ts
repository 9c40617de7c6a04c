import { hostname } from "node:os";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, MdmError } from "@mdm/storage-core";
import { ExitCodes, exitCodeOf } from "../src/exit-codes.js";
import { EXAMPLE_DATASET, cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

/** The error is one line on stderr: `mdm: error: ...`, the last thing printed. */
function oneLineError(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => l.startsWith("mdm: error:"));
  expect(errors).toHaveLength(1);
  return errors[0] as string;
}

describe("mdm error paths and exit codes", () => {
  let home: string;
  let files: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, extra);

  beforeAll(async () => {
    home = tempDir("errors-home");
    files = tempDir("errors-files");
    expect((await mdm(["dataset", "register", "churn", EXAMPLE_DATASET], env())).code).toBe(0);
  });

  afterAll(() => {
    removeDir(home);
    removeDir(files);
  });

  it("0: --version, help, --help on every command", async () => {
    const v = await mdm(["--version"], env());
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await mdm(["help"], env());
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: mdm/);
    expect(help.stdout).toMatch(/Exit codes:/);
    for (const args of [["--help"], ["dataset", "--help"], ["dataset", "register", "--help"], ["dataset", "list", "--help"], ["dataset", "info", "--help"], ["dataset", "remove", "--help"], ["dataset", "export", "--help"], ["migrate", "--help"], ["storage", "compare", "--help"], ["storage", "validate", "--help"], ["flags", "--help"], ["flags", "set", "--help"], ["help", "migrate"]]) {
      const r = await mdm(args, env());
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toMatch(/Usage: mdm/);
    }
  });

  it("2: usage errors (unknown command or option, missing argument, bad choice, invalid name)", async () => {
    for (const args of [[], ["dataset"], ["flags"]]) {
      const r = await mdm(args, env());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^Usage: mdm/);
    }
    for (const args of [
      ["frobnicate"],
      ["dataset", "register", "onlyname"],
      ["dataset", "list", "--bogus"],
      ["dataset", "register", "x", EXAMPLE_DATASET, "--backend", "oracle"],
      ["migrate", "churn"],
      ["migrate", "churn", "--to", "mysql"],
      ["migrate", "churn", "--to", "duckdb:fast"],
      ["migrate", "churn", "--to", "duckdb", "--batch-size", "0"],
      ["migrate", "churn", "--to", "duckdb", "--verify", "maybe"],
      ["migrate", "--to", "duckdb"],
      ["migrate", "churn", "--all", "--to", "duckdb"],
      ["dataset", "register", "../escape", EXAMPLE_DATASET],
      ["dataset", "register", "with space", EXAMPLE_DATASET],
      ["dataset", "export", "churn", "--format", "xlsx"],
      ["dataset", "register", "t", EXAMPLE_DATASET, "--target", "no_such_column"],
      ["dataset", "remove", "churn"],
      ["flags", "get", "no_such_flag"],
      ["flags", "set", "use_new_storage", "maybe"],
      ["storage", "compare", "oracle"],
    ]) {
      const r = await mdm(args, env());
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^mdm: error/m);
    }
    // A refused registration leaves nothing behind.
    expect(existsSync(join(home, "config", "datasets", "t.yaml"))).toBe(false);
    expect(existsSync(join(home, "config", "datasets", "churn.yaml"))).toBe(true);
  });

  it("3: not found (dataset, file, table)", async () => {
    for (const args of [
      ["dataset", "info", "nope"],
      ["dataset", "remove", "nope", "--force"],
      ["dataset", "export", "nope"],
      ["migrate", "nope", "--to", "duckdb"],
      ["dataset", "register", "x", join(files, "missing.csv")],
      ["dataset", "export", "churn", "--table", "nope", "--output", files],
    ]) {
      const r = await mdm(args, env());
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(3);
      oneLineError(r.stderr);
    }
    const r = await mdm(["dataset", "info", "nope"], env());
    expect(oneLineError(r.stderr)).toBe('mdm: error: Dataset "nope" is not registered [MDM_DATASET_NOT_FOUND]');
  });

  it("4: already exists", async () => {
    const r = await mdm(["dataset", "register", "churn", EXAMPLE_DATASET], env());
    expect(r.code).toBe(4);
    expect(oneLineError(r.stderr)).toMatch(/already registered.*--force/);
  });

  it("5: verification failed (the mapping of MDM_VERIFICATION_FAILED)", () => {
    // A verification failure needs corrupted data on the way, which only the migrator's test hook can
    // inject (@mdm/migration's tests do); here the mapping of its code is checked.
    expect(exitCodeOf(new MdmError(ErrorCodes.VERIFICATION_FAILED, "x"))).toBe(5);
    expect(ExitCodes.VERIFICATION_FAILED).toBe(5);
  });

  it("6: backend unavailable, and the password never printed", async () => {
    const secret = "s3cret-Pa55word";
    const r = await mdm(["dataset", "register", "pgx", EXAMPLE_DATASET, "--backend", "postgresql", "--debug"], env({
      MDM_DATABASE_POSTGRESQL_HOST: "127.0.0.1",
      MDM_DATABASE_POSTGRESQL_PORT: "1",
      MDM_DATABASE_POSTGRESQL_USER: "someone",
      MDM_DATABASE_POSTGRESQL_PASSWORD: secret,
      MDM_DATABASE_POSTGRESQL_CONNECT_TIMEOUT: "2",
    }));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^mdm: error: /m);
    expect(r.stderr + r.stdout).not.toContain(secret);
    expect(existsSync(join(home, "config", "datasets", "pgx.yaml"))).toBe(false);
  });

  it("7: locked (another process holds the dataset's lock)", async () => {
    mkdirSync(join(home, "locks"), { recursive: true });
    const lock = join(home, "locks", "churn.lock");
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose: "migrate churn to postgresql" }));
    try {
      const r = await mdm(["migrate", "churn", "--to", "duckdb"], env());
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(new RegExp(`locked by process ${process.pid} on host .* \\(migrate churn to postgresql\\); check it with "ps -p ${process.pid}"`));
      expect(r.stdout).toMatch(/MDM_LOCKED/);
    } finally {
      removeDir(lock);
    }
  });

  it("a lock left by a process that no longer runs, an empty one, or garbage is taken over with a note on stderr", async () => {
    const { spawnSync } = await import("node:child_process");
    const dead = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
    mkdirSync(join(home, "locks"), { recursive: true });
    const lock = join(home, "locks", "churn.lock");
    for (const [content, why] of [
      [JSON.stringify({ pid: dead, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z" }), `its holder \\(process ${dead} on host .*\\) no longer runs`],
      ["", ".*churn\\.lock was empty or unreadable"],
      ["not a lock", ".*churn\\.lock was empty or unreadable"],
    ] as const) {
      writeFileSync(lock, content);
      const r = await mdm(["dataset", "info", "churn"], env());
      expect(r.code).toBe(0);
      expect(existsSync(lock)).toBe(true); // a reader never takes the lock
      const removed = await mdm(["dataset", "export", "churn", "--output", join(files, "locked-export")], env());
      expect(removed.code).toBe(0);
      const migrated = await mdm(["migrate", "churn", "--to", "duckdb", "--verify", "count"], env());
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(migrated.stderr).toMatch(new RegExp(`took over the lock of churn: (${why})`));
      expect(existsSync(lock)).toBe(false);
      const back = await mdm(["migrate", "churn", "--to", "sqlite", "--overwrite", "--remove-source", "--verify", "count"], env());
      expect(back.code, back.stderr).toBe(0);
    }
  });

  it("8: a value the backend cannot hold (NaN into SQLite), nothing registered", async () => {
    writeFileSync(join(files, "nan.csv"), "a,b\n1,NaN\n2,0.5\n");
    const r = await mdm(["dataset", "register", "nan", join(files, "nan.csv"), "--backend", "sqlite"], env());
    expect(r.code).toBe(8);
    expect(oneLineError(r.stderr)).toMatch(/MDM_UNSUPPORTED_VALUE/);
    expect(existsSync(join(home, "config", "datasets", "nan.yaml"))).toBe(false);
    const dir = join(home, "datasets", "nan");
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it("1: malformed input (a CSV row with too many fields), with --debug printing the stack", async () => {
    writeFileSync(join(files, "bad.csv"), "a,b\n1,2\n3,4,5\n");
    const r = await mdm(["dataset", "register", "bad", join(files, "bad.csv"), "--debug"], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mdm: error: .*bad\.csv/);
    expect(r.stderr).toMatch(/\n\s+at /);
    const plain = await mdm(["dataset", "register", "bad", join(files, "bad.csv")], env());
    expect(plain.code).toBe(1);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(home, "config", "datasets", "bad.yaml"))).toBe(false);
  });

  it("10: invalid configuration names the file and the key", async () => {
    const r = await mdm(["dataset", "list"], env({ MDM_DATABASE_DUCKDB_THREADS: "many" }));
    expect(r.code).toBe(10);
    expect(oneLineError(r.stderr)).toBe('mdm: error: MDM_DATABASE_DUCKDB_THREADS (database.duckdb.threads) must be an integer >= 1, got "many" [MDM_INVALID_CONFIG]');
    expect(ExitCodes.INVALID_CONFIG).toBe(10);
  });

  it("130: Ctrl-C during a registration aborts it cleanly (nothing registered, no staging left)", async () => {
    const big = join(files, "big.csv");
    const rows = ["id,text,value"];
    for (let i = 0; i < 400_000; i++) rows.push(`${i},row number ${i},${i / 7}`);
    writeFileSync(big, `${rows.join("\n")}\n`);
    let sent = false;
    const r = await mdm(["dataset", "register", "big", big], env(), {
      onStderr: (text, child) => {
        if (!sent && /started/.test(text)) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(existsSync(join(home, "config", "datasets", "big.yaml"))).toBe(false);
    const dir = join(home, "datasets", "big");
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it("130: Ctrl-C during a migration rolls it back (staging removed, source and registry untouched)", async () => {
    const csv = join(files, "mig.csv");
    const rows = ["id,text,value"];
    for (let i = 0; i < 200_000; i++) rows.push(`${i},row ${i},${i / 3}`);
    writeFileSync(csv, `${rows.join("\n")}\n`);
    expect((await mdm(["dataset", "register", "mig", csv], env())).code).toBe(0);
    let sent = false;
    const r = await mdm(["migrate", "mig", "--to", "duckdb", "--batch-size", "200"], env(), {
      onStderr: (text, child) => {
        if (!sent && /mig\/data: started/.test(text)) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(sent, r.stderr).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stdout + r.stderr).toMatch(/MDM_ABORTED/);
    expect(readFileSync(join(home, "config", "datasets", "mig.yaml"), "utf8")).toMatch(/backend: sqlite/);
    expect(readdirSync(join(home, "datasets", "mig")).filter((f) => !f.startsWith("mig.sqlite"))).toEqual([]);
    const info = await mdm(["dataset", "info", "mig", "--json"], env());
    expect(JSON.parse(info.stdout).tables[0].rows).toBe(200_000);
  });
});

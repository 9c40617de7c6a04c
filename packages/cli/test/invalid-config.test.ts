import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DATASET, cleanEnv, mdm, removeDir, tempDir, type RunResult } from "./helpers.js";

/** Every file and directory under a directory, with a hash of each file's bytes and its mode. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        out[`${relative(root, path)}/`] = "dir";
        walk(path);
      } else out[relative(root, path)] = `${stat.mode.toString(8)} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
    }
  };
  walk(root);
  return out;
}

/** Run mdm and check that it changed nothing under the home: no file written, removed or added. */
async function changesNothing(home: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return (await noneChangesAnything(home, [args], env))[0] as RunResult;
}

/** Run several mdm commands at once (each fails at start-up, so they cannot disturb each other), then check the home. */
async function noneChangesAnything(home: string, commands: string[][], env: NodeJS.ProcessEnv): Promise<RunResult[]> {
  const before = snapshot(home);
  const results = await Promise.all(commands.map((args) => mdm(args, env)));
  expect(snapshot(home), `one of ${commands.map((a) => `mdm ${a.join(" ")}`).join("; ")} changed the home`).toEqual(before);
  return results;
}

/** The one `mdm: error:` line, with MDM_INVALID_CONFIG and exit code 10. */
function invalidConfig(r: RunResult, args: string[]): string {
  expect(r.code, `mdm ${args.join(" ")}: ${r.stderr}`).toBe(10);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("mdm: error:"));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/\[MDM_INVALID_CONFIG\]$/);
  return errors[0] as string;
}

describe("an invalid registry entry: refused before anything is written", () => {
  let home: string;
  let out: string;
  let entryFile: string;
  let original: string;
  const env = () => cleanEnv(home);

  beforeAll(async () => {
    home = tempDir("bad-entry-home");
    out = tempDir("bad-entry-out");
    for (const name of ["big", "churn"]) expect((await mdm(["dataset", "register", name, EXAMPLE_DATASET, "--backend", "sqlite"], env())).code).toBe(0);
    entryFile = join(home, "config", "datasets", "big.yaml");
    original = readFileSync(entryFile, "utf8");
  });

  afterAll(() => {
    removeDir(home);
    removeDir(out);
  });

  it.each([
    ["name: other", "name", /name is "other" but the file is big\.yaml/],
    ["name: ../../escape", "name", /name "\.\.\/\.\.\/escape" is not a dataset name/],
    ["name: 12345", "name", /name must be the text "big" \(the file's name\), got the number 12345/],
  ])("%s: mdm migrate big fails with the file and key, publishes nothing, writes no other entry", async (line, key, message) => {
    writeFileSync(entryFile, original.replace(/^name: big$/m, line));
    try {
      const commands = ["duckdb", "postgresql"].map((to) => ["migrate", "big", "--to", to]);
      for (const [i, r] of (await noneChangesAnything(home, commands, env())).entries()) {
        const error = invalidConfig(r, commands[i] as string[]);
        expect(error).toContain(`${entryFile}: ${key} `);
        expect(error).toMatch(message);
      }
      expect(existsSync(join(home, "config", "datasets", "other.yaml"))).toBe(false);
      expect(existsSync(join(home, "datasets", "big", "big.duckdb"))).toBe(false);
    } finally {
      writeFileSync(entryFile, original);
    }
  });

  it("backend: mongodb fails every command on that dataset with MDM_INVALID_CONFIG naming database.backend; list shows it as a row", async () => {
    writeFileSync(entryFile, original.replace(/backend: sqlite/, "backend: mongodb"));
    try {
      const commands = [
        ["migrate", "big", "--to", "duckdb"],
        ["migrate", "--all", "--to", "duckdb"],
        ["dataset", "info", "big"],
        ["dataset", "export", "big", "--output", join(out, "big")],
        ["dataset", "remove", "big", "--force"],
        ["dataset", "register", "big", EXAMPLE_DATASET, "--force"],
      ];
      for (const [i, r] of (await noneChangesAnything(home, commands, env())).entries()) {
        expect(invalidConfig(r, commands[i] as string[])).toContain(`${entryFile}: database.backend must be one of sqlite, duckdb, postgresql, got "mongodb"`);
      }
      // --all checks every entry before anything moves: churn was not migrated either.
      expect(existsSync(join(home, "datasets", "churn", "churn.duckdb"))).toBe(false);
      expect(existsSync(join(out, "big"))).toBe(false);

      const list = await changesNothing(home, ["dataset", "list", "--json"], env());
      expect(list.code).toBe(0);
      const rows = JSON.parse(list.stdout) as Array<{ name: string; status: string; error?: { code: string; message: string } }>;
      expect(rows.map((r) => [r.name, r.status])).toEqual([["big", "invalid"], ["churn", "ok"]]);
      expect(rows[0]?.error).toEqual({ code: "MDM_INVALID_CONFIG", message: expect.stringContaining(`${entryFile}: database.backend`) });
      const human = await mdm(["dataset", "list"], env());
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/big .*invalid: MDM_INVALID_CONFIG/);
      expect(human.stderr).toContain(`mdm: big: ${entryFile}: database.backend must be one of`);
    } finally {
      writeFileSync(entryFile, original);
    }
  });

  it("a path outside the dataset's directory and YAML that is not a mapping are refused too", async () => {
    for (const [content, key] of [
      [original.replace(/^(\s+path: ).*$/m, "$1/etc/passwd"), "database.path "],
      ["- name: big\n", "does not hold a mapping"],
    ] as const) {
      writeFileSync(entryFile, content);
      try {
        const args = ["dataset", "info", "big"];
        expect(invalidConfig(await changesNothing(home, args, env()), args)).toContain(`${entryFile}: ${key}`);
      } finally {
        writeFileSync(entryFile, original);
      }
    }
  });
});

describe("an invalid mdm.yaml or feature_flags.yaml: every command refuses it", () => {
  let home: string;
  let out: string;
  let data: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, extra);

  /** Every command, each of which must refuse before doing anything. */
  const commands = () => [
    ["dataset", "list"],
    ["dataset", "info", "churn"],
    ["dataset", "register", "fresh", data],
    ["dataset", "export", "churn", "--output", join(out, "churn")],
    ["dataset", "remove", "churn", "--force"],
    ["migrate", "churn", "--to", "duckdb"],
    ["flags", "list"],
    ["flags", "get", "use_new_storage"],
    ["flags", "set", "use_new_storage", "true"],
    ["flags", "unset", "use_new_storage"],
    ["storage", "validate", "sqlite"],
    ["storage", "compare", "sqlite", "--rows", "10"],
  ];

  beforeAll(async () => {
    home = tempDir("bad-config-home");
    out = tempDir("bad-config-out");
    data = join(out, "fresh.csv");
    writeFileSync(data, "a,b\n1,2\n");
    expect((await mdm(["dataset", "register", "churn", EXAMPLE_DATASET, "--backend", "sqlite"], env())).code).toBe(0);
  });

  afterAll(() => {
    removeDir(home);
    removeDir(out);
  });

  // The commands the issue saw accept each file (every command for the first: one check serves them all).
  const listInfoMigrate = () => commands().filter(([a, b]) => b === "list" || b === "info" || a === "migrate");
  it.each([
    ["database: [1, 2]", "database: [1, 2]\n", "database must be a mapping of settings, got a list ([1,2])", commands],
    ["a memory_limit that is SQL", "database:\n  duckdb:\n    memory_limit: \"1GB'; DROP TABLE data; --\"\n", "database.duckdb.memory_limit must be a size such as 8GB", listInfoMigrate],
    ["a misspelt key", "database:\n  duckdb:\n    memorylimit: 2GB\n", "database.duckdb.memorylimit is not a key of mdm.yaml; did you mean database.duckdb.memory_limit?", listInfoMigrate],
  ])("mdm.yaml with %s: exit 10, the file and the key named, nothing changed", async (_label, yaml, message, which) => {
    const file = join(home, "mdm.yaml");
    writeFileSync(file, yaml);
    try {
      const run = which();
      for (const [i, r] of (await noneChangesAnything(home, run, env())).entries()) expect(invalidConfig(r, run[i] as string[])).toContain(`${file}: ${message}`);
      expect(existsSync(join(home, "feature_flags.yaml"))).toBe(false);
      expect(existsSync(join(out, "churn"))).toBe(false);
    } finally {
      rmSync(file);
    }
  });

  it("an environment override gets the same checks, naming the variable", async () => {
    const extra = { MDM_DATABASE_DUCKDB_MEMORY_LIMIT: "1GB'; DROP TABLE data; --" };
    const some = [["dataset", "list"], ["dataset", "info", "churn"], ["migrate", "churn", "--to", "duckdb"]];
    for (const [i, r] of (await noneChangesAnything(home, some, env(extra))).entries()) {
      expect(invalidConfig(r, some[i] as string[])).toContain("MDM_DATABASE_DUCKDB_MEMORY_LIMIT (database.duckdb.memory_limit) must be a size");
    }
  });

  it("feature_flags.yaml with an unknown flag: exit 10 with the nearest flag, nothing changed", async () => {
    const file = join(home, "feature_flags.yaml");
    writeFileSync(file, "use_new_storgae: true\nhistory: []\n");
    try {
      const run = commands().filter(([a, b]) => a === "flags" || b === "register" || a === "migrate");
      for (const [i, r] of (await noneChangesAnything(home, run, env())).entries()) {
        expect(invalidConfig(r, run[i] as string[])).toContain(`${file}: use_new_storgae is not a feature flag; did you mean use_new_storage?`);
      }
    } finally {
      rmSync(file);
    }
  });

  it("the valid home is untouched by all of it and still works", async () => {
    const r = await mdm(["dataset", "info", "churn", "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("sqlite");
  });
});

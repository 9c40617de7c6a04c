import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  ErrorCodes,
  FLAG_DEFAULTS,
  FLAG_NAMES,
  FeatureFlags,
  parseFlagValue,
  rolloutBucket,
  type FlagChange,
  type FlagName,
} from "../src/index.js";
import { tempDir } from "./helpers/temp-dir.js";
import { codeOf, errorOf } from "./helpers/error-code.js";

function flagsFile(content?: string): string {
  const home = tempDir();
  const file = join(home, "feature_flags.yaml");
  if (content !== undefined) writeFileSync(file, content);
  return file;
}

/** A value for each flag that differs from its default, as YAML/env text and as the parsed value. */
const NON_DEFAULT: Record<FlagName, { text: string; value: unknown }> = {
  use_new_storage: { text: "true", value: true },
  use_new_storage_sqlite: { text: "true", value: true },
  use_new_storage_duckdb: { text: "false", value: false },
  use_new_storage_postgresql: { text: "true", value: true },
  rollout_percentage: { text: "37", value: 37 },
  auto_fallback: { text: "false", value: false },
};

describe("defaults", () => {
  test("legacy is the default; every flag has its documented default", () => {
    const flags = new FeatureFlags({ env: {} });
    expect(flags.getAll()).toEqual({
      use_new_storage: false,
      use_new_storage_sqlite: null,
      use_new_storage_duckdb: null,
      use_new_storage_postgresql: null,
      rollout_percentage: 0,
      auto_fallback: true,
    });
    for (const flag of FLAG_NAMES) expect(flags.sourceOf(flag)).toBe("default");
    expect(flags.implementationFor("sqlite", "iris")).toBe("legacy");
    expect(flags.history()).toEqual([]);
    expect(Object.keys(NON_DEFAULT).sort()).toEqual([...FLAG_NAMES].sort());
  });
});

describe("every flag from every source", () => {
  test.each(FLAG_NAMES)("%s from code", (flag) => {
    const flags = new FeatureFlags({ env: {} });
    flags.set(flag, NON_DEFAULT[flag].text);
    expect(flags.get(flag)).toEqual(NON_DEFAULT[flag].value);
    expect(flags.sourceOf(flag)).toBe("code");
    expect(flags.get(flag)).not.toEqual(FLAG_DEFAULTS[flag]);
  });

  test.each(FLAG_NAMES)("%s from the environment (MDM_FEATURE_*)", (flag) => {
    const flags = new FeatureFlags({ env: { [`MDM_FEATURE_${flag.toUpperCase()}`]: NON_DEFAULT[flag].text } });
    expect(flags.get(flag)).toEqual(NON_DEFAULT[flag].value);
    expect(flags.sourceOf(flag)).toBe("env");
  });

  test.each(FLAG_NAMES)("%s from feature_flags.yaml", (flag) => {
    const flags = new FeatureFlags({ file: flagsFile(`${flag}: ${NON_DEFAULT[flag].text}\n`), env: {} });
    expect(flags.get(flag)).toEqual(NON_DEFAULT[flag].value);
    expect(flags.sourceOf(flag)).toBe("file");
    expect(flags.fileFlags()).toEqual({ [flag]: NON_DEFAULT[flag].value });
  });

  test("boolean spellings accepted by env and file", () => {
    for (const [text, value] of [["1", true], ["yes", true], ["ON", true], [" True ", true], ["0", false], ["no", false], ["off", false], ["FALSE", false]] as const) {
      expect(new FeatureFlags({ env: { MDM_FEATURE_USE_NEW_STORAGE: text } }).get("use_new_storage")).toBe(value);
    }
    expect(new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "25%" } }).get("rollout_percentage")).toBe(25);
    expect(new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "12.5" } }).get("rollout_percentage")).toBe(12.5);
    // A per-type override can be cleared back to "follow use_new_storage" from any source.
    for (const text of ["null", "auto", "none", ""]) {
      const flags = new FeatureFlags({ file: flagsFile("use_new_storage_sqlite: true\n"), env: { MDM_FEATURE_USE_NEW_STORAGE_SQLITE: text } });
      expect(flags.get("use_new_storage_sqlite")).toBeNull();
      expect(flags.sourceOf("use_new_storage_sqlite")).toBe("env");
    }
    const fromYamlNull = new FeatureFlags({ file: flagsFile("use_new_storage_duckdb: null\n"), env: {} });
    expect(fromYamlNull.get("use_new_storage_duckdb")).toBeNull();
    expect(fromYamlNull.sourceOf("use_new_storage_duckdb")).toBe("file");
  });
});

describe("precedence: code > env > file > default", () => {
  test("each layer hides the ones below it, and unset() uncovers them again", () => {
    const file = flagsFile("rollout_percentage: 10\nuse_new_storage: true\n");
    const flags = new FeatureFlags({ file, env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "20" } });
    expect(flags.get("rollout_percentage")).toBe(20);
    expect(flags.sourceOf("rollout_percentage")).toBe("env");
    expect(flags.get("use_new_storage")).toBe(true);
    expect(flags.sourceOf("use_new_storage")).toBe("file");

    flags.set("rollout_percentage", 30);
    expect(flags.get("rollout_percentage")).toBe(30);
    expect(flags.sourceOf("rollout_percentage")).toBe("code");

    flags.unset("rollout_percentage");
    expect(flags.get("rollout_percentage")).toBe(20);
    expect(flags.sourceOf("rollout_percentage")).toBe("env");

    flags.set("use_new_storage", false);
    expect(flags.get("use_new_storage")).toBe(false);
    flags.unset("use_new_storage");
    expect(flags.get("use_new_storage")).toBe(true);

    const noEnv = new FeatureFlags({ file, env: {} });
    expect(noEnv.get("rollout_percentage")).toBe(10);
    expect(noEnv.sourceOf("rollout_percentage")).toBe("file");
    noEnv.unset("auto_fallback"); // unset of a flag never set is harmless
    expect(noEnv.get("auto_fallback")).toBe(true);
    expect(noEnv.sourceOf("auto_fallback")).toBe("default");
  });
});

describe("history and listeners", () => {
  test("a change from code is recorded with old value, new value, source and time, and sent to listeners", () => {
    const flags = new FeatureFlags({ env: {} });
    const seen: FlagChange[] = [];
    const off = flags.onChange((c) => seen.push(c));
    flags.set("use_new_storage", true);
    flags.set("use_new_storage", true); // no change, nothing recorded
    flags.set("rollout_percentage", "15");
    expect(flags.history()).toHaveLength(2);
    expect(flags.history("use_new_storage")).toEqual([
      expect.objectContaining({ flag: "use_new_storage", oldValue: false, newValue: true, source: "code" }),
    ]);
    expect(flags.history("rollout_percentage")[0]).toMatchObject({ oldValue: 0, newValue: 15, source: "code" });
    expect(Number.isNaN(Date.parse(flags.history()[0]?.timestamp ?? "x"))).toBe(false);
    expect(seen).toEqual(flags.history());
    off();
    flags.set("auto_fallback", false);
    expect(seen).toHaveLength(2);
    expect(flags.history()).toHaveLength(3);
  });

  test("a failing listener neither blocks the change nor the other listeners", () => {
    const flags = new FeatureFlags({ env: {} });
    const seen: string[] = [];
    flags.onChange(() => {
      throw new Error("listener bug");
    });
    flags.onChange((c) => seen.push(c.flag));
    flags.set("auto_fallback", false);
    expect(flags.get("auto_fallback")).toBe(false);
    expect(seen).toEqual(["auto_fallback"]);
  });

  test("reload() picks up a changed feature_flags.yaml and records the change with source 'file'", () => {
    const file = flagsFile("use_new_storage: false\n");
    const flags = new FeatureFlags({ file, env: {} });
    const seen: FlagChange[] = [];
    flags.onChange((c) => seen.push(c));
    writeFileSync(file, "use_new_storage: true\nrollout_percentage: 50\n");
    flags.reload();
    expect(flags.get("use_new_storage")).toBe(true);
    expect(flags.get("rollout_percentage")).toBe(50);
    expect(seen.map((c) => [c.flag, c.oldValue, c.newValue, c.source])).toEqual([
      ["use_new_storage", false, true, "file"],
      ["rollout_percentage", 0, 50, "file"],
    ]);
  });

  test("reload() re-reads the environment object it was given (source 'env')", () => {
    const env: NodeJS.ProcessEnv = {};
    const flags = new FeatureFlags({ env });
    env.MDM_FEATURE_USE_NEW_STORAGE_POSTGRESQL = "true";
    flags.reload();
    expect(flags.get("use_new_storage_postgresql")).toBe(true);
    expect(flags.history("use_new_storage_postgresql")[0]).toMatchObject({ oldValue: null, newValue: true, source: "env" });
    delete env.MDM_FEATURE_USE_NEW_STORAGE_POSTGRESQL;
    flags.reload();
    expect(flags.get("use_new_storage_postgresql")).toBeNull();
    expect(flags.history("use_new_storage_postgresql")).toHaveLength(2);
  });

  test("a change hidden by a higher layer is not a change", () => {
    const file = flagsFile("auto_fallback: true\n");
    const flags = new FeatureFlags({ file, env: { MDM_FEATURE_AUTO_FALLBACK: "false" } });
    // Loading recorded the move from the default to the environment's value.
    expect(flags.history()).toEqual([expect.objectContaining({ flag: "auto_fallback", oldValue: true, newValue: false, source: "env" })]);
    writeFileSync(file, "auto_fallback: false\n");
    flags.reload();
    expect(flags.history()).toHaveLength(1);
  });

  test("the history keeps the last 1000 changes", () => {
    const flags = new FeatureFlags({ env: {} });
    for (let i = 1; i <= 1005; i++) flags.set("rollout_percentage", i % 2 === 0 ? 10 : 20);
    const history = flags.history();
    expect(history).toHaveLength(1000);
    expect(history[history.length - 1]?.newValue).toBe(20); // 1005 is odd
  });
});

describe("saveToFile → load round trip (broken in the original)", () => {
  test("flags saved from code are read back by a fresh instance, from the file layer", () => {
    const file = join(tempDir(), "nested", "feature_flags.yaml");
    const flags = new FeatureFlags({ file, env: {} });
    flags.set("use_new_storage", true);
    flags.set("use_new_storage_duckdb", false);
    flags.set("rollout_percentage", 42);
    flags.set("auto_fallback", false);
    flags.saveToFile();
    expect(existsSync(file)).toBe(true);
    // The file holds top-level flag keys, nothing else.
    expect(parseYaml(readFileSync(file, "utf8"))).toEqual({
      use_new_storage: true,
      use_new_storage_duckdb: false,
      rollout_percentage: 42,
      auto_fallback: false,
    });
    const fresh = new FeatureFlags({ file, env: {} });
    expect(fresh.getAll()).toEqual(flags.getAll());
    for (const flag of ["use_new_storage", "use_new_storage_duckdb", "rollout_percentage", "auto_fallback"] as const) {
      expect(fresh.sourceOf(flag)).toBe("file");
    }
    expect(fresh.implementationFor("duckdb", "x")).toBe("legacy");
    expect(fresh.implementationFor("sqlite", "x")).toBe("new");
  });

  test("explicit values are validated before anything is written; a null override round-trips", () => {
    const file = flagsFile();
    const flags = new FeatureFlags({ file, env: {} });
    expect(codeOf(() => flags.saveToFile({ rollout_percentage: 101 }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(existsSync(file)).toBe(false);
    flags.saveToFile({ use_new_storage_sqlite: null, use_new_storage: true });
    const fresh = new FeatureFlags({ file, env: {} });
    expect(fresh.get("use_new_storage_sqlite")).toBeNull();
    expect(fresh.sourceOf("use_new_storage_sqlite")).toBe("file");
    expect(fresh.get("use_new_storage")).toBe(true);
    // The saving instance reloaded its own file.
    expect(flags.sourceOf("use_new_storage")).toBe("file");
  });

  test("saveToFile() without a file is refused", () => {
    expect(codeOf(() => new FeatureFlags({ env: {} }).saveToFile())).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe("rejections", () => {
  test("saveToFile edits Python MDM's feature_flags.yaml in place: its other flags, comments and rollout map kept, each change appended to history:", () => {
    const python = [
      "# written by Python MDM",
      "flags:",
      "  use_new_backend: true",
      "  enable_compatibility_warnings: false",
      "  use_new_storage: false",
      "rollout_percentage:",
      "  new_backend: 50",
      "history:",
      "  - timestamp: '2025-07-10T10:00:00'",
      "    flag: use_new_backend",
      "    old_value: false",
      "    new_value: true",
      "last_updated: '2025-07-10T10:00:00'",
      "",
    ].join("\n");
    const file = flagsFile(python);
    const flags = new FeatureFlags({ file, env: {} });
    flags.saveToFile({ ...flags.fileFlags(), use_new_storage: true, use_new_storage_duckdb: false });
    const text = readFileSync(file, "utf8");
    expect(text).toContain("# written by Python MDM");
    const saved = parseYaml(text) as { flags: Record<string, unknown>; rollout_percentage: unknown; history: Array<Record<string, unknown>>; last_updated: string };
    expect(saved.flags).toEqual({ use_new_backend: true, enable_compatibility_warnings: false, use_new_storage: true, use_new_storage_duckdb: false });
    expect(saved.rollout_percentage).toEqual({ new_backend: 50 });
    expect(saved.history).toHaveLength(3);
    expect(saved.history[0]).toMatchObject({ flag: "use_new_backend", new_value: true });
    expect(saved.history.slice(1).map(({ flag, old_value, new_value }) => ({ flag, old_value, new_value }))).toEqual([
      { flag: "use_new_storage", old_value: false, new_value: true },
      { flag: "use_new_storage_duckdb", old_value: null, new_value: false },
    ]);
    expect(saved.last_updated).not.toBe("2025-07-10T10:00:00");
    expect(new FeatureFlags({ file, env: {} }).get("use_new_storage")).toBe(true);
    // unset removes only our flag.
    const again = new FeatureFlags({ file, env: {} });
    const { use_new_storage_duckdb: _dropped, ...rest } = again.fileFlags();
    again.saveToFile(rest);
    const after = parseYaml(readFileSync(file, "utf8")) as typeof saved;
    expect(after.flags).toEqual({ use_new_backend: true, enable_compatibility_warnings: false, use_new_storage: true });
    expect(after.history.at(-1)).toMatchObject({ flag: "use_new_storage_duckdb", old_value: false, new_value: null });
    // Our own layout (top-level keys) stays ours, its comments too.
    const ours = flagsFile("# mine\nauto_fallback: false\n");
    new FeatureFlags({ file: ours, env: {} }).saveToFile({ auto_fallback: false, use_new_storage: true });
    expect(readFileSync(ours, "utf8")).toBe("# mine\nauto_fallback: false\nuse_new_storage: true\n");
  });

  test("an unknown flag is MDM_INVALID_CONFIG from code, file and saveToFile", () => {
    const flags = new FeatureFlags({ env: {} });
    expect(codeOf(() => flags.set("use_new_backend" as FlagName, true))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => flags.get("nope" as FlagName))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => flags.unset("nope" as FlagName))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => new FeatureFlags({ file: flagsFile("use_new_storgae: true\n"), env: {} }))).toBe(ErrorCodes.INVALID_CONFIG);
    // A misspelt environment flag is refused rather than ignored.
    expect(codeOf(() => new FeatureFlags({ env: { MDM_FEATURE_USE_NEW_STORGE: "1" } }))).toBe(ErrorCodes.INVALID_CONFIG);
    const file = flagsFile();
    expect(codeOf(() => new FeatureFlags({ file, env: {} }).saveToFile({ bogus: true } as never))).toBe(ErrorCodes.INVALID_CONFIG);
  });

  test("what Python MDM left in the environment and in feature_flags.yaml is read where it means something, ignored otherwise", () => {
    // Its own flags (use_new_backend...) and its per-feature rollout map are not ours: ignored, not refused.
    const env = new FeatureFlags({ env: { MDM_FEATURE_USE_NEW_BACKEND: "true", MDM_FEATURE_ENABLE_MEMORY_PROFILING: "1" } });
    expect(env.getAll()).toEqual(new FeatureFlags({ env: {} }).getAll());
    const python = new FeatureFlags({ file: flagsFile("use_new_backend: true\nauto_fallback: false\nrollout_percentage:\n  new_backend: 50\n"), env: {} });
    expect(python.get("auto_fallback")).toBe(false);
    expect(python.get("rollout_percentage")).toBe(0);
    // Its save_to_file format ({flags, history, last_updated}) holds the flags under `flags`.
    const saved = new FeatureFlags({ file: flagsFile("flags:\n  use_new_storage: true\n  use_new_backend: true\nhistory: []\nlast_updated: '2025-07-10'\n"), env: {} });
    expect(saved.get("use_new_storage")).toBe(true);
    expect(saved.sourceOf("use_new_storage")).toBe("file");
  });

  test("bad values are MDM_INVALID_CONFIG from every source, and nothing changes", () => {
    const flags = new FeatureFlags({ env: {} });
    for (const [flag, value] of [
      ["use_new_storage", "maybe"],
      ["use_new_storage", null],
      ["use_new_storage", ""],
      ["auto_fallback", 2],
      ["use_new_storage_sqlite", "perhaps"],
      ["rollout_percentage", -1],
      ["rollout_percentage", 100.5],
      ["rollout_percentage", "half"],
      ["rollout_percentage", ""],
      ["rollout_percentage", Number.NaN],
    ] as const) {
      expect(codeOf(() => flags.set(flag, value as never)), `${flag}=${String(value)}`).toBe(ErrorCodes.INVALID_CONFIG);
    }
    expect(flags.history()).toEqual([]);
    expect(codeOf(() => new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "200" } }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => new FeatureFlags({ env: { MDM_FEATURE_AUTO_FALLBACK: "sometimes" } }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => new FeatureFlags({ file: flagsFile("rollout_percentage: lots\n"), env: {} }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => new FeatureFlags({ file: flagsFile("- a\n- b\n"), env: {} }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => new FeatureFlags({ file: flagsFile("use_new_storage: [\n"), env: {} }))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(codeOf(() => parseFlagValue("auto_fallback", "nah", "test"))).toBe(ErrorCodes.INVALID_CONFIG);
  });

  test("an empty file is no flags; a missing file is no flags", () => {
    expect(new FeatureFlags({ file: flagsFile(""), env: {} }).fileFlags()).toEqual({});
    expect(new FeatureFlags({ file: join(tempDir(), "absent.yaml"), env: {} }).fileFlags()).toEqual({});
  });

  test("an unknown flag is refused naming the file or variable, with the nearest flag suggested", () => {
    const file = flagsFile("use_new_storgae: true\n");
    const fromFile = errorOf(() => new FeatureFlags({ file, env: {} }));
    expect(fromFile.message).toBe(`${file}: use_new_storgae is not a feature flag; did you mean use_new_storage?`);
    expect(fromFile.details).toEqual({ file, key: "use_new_storgae" });
    const nested = flagsFile("flags:\n  auto_fallbak: true\n");
    expect(errorOf(() => new FeatureFlags({ file: nested, env: {} })).details).toEqual({ file: nested, key: "flags.auto_fallbak" });
    const fromEnv = errorOf(() => new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENT: "5" } }));
    expect(fromEnv.message).toBe("MDM_FEATURE_ROLLOUT_PERCENT is not a feature flag variable; did you mean MDM_FEATURE_ROLLOUT_PERCENTAGE?");
    expect(fromEnv.details).toEqual({ variable: "MDM_FEATURE_ROLLOUT_PERCENT" });
    const value = errorOf(() => new FeatureFlags({ file: flagsFile("auto_fallback: sometimes\n"), env: {} }));
    expect(value.message).toMatch(/feature_flags\.yaml: auto_fallback must be true or false, got "sometimes"$/);
    expect(value.details.key).toBe("auto_fallback");
  });

  test("Python MDM's history and last_updated keys are accepted with or without its flags mapping; a flags key that is not one is refused", () => {
    const flags = new FeatureFlags({ file: flagsFile("use_new_storage: true\nhistory:\n- {flag: use_new_backend, old_value: false, new_value: true}\nlast_updated: '2025-07-10'\n"), env: {} });
    expect(flags.get("use_new_storage")).toBe(true);
    const file = flagsFile("flags: [use_new_storage]\n");
    expect(errorOf(() => new FeatureFlags({ file, env: {} })).details).toEqual({ file, key: "flags" });
  });

  test("the error message names the flag and the source", () => {
    try {
      new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "x" } });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain("rollout_percentage");
      expect((error as Error).message).toContain("MDM_FEATURE_ROLLOUT_PERCENTAGE");
    }
  });
});

describe("implementationFor", () => {
  test("per-type override > use_new_storage > rollout > legacy", () => {
    const flags = new FeatureFlags({ env: {} });
    expect(flags.implementationFor("duckdb", "d")).toBe("legacy");
    flags.set("rollout_percentage", 100);
    expect(flags.implementationFor("duckdb", "d")).toBe("new");
    expect(flags.implementationFor("duckdb")).toBe("new"); // 100% needs no dataset name
    flags.set("use_new_storage_duckdb", false);
    expect(flags.implementationFor("duckdb", "d")).toBe("legacy"); // override beats rollout
    flags.set("rollout_percentage", 0);
    flags.set("use_new_storage", true);
    expect(flags.implementationFor("duckdb", "d")).toBe("legacy"); // override beats use_new_storage
    expect(flags.implementationFor("sqlite", "d")).toBe("new");
    expect(flags.implementationFor("postgresql")).toBe("new");
    flags.set("use_new_storage", false);
    flags.set("use_new_storage_postgresql", true);
    expect(flags.implementationFor("postgresql")).toBe("new"); // override true beats use_new_storage false
    expect(flags.implementationFor("sqlite", "d")).toBe("legacy");
    flags.set("use_new_storage_postgresql", null as never);
    expect(flags.implementationFor("postgresql")).toBe("legacy");
    expect(codeOf(() => flags.implementationFor("mysql" as never))).toBe(ErrorCodes.BACKEND_UNAVAILABLE);
  });

  test("a partial rollout without a dataset name stays legacy", () => {
    const flags = new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "99" } });
    expect(flags.implementationFor("sqlite")).toBe("legacy");
  });
});

describe("rollout stability", () => {
  const names = Array.from({ length: 1000 }, (_, i) => `dataset_${i}`);

  test("the same dataset gets the same implementation across instances", () => {
    const a = new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "40" } });
    const b = new FeatureFlags({ file: flagsFile("rollout_percentage: 40\n"), env: {} });
    for (const name of names) expect(a.implementationFor("sqlite", name)).toBe(b.implementationFor("sqlite", name));
  });

  test("buckets are fixed across runs (values pinned, a hash change would move datasets)", () => {
    // sha256("new_storage:<type>:<name>"), first 4 bytes big-endian, mod 100.
    for (const [type, name] of [["sqlite", "iris"], ["duckdb", "titanic"], ["postgresql", "house_prices"]] as const) {
      const expected = createHash("sha256").update(`new_storage:${type}:${name}`).digest().readUInt32BE(0) % 100;
      expect(rolloutBucket(type, name)).toBe(expected);
    }
    expect(PINNED.map(([type, name]) => rolloutBucket(type, name))).toEqual(PINNED.map(([, , bucket]) => bucket));
  });

  test.each([5, 25, 50, 75, 95])("about %i percent of 1000 names get new", (pct) => {
    const flags = new FeatureFlags({ env: {} });
    flags.set("rollout_percentage", pct);
    const share = names.filter((n) => flags.implementationFor("postgresql", n) === "new").length / 10;
    expect(Math.abs(share - pct)).toBeLessThanOrEqual(5);
  });

  test("the rollout is keyed by the normalised dataset name", () => {
    const flags = new FeatureFlags({ env: { MDM_FEATURE_ROLLOUT_PERCENTAGE: "50" } });
    const differing = names.filter((n) => flags.implementationFor("sqlite", ` ${n.toUpperCase()} `) !== flags.implementationFor("sqlite", n));
    expect(differing).toEqual([]);
    // and that is not vacuous: both implementations occur
    expect(new Set(names.map((n) => flags.implementationFor("sqlite", n))).size).toBe(2);
  });

  test("raising the percentage only moves datasets from legacy to new", () => {
    const flags = new FeatureFlags({ env: {} });
    flags.set("rollout_percentage", 20);
    const at20 = new Set(names.filter((n) => flags.implementationFor("sqlite", n) === "new"));
    flags.set("rollout_percentage", 60);
    const at60 = new Set(names.filter((n) => flags.implementationFor("sqlite", n) === "new"));
    for (const n of at20) expect(at60.has(n)).toBe(true);
    expect(at60.size).toBeGreaterThan(at20.size);
  });

  test("0% and 100% are exact", () => {
    const flags = new FeatureFlags({ env: {} });
    flags.set("rollout_percentage", 0);
    expect(names.filter((n) => flags.implementationFor("duckdb", n) === "new")).toEqual([]);
    flags.set("rollout_percentage", 100);
    expect(names.filter((n) => flags.implementationFor("duckdb", n) === "legacy")).toEqual([]);
  });
});

/** Buckets computed once and pinned: the rollout must not move datasets between releases. */
const PINNED: Array<["sqlite" | "duckdb" | "postgresql", string, number]> = [
  ["sqlite", "iris", 2],
  ["sqlite", "titanic", 55],
  ["duckdb", "titanic", 7],
  ["postgresql", "house_prices", 20],
  ["postgresql", "iris", 67],
  ["duckdb", "mnist", 58],
];

describe("the MDM home file", () => {
  test("a file in a directory that does not exist yet is created by saveToFile()", () => {
    const home = join(tempDir(), "home");
    const file = join(home, "feature_flags.yaml");
    const flags = new FeatureFlags({ file, env: {} });
    flags.set("use_new_storage_sqlite", true);
    flags.saveToFile();
    expect(readFileSync(file, "utf8")).toContain("use_new_storage_sqlite: true");
  });
});

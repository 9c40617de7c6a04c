import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MDM_BIN, cleanEnv, mdm, removeDir, tempDir, type RunResult } from "./helpers.js";

/** `mdm` whose reader goes away at once: stdout is a pipe closed before the first byte is written. */
function withClosedStdout(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MDM_BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout: "", stderr }));
  });
}

const ESC = "\u001b[";

describe("mdm in scripts and pipelines", () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    home = tempDir("scripting");
    env = cleanEnv(home);
    const file = join(home, "scores.csv");
    writeFileSync(file, `id,score,label\n${Array.from({ length: 2000 }, (_, i) => `${i},${i / 7},${i % 3 === 0 ? "a" : "b"}`).join("\n")}\n`);
    // No flag set: the default backend (SQLite) served by legacy.
    const r = await mdm(["dataset", "register", "scores", file], env);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeDir(home));

  const commands = [
    ["--help"],
    ["--version"],
    ["help", "dataset", "register"],
    ["dataset", "list"],
    ["dataset", "list", "--json"],
    ["dataset", "info", "scores"],
    ["dataset", "info", "scores", "--json"],
    ["flags", "list"],
    ["flags", "get", "use_new_storage"],
    ["doctor"],
    ["doctor", "--json"],
    ["completion", "bash"],
    ["completion", "fish"],
  ];

  it.each(commands.map((c) => [c.join(" "), c]))("`mdm %s` with its reader gone ends quietly with status 0", async (_label, args) => {
    const r = await withClosedStdout(args as string[], env);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
  });

  it("`| head -1` in a shell prints the first line and no stack trace", () => {
    for (const args of [["dataset", "info", "scores"], ["completion", "fish"], ["--help"]]) {
      const r = spawnSync("bash", ["-c", `set -o pipefail; "${process.execPath}" "${MDM_BIN}" ${args.join(" ")} | head -1`], { env, encoding: "utf8" });
      expect(r.stderr, args.join(" ")).toBe("");
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(1);
    }
  });

  it("--json prints one JSON document on stdout, an error object too", async () => {
    const missing = await mdm(["dataset", "info", "nope", "--json"], env);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: "MDM_DATASET_NOT_FOUND", message: 'Dataset "nope" is not registered', exit_code: 3 } });
    expect(missing.stderr).toContain("MDM_DATASET_NOT_FOUND");
    const usage = await mdm(["dataset", "list", "--bogus", "--json"], env);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error).toMatchObject({ code: "MDM_INVALID_ARGUMENT", exit_code: 2 });
    const ok = await mdm(["dataset", "list", "--json"], env);
    const [item] = JSON.parse(ok.stdout) as Array<{ name: string; size_bytes: number; rows: number }>;
    expect(item).toMatchObject({ name: "scores", rows: 2000 });
    expect(item?.size_bytes).toBeGreaterThan(0);
  });

  it("colours only when wanted: NO_COLOR and --no-color win over FORCE_COLOR", async () => {
    const base = { ...env };
    delete base.NO_COLOR;
    const forced = await mdm(["dataset", "list"], { ...base, FORCE_COLOR: "1" });
    expect(forced.stdout).toContain(ESC); // the check can fail: colours are there when forced
    expect(forced.stdout).toContain("size");
    const noColorEnv = await mdm(["dataset", "list"], { ...base, FORCE_COLOR: "1", NO_COLOR: "1" });
    expect(noColorEnv.stdout).not.toContain(ESC);
    const noColorFlag = await mdm(["dataset", "list", "--no-color"], { ...base, FORCE_COLOR: "1" });
    expect(noColorFlag.code, noColorFlag.stderr).toBe(0);
    expect(noColorFlag.stdout).not.toContain(ESC);
    expect(noColorFlag.stdout).toMatch(/scores .*sqlite/);
  });

  it("storage compare --json prints the report on stdout (the console report on stderr), without colours under NO_COLOR", async () => {
    const base = { ...env };
    delete base.NO_COLOR;
    const coloured = await mdm(["storage", "compare", "sqlite", "--rows", "1000", "--json"], { ...base, FORCE_COLOR: "1" });
    expect(coloured.code, coloured.stderr).toBe(0);
    expect(coloured.stderr).toContain(ESC);
    const plain = await mdm(["storage", "compare", "sqlite", "--rows", "1000", "--json"], { ...base, FORCE_COLOR: "1", NO_COLOR: "1" });
    expect(plain.code, plain.stderr).toBe(0);
    const report = JSON.parse(plain.stdout) as { backendType: string; failed: number; totalTests: number };
    expect(report).toMatchObject({ backendType: "sqlite vs sqlite", failed: 0 });
    expect(report.totalTests).toBeGreaterThan(5);
    expect(plain.stderr).toContain("Storage comparison");
    expect(plain.stderr + plain.stdout).not.toContain(ESC);
  });

  it("mdm help <command path> shows that command's help; a word that is no command is a usage error", async () => {
    const r = await mdm(["help", "dataset", "register"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: mdm dataset register \[options\] <name> <path>/);
    expect(r.stdout).toContain("--dtype");
    const migrate = await mdm(["help", "migrate"], env);
    expect(migrate.stdout).toMatch(/^Usage: mdm migrate/);
    const bad = await mdm(["help", "dataset", "nope"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("dataset nope is not a command");
  });

  it("mdm completion bash completes commands, subcommands and options in bash", async () => {
    const script = (await mdm(["completion", "bash"], env)).stdout;
    const file = join(home, "mdm.bash");
    writeFileSync(file, script);
    const complete = (line: string) => {
      const r = spawnSync(
        "bash",
        ["-c", `source "${file}"; read -ra COMP_WORDS <<< "$LINE"; [[ "$LINE" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _mdm_complete; echo "\${COMPREPLY[*]}"`],
        { env: { ...env, LINE: line }, encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      return r.stdout.trim();
    };
    expect(complete("mdm da")).toBe("dataset");
    expect(complete("mdm dataset reg")).toBe("register");
    expect(complete("mdm dataset register name file.csv --dt")).toBe("--dtype");
    expect(complete("mdm migrate sales --to")).toBe("--to");
    expect(complete("mdm flags ").split(" ")).toEqual(expect.arrayContaining(["list", "get", "set", "unset"]));
    const zsh = (await mdm(["completion", "zsh"], env)).stdout;
    expect(zsh).toMatch(/^#compdef mdm/);
    expect(zsh).toContain("bashcompinit");
    const fish = (await mdm(["completion", "fish"], env)).stdout;
    expect(fish).toContain("complete -c mdm -n '__fish_use_subcommand' -a dataset");
    expect((await mdm(["completion", "tcsh"], env)).code).toBe(2);
  });
});

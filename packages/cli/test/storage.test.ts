import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

describe("mdm storage", () => {
  let home: string;
  let out: string;
  beforeAll(() => {
    home = tempDir("storage-home");
    out = tempDir("storage-out");
  });
  afterAll(() => {
    removeDir(home);
    removeDir(out);
  });

  it("compare runs the comparison tester (legacy vs new), writes JSON and Markdown, touches nothing in the home", async () => {
    const r = await mdm(["storage", "compare", "sqlite", "--rows", "1000", "--json", join(out, "cmp.json"), "--markdown", join(out, "cmp.md")], cleanEnv(home));
    expect(r.stderr).toMatch(/PASS Engine creation/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Storage comparison: sqlite \(legacy\) \(baseline\) vs sqlite \(new\) \(candidate\)/);
    const summary = JSON.parse(readFileSync(join(out, "cmp.json"), "utf8"));
    expect(summary.failed).toBe(0);
    expect(summary.totalTests).toBeGreaterThan(5);
    expect(readFileSync(join(out, "cmp.md"), "utf8")).toMatch(/^# Storage comparison/);
    expect(existsSync(join(home, "datasets")) ? readdirSync(join(home, "datasets")) : []).toEqual([]);
  });

  it("validate runs the StorageValidator on fresh backends and reports passed, failed and warnings", async () => {
    const r = await mdm(["storage", "validate", "sqlite:new", "--rows", "2000", "--json"], cleanEnv(home));
    const report = JSON.parse(r.stdout);
    expect(report.backend).toBe("sqlite (new)");
    expect(report.passed.length).toBeGreaterThan(10);
    expect(report.failed).toEqual([]);
    expect(Array.isArray(report.warnings)).toBe(true);
    expect(r.code).toBe(0);
    const human = await mdm(["storage", "validate", "sqlite:legacy", "--rows", "2000"], cleanEnv(home));
    expect(human.stdout).toMatch(/^Validation of sqlite \(legacy\)/);
    expect(human.stdout).toMatch(/\d+ passed, \d+ failed, \d+ warnings/);
    expect([0, 1]).toContain(human.code);
    expect(existsSync(join(home, "datasets")) ? readdirSync(join(home, "datasets")) : []).toEqual([]);
  });
});

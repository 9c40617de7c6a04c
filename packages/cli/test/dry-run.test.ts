import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

describe("mdm dataset register --dry-run", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home);

  beforeAll(() => {
    home = tempDir("dry-run-home");
    files = tempDir("dry-run-files");
    const lines = ["id,zip,x,day,flag"];
    for (let i = 0; i < 50_000; i++) lines.push(`${i},${String(i % 1000).padStart(5, "0")},${i === 49_999 ? "NaN" : i / 4},2024-01-${String((i % 28) + 1).padStart(2, "0")},${i % 2 === 0}`);
    writeFileSync(join(files, "data.csv"), `${lines.join("\n")}\n`);
  });

  afterAll(() => {
    removeDir(home);
    removeDir(files);
  });

  it("prints each column's type, counts and first values, and what the default backend (SQLite) could not hold; writes nothing", async () => {
    const r = await mdm(["dataset", "register", "dry", join(files, "data.csv"), "--dry-run"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dry (dry run: nothing written) into sqlite");
    expect(r.stdout).toContain("50,000 rows");
    expect(r.stdout).toMatch(/zip\s*│\s*text\s*│\s*0\s*│[^│]*│\s*"00000", "00001", "00002"/);
    expect(r.stdout).toMatch(/x\s*│\s*float64/);
    expect(r.stdout).toMatch(/sqlite cannot hold x: 1 NaN -> NULL/);
    expect(JSON.parse((await mdm(["dataset", "list", "--json"], env())).stdout)).toEqual([]);
    expect(existsSync(join(home, "datasets")) ? readdirSync(join(home, "datasets")) : []).toEqual([]);
  });

  it("--json gives the same as data; into DuckDB a NaN is no problem", async () => {
    const r = await mdm(["dataset", "register", "dry", join(files, "data.csv"), "--dry-run", "--json", "--backend", "duckdb"], env());
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: "dry", backend: "duckdb", dry_run: true });
    expect(out.tables[0].rows).toBe(50_000);
    expect(out.tables[0].columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`)).toEqual(["id:int64", "zip:text", "x:float64", "day:date", "flag:boolean"]);
    expect(out.tables[0].columns[3].samples).toEqual(["2024-01-01", "2024-01-02", "2024-01-03"]);
    expect(out.tables[0].unsupported).toEqual({});
    expect(JSON.parse((await mdm(["dataset", "list", "--json"], env())).stdout)).toEqual([]);
  });
});

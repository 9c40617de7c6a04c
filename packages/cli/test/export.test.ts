import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { EXAMPLE_DATASET, cleanEnv, datasetChecksums, mdm, removeDir, tempDir } from "./helpers.js";

const TRICKY_CSV = [
  "id,zip,big,f,flag,d,ts,tstz,txt",
  '1,00123,9223372036854775807,1.0,true,2024-02-29,2024-01-01 10:00:00.123456,2024-01-01T10:00:00+02:00,""',
  "2,12345,-9223372036854775808,,false,,2024-01-01T00:00:00,2024-01-01T00:00:00Z,plain",
  '3,,0,-1e-300,,1999-12-31,,,"multi\nline, ""quoted"""',
  "4,99999,42,NaN,true,2000-01-01,2000-01-01 00:00,,Infinity is text here",
  "5,00000,7,-Infinity,false,2000-01-02,2000-01-02 23:59:59.999999,2000-01-02T23:59:59.999999-05:30,ünïcødé",
].join("\n");

describe("mdm dataset export, then register the export again", () => {
  let home: string;
  let out: string;
  const env = () => cleanEnv(home);

  beforeAll(async () => {
    home = tempDir("export-home");
    out = tempDir("export-out");
    writeFileSync(join(out, "tricky.csv"), `${TRICKY_CSV}\n`);
    expect((await mdm(["dataset", "register", "orig", EXAMPLE_DATASET, "--target", "churned", "--id-columns", "id"], env())).code).toBe(0);
    expect((await mdm(["dataset", "register", "tricky", join(out, "tricky.csv"), "--backend", "duckdb"], env())).code).toBe(0);
  });

  afterAll(() => {
    removeDir(home);
    removeDir(out);
  });

  it.each(["csv", "parquet", "json"])("%s: the re-registered dataset has identical rows (checksums) and types", async (format) => {
    const dir = join(out, `orig-${format}`);
    const r = await mdm(["dataset", "export", "orig", "--format", format, "--output", dir, "--json"], env());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const written = JSON.parse(r.stdout);
    expect(written.files.map((f: { table: string; rows: number }) => [f.table, f.rows])).toEqual([
      ["test", 100],
      ["train", 400],
    ]);
    expect(existsSync(join(dir, `train.${format}`))).toBe(true);
    const again = await mdm(["dataset", "register", `re_${format}`, dir, "--target", "churned", "--id-columns", "id"], env());
    expect(again.code).toBe(0);
    const sqlite = new SqliteStorageBackend({ homeDir: home });
    try {
      const original = await datasetChecksums(sqlite, "orig");
      expect(original.train?.count).toBe(400);
      expect(await datasetChecksums(sqlite, `re_${format}`)).toEqual(original);
    } finally {
      await sqlite.close();
    }
  });

  it.each(["csv", "parquet"])("%s: NULL vs empty string, NaN, infinities, 64-bit extremes, time zones survive export and re-registration", async (format) => {
    const dir = join(out, `tricky-${format}`);
    const r = await mdm(["dataset", "export", "tricky", "--format", format, "--output", dir], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(dir, `data.${format}`));
    const again = await mdm(["dataset", "register", `tricky_${format}`, join(dir, `data.${format}`), "--backend", "duckdb"], env());
    expect(again.stderr).not.toMatch(/error/);
    expect(again.code).toBe(0);
    const duck = new DuckdbStorageBackend({ homeDir: home });
    try {
      const original = await datasetChecksums(duck, "tricky");
      expect(original.data?.columns).toBe("id:int64,zip:text,big:int64,f:float64,flag:boolean,d:date,ts:timestamp,tstz:timestamptz,txt:text");
      expect(await datasetChecksums(duck, `tricky_${format}`)).toEqual(original);
    } finally {
      await duck.close();
    }
  });

  it("writes CSV that says what it holds: NULL empty, empty string quoted, floats with a point (and their exponent)", () => {
    const text = readFileSync(join(out, "tricky-csv", "data.csv"), "utf8");
    const lines = text.split("\n");
    expect(lines[0]).toBe("id,zip,big,f,flag,d,ts,tstz,txt");
    expect(lines[1]).toBe('1,00123,9223372036854775807,1.0,true,2024-02-29,2024-01-01 10:00:00.123456,2024-01-01T08:00:00.000000Z,""');
    expect(text).toContain("3,,0,-1e-300,,1999-12-31,,,");
    expect(text).toContain(",NaN,");
    expect(text).toContain(",-Infinity,");
  });

  it("--table exports one table; an unknown table is exit code 3", async () => {
    const dir = join(out, "one");
    const r = await mdm(["dataset", "export", "orig", "--table", "test", "--output", dir], env());
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "test.csv"))).toBe(true);
    expect(existsSync(join(dir, "train.csv"))).toBe(false);
    const missing = await mdm(["dataset", "export", "orig", "--table", "nope", "--output", dir], env());
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no table "nope"/);
  });
});

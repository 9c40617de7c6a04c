import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendOfType, cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, shown, tempDir } from "./helpers.js";

// Values a target cannot hold (NaN into SQLite, -0.0 into SQLite and DuckDB, U+0000 in text into
// PostgreSQL): refused by default, naming the line and the option; coerced and counted with it.
const pg = postgresEnv();
const pgSkip = await postgresAvailable();

// Line 1 header, line 2-3 one record (a quoted newline), line 4 blank, then NaN on line 5, -0.0 on 6, Infinity on 7.
const SPECIALS_CSV = 'id,x,note\n1,1.5,"two\nlines"\n\n2,NaN,a\n3,-0.0,b\n4,Infinity,c\n5,-2.5,d\n';
const SPECIALS_JSONL = '{"id":1,"x":1.5}\n\n{"id":2,"x":NaN}\n{"id":3,"x":-0.0}\n{"id":4,"x":Infinity}\n{"id":5,"x":-2.5}\n';

describe("values the target cannot hold", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home, pg.env);

  const backendOf = (type: string) => backendOfType(type, home, pg.config);

  async function column(type: string, name: string, col: string): Promise<string[]> {
    const backend = await backendOf(type);
    try {
      await backend.init();
      const df = await backend.readTable("data", { engine: await backend.getDatasetEngine(name), orderBy: ["id"] });
      return df.rows.map((row) => shown((row as Record<string, unknown>)[col]));
    } finally {
      await backend.close();
    }
  }

  const registered = async (name: string) => JSON.parse((await mdm(["dataset", "list", "--json"], env())).stdout).some((d: { name: string }) => d.name === name);

  beforeAll(() => {
    home = tempDir("coerce-home");
    files = tempDir("coerce-files");
    writeFileSync(join(files, "specials.csv"), SPECIALS_CSV);
    writeFileSync(join(files, "specials.jsonl"), SPECIALS_JSONL);
    writeFileSync(join(files, "nul.csv"), 'id,s\n1,plain\n2,"a\u0000b"\n');
  });

  afterAll(async () => {
    if (!pgSkip) await dropPostgresDatabases(pg.config);
    removeDir(home);
    removeDir(files);
  });

  it("with no flag set (SQLite, legacy), NaN is refused naming the file line, column, value and option; nothing is registered", async () => {
    const r = await mdm(["dataset", "register", "nan_default", join(files, "specials.csv")], env());
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("specials.csv, line 5: column \"x\" of table \"data\" holds NaN, which sqlite cannot hold");
    expect(r.stderr).toContain("--coerce-unsupported to store NULL instead");
    expect(r.stderr).toContain("MDM_UNSUPPORTED_VALUE");
    expect(await registered("nan_default")).toBe(false);
    expect(existsSync(join(home, "datasets", "nan_default"))).toBe(false);
  });

  it.each([
    ["duckdb", "specials.csv", 'line 6: column "x" of table "data" holds -0.0, which duckdb cannot hold', "0.0"],
    ["sqlite", "specials.jsonl", 'line 3: column "x" of table "data" holds NaN, which sqlite cannot hold', "NULL"],
  ])("into %s from %s the refusal names the line", async (backend, file, message, becomes) => {
    const r = await mdm(["dataset", "register", `refused_${backend}`, join(files, file), "--backend", backend], env());
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(`--coerce-unsupported to store ${becomes} instead`);
    expect(await registered(`refused_${backend}`)).toBe(false);
  });

  const expected: Record<string, { counts: Record<string, Record<string, number>>; x: string[] }> = {
    sqlite: { counts: { x: { nan: 1, negativeZero: 1 } }, x: ["num:1.5", "NULL", "num:0", "num:Infinity", "num:-2.5"] },
    duckdb: { counts: { x: { negativeZero: 1 } }, x: ["num:1.5", "num:NaN", "num:0", "num:Infinity", "num:-2.5"] },
    postgresql: { counts: {}, x: ["num:1.5", "num:NaN", "num:-0", "num:Infinity", "num:-2.5"] },
  };
  const engines = pgSkip ? ["sqlite", "duckdb"] : ["sqlite", "duckdb", "postgresql"];
  it.each(engines.flatMap((e) => [[e, "specials.csv"], [e, "specials.jsonl"]]))("--coerce-unsupported into %s (%s): each value the nearest it holds, counted in the summary, --json and dataset info", async (engine, file) => {
    const name = `coerced_${engine}_${file.replace(".", "_")}`;
    const r = await mdm(["dataset", "register", name, join(files, file), "--backend", engine, "--coerce-unsupported", "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const want = expected[engine] as (typeof expected)[string];
    const counts = Object.keys(want.counts).length > 0 ? { data: want.counts } : undefined;
    expect(JSON.parse(r.stdout).coerced).toEqual(counts);
    expect(await column(engine, name, "x")).toEqual(want.x);
    const info = await mdm(["dataset", "info", name, "--json"], env());
    expect(JSON.parse(info.stdout).coerced).toEqual(counts);
    if (counts) {
      const text = await mdm(["dataset", "info", name], env());
      expect(text.stdout).toMatch(/coerced data\.x: 1 -0\.0 -> 0\.0/);
    }
  });

  it.skipIf(pgSkip)("into PostgreSQL, a U+0000 in text is refused naming line 3; coerced, it is removed and counted", async () => {
    const refused = await mdm(["dataset", "register", "nul_pg", join(files, "nul.csv"), "--backend", "postgresql"], env());
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain('nul.csv, line 3: column "s" of table "data" holds "a\\u0000b", which postgresql cannot hold');
    const r = await mdm(["dataset", "register", "nul_pg", join(files, "nul.csv"), "--backend", "postgresql", "--coerce-unsupported", "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).coerced).toEqual({ data: { s: { nulInText: 1 } } });
    expect(await column("postgresql", "nul_pg", "s")).toEqual(['text:"plain"', 'text:"ab"']);
  });

  it("a 100,000-row file: the refusal names line 100,001, where the one NaN is", async () => {
    const lines = ["id,x"];
    for (let i = 0; i < 100_000; i++) lines.push(`${i},${i === 99_999 ? "NaN" : (i + 0.5).toString()}`);
    writeFileSync(join(files, "big.csv"), `${lines.join("\n")}\n`);
    const r = await mdm(["dataset", "register", "big", join(files, "big.csv")], env());
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("big.csv, line 100001:");
  });

  it.skipIf(pgSkip)("migrate: a PostgreSQL dataset with NaN and -0.0 is refused into SQLite naming the row key and the option; with --coerce-unsupported it is verified by checksum against the coerced source", async () => {
    const reg = await mdm(["dataset", "register", "mig", join(files, "specials.csv"), "--backend", "postgresql", "--id-columns", "id"], env());
    expect(reg.code, reg.stderr).toBe(0);
    const refused = await mdm(["migrate", "mig", "--to", "sqlite"], env());
    expect(refused.code).toBe(8);
    expect(refused.stderr).toMatch(/table "data", column "x", the row with id = 2 \(row \d\), the first such: .*--coerce-unsupported/);
    const r = await mdm(["migrate", "mig", "--to", "sqlite", "--coerce-unsupported", "--verify", "checksum", "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const [result] = JSON.parse(r.stdout);
    expect(result.verification.passed).toBe(true);
    expect(result.coerced).toEqual({ data: { x: { nan: 1, negativeZero: 1 } } });
    expect(await column("sqlite", "mig", "x")).toEqual(expected.sqlite?.x);
    const info = JSON.parse((await mdm(["dataset", "info", "mig", "--json"], env())).stdout);
    expect(info.migration_coerced).toEqual({ data: { x: { nan: 1, negativeZero: 1 } } });
  });
});

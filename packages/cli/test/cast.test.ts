import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

// `mdm migrate --cast`: a Python-style SQLite dataset (timestamps kept as TEXT, booleans as INTEGER 0/1), registered
// with no flag set, moved to DuckDB and PostgreSQL with real timestamp and boolean columns, verified by checksum.
const pg = postgresEnv();
const pgSkip = await postgresAvailable();
const ROWS = 100_000;

describe("mdm migrate --cast", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home, pg.env);

  beforeAll(() => {
    home = tempDir("cast-home");
    files = tempDir("cast-files");
    const lines = ["id,created,flag"];
    for (let i = 0; i < ROWS; i++) lines.push(`${i},2024-03-${String((i % 28) + 1).padStart(2, "0")} 0${i % 10}:15:00,${i % 2}`);
    writeFileSync(join(files, "py.csv"), `${lines.join("\n")}\n`);
    // Row 50,001 holds a time that does not parse.
    writeFileSync(join(files, "bad.csv"), `${lines.map((l, i) => (i === 50_001 ? `${i - 1},not a time,1` : l)).join("\n")}\n`);
  });

  afterAll(async () => {
    removeDir(home);
    removeDir(files);
    if (!pgSkip) await dropPostgresDatabases(pg.config);
  });

  const register = async (name: string, file: string) => {
    // The Python era's columns: TEXT and INTEGER in a SQLite file (no flag set: legacy SQLite).
    const r = await mdm(["dataset", "register", name, join(files, file), "--dtype", "created=text", "--dtype", "flag=int64", "--id-columns", "id"], env());
    expect(r.code, r.stderr).toBe(0);
  };

  for (const to of ["duckdb", "postgresql"]) {
    it.skipIf(to === "postgresql" && pgSkip)(`SQLite TEXT timestamps and 0/1 integers become timestamp and boolean columns in ${to}, verified`, async () => {
      const name = `py_${to}`;
      await register(name, "py.csv");
      const r = await mdm(["migrate", name, "--to", to, "--cast", "data.created=timestamp", "--cast", "data.flag=boolean", "--verify", "checksum", "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      const [result] = JSON.parse(r.stdout);
      expect(result.verification.passed).toBe(true);
      const info = JSON.parse((await mdm(["dataset", "info", name, "--json"], env())).stdout);
      expect(info.backend).toBe(to);
      const columns = Object.fromEntries(info.tables[0].columns.map((c: { name: string }) => [c.name, c]));
      expect(columns.created).toMatchObject({ type: "timestamp", type_origin: "cast", type_option: "--cast data.created=timestamp", converted_from: "text" });
      expect(columns.flag).toMatchObject({ type: "boolean", type_origin: "cast", converted_from: "int64" });
      expect(columns.id).toMatchObject({ type: "int64", type_origin: "inferred" });
      const out = join(files, `out-${to}`);
      expect((await mdm(["dataset", "export", name, "--output", out], env())).code).toBe(0);
      const lines = readFileSync(join(out, "data.csv"), "utf8").trim().split("\n");
      expect(lines.length).toBe(ROWS + 1);
      // (Each engine's CSV writer: DuckDB's core writer gives the six fraction digits, PostgreSQL's COPY none.)
      expect(lines[1]).toMatch(/^0,2024-03-01 00:15:00(?:\.000000)?,false$/);
      expect(lines[2]).toMatch(/^1,2024-03-02 01:15:00(?:\.000000)?,true$/);
    });
  }

  it("a value that does not parse fails the migration naming the row; nothing moves; with --coerce-unsupported it is NULL and counted", async () => {
    await register("pybad", "bad.csv");
    const refused = await mdm(["migrate", "pybad", "--to", "duckdb", "--cast", "data.created=timestamp"], env());
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain('column "created", row 50001: "not a time" is not a timestamp');
    expect(refused.stderr).toContain("--coerce-unsupported");
    expect(JSON.parse((await mdm(["dataset", "info", "pybad", "--json"], env())).stdout).backend).toBe("sqlite");
    const r = await mdm(["migrate", "pybad", "--to", "duckdb", "--cast", "data.created=timestamp", "--coerce-unsupported", "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const [result] = JSON.parse(r.stdout);
    expect(result.verification.passed).toBe(true);
    expect(result.coerced).toEqual({ data: { created: { unconverted: 1 } } });
  });

  it("refuses a cast that is not exact, a column that is none, and a malformed one, before anything is copied", async () => {
    await register("pyargs", "py.csv");
    for (const [cast, text] of [
      ["data.created=blob", "No exact conversion from text to blob"],
      ["data.nope=int", 'no column "nope"'],
      ["created=timestamp", "--cast takes table.column=type"],
    ]) {
      const r = await mdm(["migrate", "pyargs", "--to", "duckdb", "--cast", cast as string], env());
      expect(r.code, `${cast}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toContain(text);
    }
    expect(JSON.parse((await mdm(["dataset", "info", "pyargs", "--json"], env())).stdout).backend).toBe("sqlite");
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

/** `--dtype`, `--parse-dates`, `--date-format` at registration, with no flag set (SQLite, legacy) and into DuckDB. */
describe("mdm dataset register --dtype / --parse-dates", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home);
  const ROWS = 200_000;

  beforeAll(() => {
    home = tempDir("dtype-home");
    files = tempDir("dtype-files");
    const lines = ["id,zip,flag,price,us,when"];
    for (let i = 0; i < ROWS; i++) {
      const day = String((i % 28) + 1).padStart(2, "0");
      lines.push(`${i},${String(10000 + (i % 90000))},${i % 2},${i % 100}.${String(i % 100).padStart(2, "0")},01/${day}/2024,2024-02-${day}${i % 3 === 0 ? "" : " 10:30:00"}`);
    }
    writeFileSync(join(files, "d.csv"), `${lines.join("\n")}\n`);
    // One value that is no date in its format, on line 100,001.
    writeFileSync(join(files, "bad.csv"), `${lines.map((l, i) => (i === 100_000 ? l.replace(/01\/(\d\d)\/2024/, "13/$1/2024") : l)).join("\n")}\n`);
  });

  afterAll(() => {
    removeDir(home);
    removeDir(files);
  });

  const args = ["--dtype", "zip=text", "--dtype", "flag=bool", "--dtype", "price=decimal(6,2)", "--dtype", "when=timestamp", "--parse-dates", "us", "--date-format", "%m/%d/%Y"];

  for (const backend of [undefined, "duckdb"]) {
    it(`chosen types are the columns' types, each value converted, and dataset info says why (${backend ?? "no flag set: sqlite"})`, async () => {
      const name = `typed_${backend ?? "default"}`;
      const r = await mdm(["dataset", "register", name, join(files, "d.csv"), ...args, ...(backend ? ["--backend", backend] : []), "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse((await mdm(["dataset", "info", name, "--json"], env())).stdout);
      const columns = Object.fromEntries(info.tables[0].columns.map((c: { name: string }) => [c.name, c]));
      expect(columns.id).toMatchObject({ type: "int64", type_origin: "inferred" });
      expect(columns.zip).toMatchObject({ type: "text", type_origin: "chosen", type_option: "--dtype zip=text", converted_from: "text" });
      expect(columns.flag).toMatchObject({ type: "boolean", type_origin: "chosen" });
      expect(columns.price).toMatchObject({ type: "decimal", type_origin: "chosen" });
      expect(columns.us).toMatchObject({ type: "date", type_origin: "chosen", type_option: "--parse-dates us --date-format %m/%d/%Y" });
      expect(columns.when).toMatchObject({ type: "timestamp", type_origin: "chosen" });
      const out = join(files, `out-${name}`);
      expect((await mdm(["dataset", "export", name, "--output", out], env())).code).toBe(0);
      const lines = readFileSync(join(out, "data.csv"), "utf8").trim().split("\n");
      expect(lines.length).toBe(ROWS + 1);
      expect(lines[1]).toBe("0,10000,false,0.00,2024-01-01,2024-02-01 00:00:00.000000");
      expect(lines[2]).toBe("1,10001,true,1.01,2024-01-02,2024-02-02 10:30:00.000000");
      const text = (await mdm(["dataset", "info", name], env())).stdout;
      expect(text).toMatch(/us\s*│\s*date\s*│\s*chosen: --parse-dates us --date-format %m\/%d\/%Y \(from text\)/);
    });
  }

  it("a value that does not convert is refused naming its line and the option; --coerce-unsupported stores NULL and counts it", async () => {
    const refused = await mdm(["dataset", "register", "bad", join(files, "bad.csv"), ...args], env());
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain("line 100001");
    expect(refused.stderr).toContain('column "us"');
    expect(refused.stderr).toContain('"13/');
    expect(refused.stderr).toContain("--coerce-unsupported");
    expect(JSON.parse((await mdm(["dataset", "list", "--json"], env())).stdout).map((d: { name: string }) => d.name)).not.toContain("bad");
    const coerced = await mdm(["dataset", "register", "bad", join(files, "bad.csv"), ...args, "--coerce-unsupported", "--json"], env());
    expect(coerced.code, coerced.stderr).toBe(0);
    expect(JSON.parse(coerced.stdout).coerced).toEqual({ data: { us: { unconverted: 1 } } });
  });

  it("refuses, before reading, a type that is none, a column that is no column and a conversion that is not exact", async () => {
    for (const [extra, text] of [
      [["--dtype", "zip=integer64"], "Unknown column type"],
      [["--dtype", "nope=int"], 'no table has a column "nope"'],
      [["--date-format", "%m/%d/%Y"], "--date-format applies to the columns of --parse-dates"],
      [["--date-format", "%m/%q", "--parse-dates", "us"], "%q is not a directive"],
    ] as const) {
      const r = await mdm(["dataset", "register", "no", join(files, "d.csv"), ...extra], env());
      expect(r.code, `${extra.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(text);
    }
  });
});

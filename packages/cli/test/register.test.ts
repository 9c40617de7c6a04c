import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend, acquireInstance } from "@mdm/storage-duckdb";
import { isSqlDate, isSqlTimestamp, quoteLiteral } from "@mdm/storage-core";
import { EXAMPLE_DATASET, cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

// Values that a lossy loader would change: 64-bit extremes, ZIP codes with leading zeros, NULL next to the
// empty string, a float with more digits than a double keeps, an integer beyond 64 bits.
const FIDELITY_CSV = [
  "id,zip,big,f,flag,d,ts,tstz,txt,long_float,huge_int,phone",
  '1,00123,9223372036854775807,1.5,true,2024-02-29,2024-01-01 10:00:00.123456,2024-01-01T10:00:00+02:00,"",0.12345678901234567890,123456789012345678901234,+33123',
  "2,12345,-9223372036854775808,,false,,2024-01-01T00:00:00,2024-01-01T00:00:00Z,plain,1.5,1,+44",
  '3,,0,-2.5e-7,,1999-12-31,,,"x,""y""",2.5,2,0044',
].join("\n");

describe("mdm dataset register", () => {
  let home: string;
  let files: string;
  const env = () => cleanEnv(home);

  beforeAll(async () => {
    home = tempDir("register-home");
    files = tempDir("register-files");
    writeFileSync(join(files, "fidelity.csv"), `${FIDELITY_CSV}\n`);
    // Parquet and JSON files made by DuckDB from the example CSV.
    const lease = await acquireInstance(":memory:", {});
    const c = await lease.instance.connect();
    const src = quoteLiteral(join(EXAMPLE_DATASET, "train.csv"));
    await c.run(`COPY (SELECT * FROM read_csv(${src}, types={'zip_code': 'VARCHAR'})) TO ${quoteLiteral(join(files, "train.parquet"))} (FORMAT PARQUET)`);
    await c.run(`COPY (SELECT * FROM read_csv(${src}, types={'zip_code': 'VARCHAR'})) TO ${quoteLiteral(join(files, "train.json"))} (FORMAT JSON)`);
    c.closeSync();
    await lease.release();
    const csv = readFileSync(join(EXAMPLE_DATASET, "train.csv"), "utf8");
    writeFileSync(join(files, "train.csv.gz"), gzipSync(csv));
    writeFileSync(join(files, "train.tsv"), csv.replace(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/gm, "\t"));
    writeFileSync(join(files, "train.tsv.gz"), gzipSync(readFileSync(join(files, "train.tsv"))));
    writeFileSync(join(files, "semicolon.csv"), "a;b\n1;x\n2;y\n");
  });

  afterAll(() => {
    removeDir(home);
    removeDir(files);
  });

  it("infers types without losing anything (ZIP codes stay text, NULL is not the empty string)", async () => {
    const r = await mdm(["dataset", "register", "fidelity", join(files, "fidelity.csv"), "--backend", "duckdb", "--json"], env());
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.tables).toHaveLength(1);
    expect(info.tables[0].name).toBe("data");
    const types = Object.fromEntries(info.tables[0].columns.map((c: { name: string; type: string }) => [c.name, c.type]));
    expect(types).toEqual({
      id: "int64",
      zip: "text",
      big: "int64",
      f: "float64",
      flag: "boolean",
      d: "date",
      ts: "timestamp",
      tstz: "timestamptz",
      txt: "text",
      long_float: "text",
      huge_int: "text",
      phone: "text",
    });
    const backend = new DuckdbStorageBackend({ homeDir: home });
    try {
      const df = await backend.readTable("data", { engine: await backend.getDatasetEngine("fidelity"), orderBy: ["id"] });
      const [a, b, c] = df.rows as Array<Record<string, unknown>>;
      expect(a?.zip).toBe("00123");
      expect(c?.zip).toBeNull();
      expect(a?.big).toBe(9223372036854775807n);
      expect(b?.big).toBe(-9223372036854775808n);
      expect(b?.f).toBeNull();
      expect(c?.f).toBe(-2.5e-7);
      expect(a?.flag).toBe(true);
      expect(c?.flag).toBeNull();
      expect(isSqlDate(a?.d) && a.d.toString()).toBe("2024-02-29");
      expect(isSqlTimestamp(a?.ts) && a.ts.toString()).toBe("2024-01-01 10:00:00.123456");
      expect(isSqlTimestamp(a?.tstz) && a.tstz.toString()).toBe("2024-01-01 08:00:00.000000");
      expect(a?.txt).toBe("");
      expect(c?.txt).toBe('x,"y"');
      expect(a?.long_float).toBe("0.12345678901234567890");
      expect(a?.huge_int).toBe("123456789012345678901234");
      expect(a?.phone).toBe("+33123");
      expect(c?.phone).toBe("0044");
    } finally {
      await backend.close();
    }
  });

  it.each(["sqlite", "duckdb"])("refuses a value %s cannot hold (-0.0) with exit code 8 and registers nothing", async (backendType) => {
    writeFileSync(join(files, "negative-zero.csv"), "id,f\n1,1.5\n2,-0.0\n");
    const r = await mdm(["dataset", "register", "fidelity_sqlite", join(files, "negative-zero.csv"), "--backend", backendType], env());
    expect(r.code).toBe(8);
    // One line, the last one on stderr (progress lines come before it).
    expect(r.stderr).toMatch(/(^|\n)mdm: error: [^\n]*-0\.0[^\n]*\[MDM_UNSUPPORTED_VALUE\]\n$/);
    expect(r.stderr.match(/error/g)).toHaveLength(1);
    expect(existsSync(join(home, "config", "datasets", "fidelity_sqlite.yaml"))).toBe(false);
    const dir = join(home, "datasets", "fidelity_sqlite");
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    const backend = backendType === "sqlite" ? new SqliteStorageBackend({ homeDir: home }) : new DuckdbStorageBackend({ homeDir: home });
    try {
      expect(await backend.datasetExists("fidelity_sqlite")).toBe(false);
    } finally {
      await backend.close();
    }
  });

  it.each([
    ["csv.gz", "train.csv.gz"],
    ["tsv", "train.tsv"],
    ["tsv.gz", "train.tsv.gz"],
    ["parquet", "train.parquet"],
    ["json", "train.json"],
  ])("registers a %s file as table data with the same rows and types as the CSV", async (format, file) => {
    const name = `fmt_${format.replace(/\W/g, "_")}`;
    const r = await mdm(["dataset", "register", name, join(files, file), "--target", "churned", "--id-columns", "id", "--json"], env());
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.tables.map((t: { name: string }) => t.name)).toEqual(["data"]);
    expect(info.tables[0].rows).toBe(400);
    const types = Object.fromEntries(info.tables[0].columns.map((c: { name: string; type: string }) => [c.name, c.type]));
    expect(types.zip_code).toBe("text");
    expect(types.id).toBe("int64");
    expect(types.income).toBe("float64");
    expect(types.signup_date).toBe("date");
    expect(types.last_login).toBe("timestamp");
    expect(types.active).toBe("boolean");
    expect(info.target_column).toBe("churned");
    expect(info.id_columns).toEqual(["id"]);
    expect(info.problem_type).toBe("binary_classification");
  });

  it("a JSON array of objects (BOM, indented, gzip) registers the rows and types of the same data as JSON lines; an array with a scalar among its objects still registers as one JSON column", async () => {
    const lease = await acquireInstance(":memory:", {});
    const c = await lease.instance.connect();
    const array = join(files, "array-raw.json");
    await c.run(`COPY (SELECT * FROM read_json_auto(${quoteLiteral(join(files, "train.json"))})) TO ${quoteLiteral(array)} (FORMAT JSON, ARRAY true)`);
    c.closeSync();
    await lease.release();
    const text = readFileSync(array, "utf8");
    expect(text.trimStart().startsWith("[")).toBe(true);
    writeFileSync(join(files, "array.json"), `\uFEFF \n  ${text}`);
    writeFileSync(join(files, "array.json.gz"), gzipSync(readFileSync(join(files, "array.json"))));
    writeFileSync(join(files, "mixed.json"), '[{"a":1},{"a":2},5]');
    const rowsOf = async (name: string) => {
      const backend = new SqliteStorageBackend({ homeDir: home });
      try {
        return (await backend.readTable("data", { engine: await backend.getDatasetEngine(name), orderBy: ["id"] })).rows;
      } finally {
        await backend.close();
      }
    };
    const infos: Record<string, { tables: Array<{ rows: number; columns: unknown[] }> }> = {};
    for (const [name, file] of [["lines_j", "train.json"], ["array_j", "array.json"], ["array_gz", "array.json.gz"]] as const) {
      const r = await mdm(["dataset", "register", name, join(files, file), "--backend", "sqlite", "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      infos[name] = JSON.parse(r.stdout);
    }
    expect(infos.array_j!.tables[0]!.rows).toBe(400);
    expect(infos.array_j!.tables[0]!.columns).toEqual(infos.lines_j!.tables[0]!.columns);
    expect(infos.array_gz!.tables[0]!.columns).toEqual(infos.lines_j!.tables[0]!.columns);
    const lines = await rowsOf("lines_j");
    expect(await rowsOf("array_j")).toEqual(lines);
    expect(await rowsOf("array_gz")).toEqual(lines);
    const mixed = await mdm(["dataset", "register", "mixed_j", join(files, "mixed.json"), "--backend", "sqlite", "--json"], env());
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(JSON.parse(mixed.stdout).tables[0]).toMatchObject({ rows: 3, columns: [{ name: "json" }] });
  });

  it.each(["sqlite", "duckdb"])("JSON integers DuckDB reads as HUGEINT are int64 when every value fits (%s); one beyond int64 keeps the column decimal", async (backendType) => {
    writeFileSync(join(files, "signs.json"), JSON.stringify([{ id: 1, n: -5 }, { id: 2, n: 9223372036854775807n.toString() }, { id: 3, n: null }]).replace(/"(\d+)"/, "$1"));
    writeFileSync(join(files, "wide.json"), '[{"id":1,"n":-5},{"id":2,"n":18446744073709551615}]');
    const r = await mdm(["dataset", "register", `signs_${backendType}`, join(files, "signs.json"), "--backend", backendType, "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tables[0].columns).toMatchObject([
      { name: "id", type: "int64", null_count: 0 },
      { name: "n", type: "int64", null_count: 1 },
    ]);
    const backend = backendType === "sqlite" ? new SqliteStorageBackend({ homeDir: home }) : new DuckdbStorageBackend({ homeDir: home });
    try {
      const df = await backend.readTable("data", { engine: await backend.getDatasetEngine(`signs_${backendType}`), orderBy: ["id"] });
      expect(df.rows.map((row) => (row as Record<string, unknown>).n)).toEqual([-5n, 9223372036854775807n, null]);
    } finally {
      await backend.close();
    }
    const wide = await mdm(["dataset", "register", `wide_${backendType}`, join(files, "wide.json"), "--backend", backendType, "--json"], env());
    expect(wide.code, wide.stderr).toBe(0);
    expect(JSON.parse(wide.stdout).tables[0].columns[1]).toMatchObject({ name: "n", type: "decimal", null_count: 0 });
  });

  it.each([
    ["the example CSVs", "sqlite", EXAMPLE_DATASET, "train"],
    ["a Parquet file", "duckdb", "train.parquet", "data"],
  ])("writes _columns and _statistics from the scan's counts (%s into %s), kept by a migration, shown by info", async (_what, type, path, table) => {
    const name = `stats_${type}`;
    const r = await mdm(["dataset", "register", name, path.startsWith("/") ? path : join(files, path), "--backend", type, "--target", "churned", "--id-columns", "id"], env());
    expect(r.code, r.stderr).toBe(0);
    const read = async (backend: SqliteStorageBackend | DuckdbStorageBackend) => {
      try {
        const engine = await backend.getDatasetEngine(name);
        const columns = (await backend.readTable("_columns", { engine })).rows as Array<Record<string, unknown>>;
        const statistics = (await backend.readTable("_statistics", { engine })).rows as Array<Record<string, unknown>>;
        const train = (await backend.readTable(table, { engine })).rows as Array<Record<string, unknown>>;
        return { columns, statistics, train };
      } finally {
        await backend.close();
      }
    };
    const { columns, statistics, train } = await read(type === "sqlite" ? new SqliteStorageBackend({ homeDir: home }) : new DuckdbStorageBackend({ homeDir: home }));
    const trainColumns = columns.filter((c) => c.table_name === table);
    expect(trainColumns.map((c) => c.column_name)).toEqual(Object.keys(train[0] ?? {}));
    for (const c of trainColumns) {
      const values = train.map((row) => row[c.column_name as string]);
      const nulls = values.filter((v) => v === null).length;
      const distinct = new Set(values.filter((v) => v !== null).map((v) => (isSqlDate(v) || isSqlTimestamp(v) ? v.toString() : String(v)))).size;
      expect(c.null_count, `${String(c.column_name)} nulls`).toBe(BigInt(nulls));
      expect(c.null_percentage).toBeCloseTo((100 * nulls) / train.length, 10);
      // HyperLogLog: within 20% of the exact count (15% off measured), never above the non-NULL values.
      expect(Number(c.unique_count), `${String(c.column_name)} distinct`).toBeGreaterThanOrEqual(Math.floor(distinct * 0.8));
      expect(Number(c.unique_count)).toBeLessThanOrEqual(Math.min(Math.ceil(distinct * 1.2), train.length - nulls));
      expect(c.is_target).toBe(c.column_name === "churned");
      expect(c.is_id).toBe(c.column_name === "id");
    }
    expect(trainColumns.find((c) => c.column_name === "income")?.null_count).toBe(21n);
    const trainStats = statistics.find((s) => s.table_name === table);
    expect(trainStats).toMatchObject({ row_count: 400n, column_count: BigInt(trainColumns.length) });
    expect(trainStats?.missing_values).toBe(trainColumns.reduce((sum, c) => sum + (c.null_count as bigint), 0n));
    const info = await mdm(["dataset", "info", name, "--json"], env());
    const shownColumns = JSON.parse(info.stdout).tables.find((t: { name: string }) => t.name === table).columns;
    expect(shownColumns.find((c: { name: string }) => c.name === "income")).toMatchObject({ null_count: 21 });
    // A migration copies them with the data (they are tables of the dataset).
    const to = type === "sqlite" ? "duckdb" : "sqlite";
    const m = await mdm(["migrate", name, "--to", to], env());
    expect(m.code, m.stderr).toBe(0);
    const moved = await read(to === "sqlite" ? new SqliteStorageBackend({ homeDir: home }) : new DuckdbStorageBackend({ homeDir: home }));
    expect(moved.columns).toEqual(columns);
    expect(moved.statistics).toEqual(statistics);
  });

  it("detects train/test/validation/sample_submission in a directory as MDM does", async () => {
    const dir = join(files, "kaggle");
    mkdirSync(dir);
    copyFileSync(join(EXAMPLE_DATASET, "train.csv"), join(dir, "Train.csv"));
    copyFileSync(join(EXAMPLE_DATASET, "test.csv"), join(dir, "testing.csv"));
    writeFileSync(join(dir, "val.csv"), "id,x\n1,2\n");
    writeFileSync(join(dir, "sample_submission.csv"), "id,churned\n401,0\n");
    writeFileSync(join(dir, "README.md"), "not data\n");
    const r = await mdm(["dataset", "register", "Kaggle", dir, "--json"], env());
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.name).toBe("kaggle");
    expect(info.tables.map((t: { name: string }) => t.name)).toEqual(["train", "test", "validation", "sample_submission"]);
    const registry = readFileSync(join(home, "config", "datasets", "kaggle.yaml"), "utf8");
    expect(registry).toMatch(/backend: sqlite/);
    expect(registry).toMatch(/tables:\n\s+train: train\n\s+test: test\n\s+validation: validation\n\s+sample_submission: sample_submission/);
    expect(existsSync(join(home, "datasets", "kaggle", "kaggle.sqlite"))).toBe(true);
  });

  it("sniffs the delimiter of a .csv file", async () => {
    const r = await mdm(["dataset", "register", "semi", join(files, "semicolon.csv"), "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tables[0].columns).toMatchObject([
      { name: "a", type: "int64", null_count: 0 },
      { name: "b", type: "text", null_count: 0 },
    ]);
  });

  it("lists, shows and removes datasets", async () => {
    const list = await mdm(["dataset", "list", "--json"], env());
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as Array<{ name: string; backend: string; rows: number; status: string }>;
    expect(items.map((i) => i.name)).toEqual([...items.map((i) => i.name)].sort());
    expect(items.find((i) => i.name === "fmt_parquet")).toMatchObject({ backend: "sqlite", rows: 400, status: "ok", tables: ["data"] });
    const human = await mdm(["dataset", "list"], env());
    expect(human.stdout).toContain("fmt_parquet");
    const info = await mdm(["dataset", "info", "fmt_parquet"], env());
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/backend:\s+sqlite/);
    expect(info.stdout).toMatch(/table data: 400 rows, 11 columns/);
    const removed = await mdm(["dataset", "remove", "fmt_parquet", "--force"], env());
    expect(removed.code).toBe(0);
    expect(existsSync(join(home, "config", "datasets", "fmt_parquet.yaml"))).toBe(false);
    expect(existsSync(join(home, "datasets", "fmt_parquet"))).toBe(false);
    const again = await mdm(["dataset", "info", "fmt_parquet"], env());
    expect(again.code).toBe(3);
  });

  it("registers into DuckDB with --backend and from database.default_backend", async () => {
    const r = await mdm(["dataset", "register", "duck", EXAMPLE_DATASET, "--backend", "duckdb", "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("duckdb");
    writeFileSync(join(home, "mdm.yaml"), "database:\n  default_backend: duckdb\n");
    try {
      const d = await mdm(["dataset", "register", "duck2", join(files, "semicolon.csv"), "--json"], env());
      expect(d.code).toBe(0);
      expect(JSON.parse(d.stdout).backend).toBe("duckdb");
      expect(existsSync(join(home, "datasets", "duck2", "duck2.duckdb"))).toBe(true);
    } finally {
      writeFileSync(join(home, "mdm.yaml"), "");
    }
  });

  it("--force replaces a registered dataset, also across backends", async () => {
    const r = await mdm(["dataset", "register", "duck", join(files, "semicolon.csv"), "--backend", "sqlite", "--force", "--json"], env());
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.backend).toBe("sqlite");
    expect(info.tables[0].rows).toBe(2);
    expect(existsSync(join(home, "datasets", "duck", "duck.duckdb"))).toBe(false);
    expect(readdirSync(join(home, "datasets", "duck")).filter((f) => f.includes("staging"))).toEqual([]);
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IStorageBackend, LogicalType } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, shown, tempDir } from "./helpers.js";

// `mdm dataset export` writes through each engine's own path (DuckDB COPY, PostgreSQL COPY TO STDOUT, SQLite's
// stored values formatted by core) or, with --read-with flags, through the legacy implementation and core's
// writer. Whichever wrote it, DuckDB's own reader (read_csv with the dataset's types, read_parquet) must read
// back exactly the rows the dataset holds. No feature flag is set: legacy is what the flags choose.

const HEADER = ["id", "code", "note", "big", "f", "flag", "d", "ts", "tstz"];
const DUCKDB_TYPES: Record<string, string> = { int64: "BIGINT", text: "VARCHAR", float64: "DOUBLE", boolean: "BOOLEAN", date: "DATE", timestamp: "TIMESTAMP", timestamptz: "TIMESTAMPTZ" };
const FIXED = [
  ["1", "00123", '"two\nlines, a comma"', "9223372036854775807", "0.30000000000000004", "true", "1969-07-20", "1969-12-31 23:59:59.999999", "1965-03-01T00:00:00.5-03:30"],
  ["2", "0044", '"""quoted"""', "-9223372036854775808", "2.0", "false", "1900-01-01", "1960-06-15 08:30:00.000001", "2024-01-01T10:00:00Z"],
  ["3", '""', '""', "0", "1e+21", "", "2000-02-29", "1970-01-01 00:00:00", ""],
  ["4", "", "", "-1", "5e-324", "true", "", "", "1969-12-31T23:59:59.999999+14:00"],
  ["5", "x", '"\r\nleading CRLF"', "1", "-1.7976931348623157e308", "false", "1999-12-31", "2038-01-19 03:14:08.5", "2000-01-01T00:00:00Z"],
];
/** More rows than a batch, a keyset page and a COPY chunk. */
const ROWS = 9_000;

function csvFile(): string {
  const lines = [HEADER.join(","), ...FIXED.map((r) => r.join(","))];
  for (let i = FIXED.length + 1; i <= ROWS; i++) {
    const f = i % 11 === 0 ? "" : String((i * 0.7310585786300049) / 3);
    const ts = `19${String(10 + (i % 89)).padStart(2, "0")}-0${1 + (i % 9)}-1${i % 10} 0${i % 10}:3${i % 10}:00.${String(i % 1000000).padStart(6, "0")}`;
    lines.push([String(i), String(i % 1000).padStart(5, "0"), i % 5 === 0 ? "" : i % 7 === 0 ? '""' : `n${i % 13}`, String(BigInt(i) * 92233720368547n), f, i % 2 ? "true" : "false", `19${String(10 + (i % 89)).padStart(2, "0")}-12-31`, ts, `2024-01-01T10:00:00.${String(i % 1000).padStart(3, "0")}+02:00`].join(","));
  }
  return `${lines.join("\n")}\n`;
}

const rowsOf = (df: { rows: Array<Record<string, unknown>> }) => df.rows.map((r) => HEADER.map((c) => shown(r[c])));

describe("mdm dataset export: every engine's path writes files DuckDB reads back value for value (no feature flag set)", async () => {
  const pgSkip = await postgresAvailable();
  const pg = postgresEnv();
  let home: string;
  let files: string;
  let reader: DuckdbStorageBackend;

  beforeAll(async () => {
    home = tempDir("export-engines-home");
    files = tempDir("export-engines-files");
    writeFileSync(join(files, "data.csv"), csvFile());
    reader = new DuckdbStorageBackend({ homeDir: tempDir("export-engines-reader") });
  });

  afterAll(async () => {
    await reader.close();
    removeDir(home);
    removeDir(files);
    if (!pgSkip) await dropPostgresDatabases(pg.config);
  });

  const open = async (type: string): Promise<IStorageBackend> =>
    type === "sqlite"
      ? new SqliteStorageBackend({ homeDir: home })
      : type === "duckdb"
        ? new DuckdbStorageBackend({ homeDir: home, duckdb: { accessMode: "READ_ONLY" } })
        : new (await import("@mdm/storage-postgresql")).PostgresqlStorageBackend({ config: pg.config });

  describe.each(["sqlite", "duckdb", "postgresql"] as const)("%s", (type) => {
    const name = `exp_${type}`;
    const env = () => cleanEnv(home, type === "postgresql" ? pg.env : {});
    let types: Record<string, LogicalType>;
    let stored: string[][];

    beforeAll(async () => {
      if (type === "postgresql" && pgSkip) return;
      const r = await mdm(["dataset", "register", name, join(files, "data.csv"), "--backend", type, "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse(r.stdout) as { tables: Array<{ columns: Array<{ name: string; type: LogicalType }> }> };
      types = Object.fromEntries(info.tables[0]?.columns.map((c) => [c.name, c.type]) ?? []);
      const backend = await open(type);
      try {
        stored = rowsOf((await backend.readTable("data", { engine: await backend.getDatasetEngine(name), orderBy: ["id"] })) as never);
      } finally {
        await backend.close();
      }
    });

    it("the dataset has every kind of column the export must keep", () => {
      if (type === "postgresql" && pgSkip) return void console.warn(`skipped: ${pgSkip}`);
      expect(types).toEqual({ id: "int64", code: "text", note: "text", big: "int64", f: "float64", flag: "boolean", d: "date", ts: "timestamp", tstz: "timestamptz" });
      expect(stored).toHaveLength(ROWS);
      expect(stored[2]).toEqual(["int:3", 'text:""', 'text:""', "int:0", "num:1e+21", "NULL", "date:2000-02-29", "ts:1970-01-01 00:00:00.000000", "NULL"]);
      expect(stored[3]?.slice(1, 3)).toEqual(["NULL", "NULL"]);
    });

    it.each([
      ["csv", "fastest"],
      ["csv", "flags"],
      ["parquet", "fastest"],
      ["parquet", "flags"],
    ])("%s, --read-with %s", async (format, readWith) => {
      if (type === "postgresql" && pgSkip) return void console.warn(`skipped: ${pgSkip}`);
      const out = join(files, `${type}-${format}-${readWith}`);
      const r = await mdm(["dataset", "export", name, "--format", format, "--output", out, "--read-with", readWith, "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as { readBy: string; files: Array<{ table: string; file: string; rows: number }> };
      expect(printed.readBy).toBe(`${type}:${readWith === "fastest" ? "new" : "legacy"}`);
      expect(printed.files.map((f) => [f.table, f.rows])).toEqual([["data", ROWS]]);
      const file = join(out, `data.${format}`);
      const columns = HEADER.map((c) => `'${c}': '${DUCKDB_TYPES[types[c] as string]}'`).join(", ");
      const source = format === "csv" ? `read_csv('${file}', header = true, allow_quoted_nulls = false, columns = {${columns}})` : `read_parquet('${file}')`;
      const back = rowsOf((await reader.query(`SELECT * FROM ${source} ORDER BY id`, [], await reader.getEngine(":memory:"))) as never);
      expect(back).toHaveLength(ROWS);
      for (let i = 0; i < ROWS; i++) if (JSON.stringify(back[i]) !== JSON.stringify(stored[i])) expect(back[i], `row ${i + 1}`).toEqual(stored[i]);
      if (format === "csv") {
        const text = readFileSync(file, "utf8");
        expect(text.startsWith(`${HEADER.join(",")}\n`)).toBe(true);
        // NULL is an empty field, the empty string a quoted one; a float keeps its point.
        expect(text).toMatch(/\n3,"","",0,1e\+21,,2000-02-29,1970-01-01 00:00:00(\.000000)?,\n/);
        expect(text).toMatch(/\n2,0044,"""quoted""",-9223372036854775808,2\.0,false,1900-01-01,/);
      }
    });
  });
});

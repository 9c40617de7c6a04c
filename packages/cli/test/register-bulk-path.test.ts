import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IStorageBackend, LogicalType } from "@mdm/storage-core";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { ColumnInference, fieldConverter } from "../src/files/infer.js";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, shown, tempDir } from "./helpers.js";

// Registration reads files through DuckDB and decides types in SQL. What it stores must be exactly what the
// rules of infer.ts say of the file's text, parsed here by an independent parser (csv-parse): the reference.
// The file is the kind people have: a BOM, `;` as delimiter, CRLF line ends, quoted newlines and delimiters,
// codes with leading zeros, empty fields (NULL) beside quoted empty strings, int64 extremes, doubles of 17
// significant digits, dates and µs timestamps before 1970.

const HEADER = ["id", "code", "note", "big", "f", "nothing", "quoted_empty", "flag", "d", "ts", "tstz"];
const FIXED_ROWS = [
  ["1", "00123", '"two\nlines"', "9223372036854775807", "0.30000000000000004", "", '""', "true", "1969-07-20", "1969-12-31 23:59:59.999999", "1965-03-01T00:00:00.5-03:30"],
  ["2", "0044", '"a;b ""quoted"""', "-9223372036854775808", "", "", "x", "false", "1900-01-01", "1960-06-15T08:30:00.000001", "2024-01-01T10:00:00Z"],
  ["3", "12345", "", "0", "-2.5e-7", "", "", "", "2000-02-29", "1970-01-01 00:00:00", "1969-12-31T23:59:59.999999+14:00"],
  ["4", "", '"\r\nleading CRLF"', "-1", "1.7976931348623157e308", "", '""', "true", "", "", ""],
];

function bulkCsv(rows: number): string {
  const lines = [HEADER.join(";"), ...FIXED_ROWS.map((r) => r.join(";"))];
  // Enough rows to cross the writers' batch boundaries.
  for (let i = FIXED_ROWS.length + 1; i <= rows; i++) {
    const f = i % 7 === 0 ? "" : String((i * 0.7310585786300049) / 3);
    const ts = `19${String(10 + (i % 89)).padStart(2, "0")}-0${1 + (i % 9)}-1${i % 10} 0${i % 10}:3${i % 10}:00.${String(i % 1000000).padStart(6, "0")}`;
    lines.push([String(i), String(i % 1000).padStart(5, "0"), i % 5 === 0 ? "" : `n${i % 13}`, String(BigInt(i) * 92233720368547n), f, "", i % 3 === 0 ? '""' : "v", i % 2 ? "true" : "false", `19${String(10 + (i % 89)).padStart(2, "0")}-12-31`, ts, `2024-01-01T10:00:00.${String(i % 1000).padStart(3, "0")}+02:00`].join(";"));
  }
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

/** Columns and rows as infer.ts's rules make them of the text csv-parse reads (unquoted empty = NULL). */
function reference(text: string): { types: Record<string, LogicalType>; rows: string[][] } {
  const records = parse(text, {
    bom: true,
    delimiter: ";",
    cast: (value: string, context: { quoting: boolean }) => (value === "" && !context.quoting ? null : value),
  }) as Array<Array<string | null>>;
  const [header, ...body] = records as [string[], ...Array<Array<string | null>>];
  const columns = header.map((name, i) => {
    const inference = new ColumnInference(name);
    for (const row of body) inference.add(row[i] ?? null);
    return inference.column();
  });
  const converters = columns.map((c) => fieldConverter(c));
  const rows = body.map((row) => row.map((v, i) => shown(v === null ? null : (converters[i] as (s: string) => unknown)(v))));
  return { types: Object.fromEntries(columns.map((c) => [c.name, c.type])), rows };
}

async function storedRows(backend: IStorageBackend, name: string): Promise<string[][]> {
  const engine = await backend.getDatasetEngine(name);
  const df = await backend.readTable("data", { engine, orderBy: ["id"] });
  return (df.rows as Array<Record<string, unknown>>).map((r) => HEADER.map((c) => shown(r[c])));
}

const ROWS = 12_000;

describe("registration through the bulk path stores what infer.ts says of the file, in every engine and by either writer", async () => {
  const pgSkip = await postgresAvailable();
  const pg = postgresEnv();
  let home: string;
  let files: string;
  let expected: ReturnType<typeof reference>;

  beforeAll(() => {
    home = tempDir("bulk-home");
    files = tempDir("bulk-files");
    const text = bulkCsv(ROWS);
    writeFileSync(join(files, "people.csv"), text);
    writeFileSync(join(files, "people.csv.gz"), gzipSync(text));
    expected = reference(text);
  });

  afterAll(async () => {
    removeDir(home);
    removeDir(files);
    if (!pgSkip) await dropPostgresDatabases(pg.config);
  });

  it("the reference itself has every kind of column (so the comparison below means something)", () => {
    expect(expected.rows).toHaveLength(ROWS);
    expect(expected.types).toEqual({
      id: "int64",
      code: "text",
      note: "text",
      big: "int64",
      f: "float64",
      nothing: "text",
      quoted_empty: "text",
      flag: "boolean",
      d: "date",
      ts: "timestamp",
      tstz: "timestamptz",
    });
    expect(expected.rows[0]).toEqual([
      "int:1", 'text:"00123"', 'text:"two\\nlines"', "int:9223372036854775807", "num:0.30000000000000004", "NULL", 'text:""', "bool:true",
      "date:1969-07-20", "ts:1969-12-31 23:59:59.999999", "ts:1965-03-01 03:30:00.500000",
    ]);
    expect(expected.rows[3]?.[2]).toBe('text:"\\r\\nleading CRLF"');
  });

  const cases: Array<["sqlite" | "duckdb" | "postgresql", string, "fastest" | "flags"]> = [
    ["sqlite", "people.csv", "fastest"],
    ["sqlite", "people.csv", "flags"],
    ["sqlite", "people.csv.gz", "fastest"],
    ["duckdb", "people.csv", "fastest"],
    ["duckdb", "people.csv", "flags"],
    ["duckdb", "people.csv.gz", "fastest"],
    ["postgresql", "people.csv", "fastest"],
    ["postgresql", "people.csv", "flags"],
    ["postgresql", "people.csv.gz", "fastest"],
  ];
  it.each(cases)("%s: %s, --copy-with %s, no feature flag set", async (type, file, copyWith) => {
    if (type === "postgresql" && pgSkip) return void console.warn(`skipped: ${pgSkip}`);
    const name = `bulk_${type}_${copyWith}_${file.endsWith(".gz") ? "gz" : "plain"}`;
    const env = cleanEnv(home, type === "postgresql" ? pg.env : {});
    const r = await mdm(["dataset", "register", name, join(files, file), "--backend", type, "--copy-with", copyWith, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { tables: Array<{ name: string; rows: number; columns: Array<{ name: string; type: string }> }> };
    expect(info.tables.map((t) => [t.name, t.rows])).toEqual([["data", ROWS]]);
    expect(Object.fromEntries(info.tables[0]?.columns.map((c) => [c.name, c.type]) ?? [])).toEqual(expected.types);
    const backend: IStorageBackend =
      type === "sqlite"
        ? new SqliteStorageBackend({ homeDir: home })
        : type === "duckdb"
          ? new DuckdbStorageBackend({ homeDir: home })
          : new (await import("@mdm/storage-postgresql")).PostgresqlStorageBackend({ config: pg.config });
    try {
      const rows = await storedRows(backend, name);
      expect(rows).toHaveLength(ROWS);
      for (let i = 0; i < ROWS; i++) if (JSON.stringify(rows[i]) !== JSON.stringify(expected.rows[i])) expect(rows[i], `row ${i + 1}`).toEqual(expected.rows[i]);
    } finally {
      await backend.close();
    }
  });

  // SIGINT while the file is scanned, and while the table is written (for DuckDB: imported from Parquet).
  const interruptions: Array<["sqlite" | "duckdb" | "postgresql", string, RegExp]> = [
    ["duckdb", "scan", /\(big\.csv\): started/],
    ["duckdb", "write", /\ndata: started/],
    ["postgresql", "scan", /\(big\.csv\): started/],
    ["postgresql", "write", /\ndata: started/],
    ["sqlite", "scan", /\(big\.csv\): started/],
  ];
  it.each(interruptions)("%s: Ctrl-C during the %s leaves nothing registered and nothing behind", async (type, _moment, when) => {
    if (type === "postgresql" && pgSkip) return void console.warn(`skipped: ${pgSkip}`);
    const big = join(files, "big.csv");
    if (!existsSync(big)) {
      const rows = ["id,text,value,day"];
      for (let i = 0; i < 400_000; i++) rows.push(`${i},row number ${i},${i / 7},2024-01-${String(1 + (i % 28)).padStart(2, "0")}`);
      writeFileSync(big, `${rows.join("\n")}\n`);
    }
    const name = `cut_${type}_${_moment}`;
    let sent = false;
    const r = await mdm(["dataset", "register", name, big, "--backend", type], cleanEnv(home, type === "postgresql" ? pg.env : {}), {
      onStderr: (text, child) => {
        if (!sent && when.test(text)) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(sent, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/nothing was registered/);
    expect(existsSync(join(home, "config", "datasets", `${name}.yaml`))).toBe(false);
    const dir = join(home, "datasets", name);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    if (type === "postgresql") {
      const { PostgresqlStorageBackend } = await import("@mdm/storage-postgresql");
      const backend = new PostgresqlStorageBackend({ config: pg.config });
      try {
        expect(await backend.datasetExists(name)).toBe(false);
        expect(await backend.listStagingPaths(name)).toEqual([]);
      } finally {
        await backend.close();
      }
    }
  });
});

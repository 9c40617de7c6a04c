import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSqlTimestamp, quoteLiteral } from "@mdm/storage-core";
import { acquireInstance } from "@mdm/storage-duckdb";
import { backendOfType, cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

// JSON typed by our rules (json-source.ts), and Parquet's nested columns, into each engine and across them.
const pg = postgresEnv();
const pgSkip = await postgresAvailable();
const ENGINES = pgSkip ? ["sqlite", "duckdb"] : ["sqlite", "duckdb", "postgresql"];

const RECORDS = 3000;
const BASE_MICROS = Date.UTC(2024, 0, 1, 10, 0, 0) * 1000;

/** The JSON lines file: `code` a string in 2,999 records and a number in one, ints beside "n/a", nested values, two zones. */
function recordsFile(): { text: string; expected: Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const expected: Array<Record<string, unknown>> = [];
  for (let i = 0; i < RECORDS; i++) {
    const code = i === 1234 ? 12345 : String(i).padStart(5, "0");
    const qty = i % 7 === 0 ? "n/a" : i;
    const meta = i % 2 ? { a: i, tags: ["x", "y"], say: 'he said "hi"', deep: { ok: i % 3 === 0 } } : [i, "z", null, 1.5];
    // The same instant written in UTC and at +02:00 on alternate records.
    const seconds = i * 61;
    const wall = (offsetHours: number) => new Date(Date.UTC(2024, 0, 1, 10 + offsetHours, 0, seconds)).toISOString().slice(0, 19);
    const at = i % 2 ? `${wall(0)}Z` : `${wall(2)}+02:00`;
    const record: Record<string, unknown> = { id: i, code, qty, meta, at, flag: i % 3 === 0, x: i + 0.25 };
    if (i % 5 === 0) record.sometimes = null;
    lines.push(JSON.stringify(record));
    expected.push({ id: BigInt(i), code: String(code), qty: String(qty), meta, at: BigInt(BASE_MICROS + seconds * 1e6), flag: i % 3 === 0, x: i + 0.25, sometimes: null });
  }
  return { text: `${lines.join("\n")}\n`, expected };
}

/** An array of 3,200 records shaped like vega-datasets' movies.json: `Title` a number in 9 of them. */
function moviesFile(): string {
  const numericTitles = [1776, 2012, 1408, 300, 9, 21, 10, 54, 1941];
  const records = Array.from({ length: 3200 }, (_, i) => ({
    Title: i % 355 === 7 && numericTitles.length > 0 ? (numericTitles.shift() as number) : `Movie ${i}: The Sequel`,
    "US Gross": i * 1000 + 17,
    "Worldwide Gross": i % 11 === 0 ? null : i * 2500.5,
    "US DVD Sales": i % 4 === 0 ? null : i * 10,
    "Release Date": `Jun ${(i % 28) + 1} 1998`,
    "MPAA Rating": i % 6 === 0 ? null : "PG-13",
    "IMDB Rating": i % 9 === 0 ? null : (i % 90) / 10 + 1,
    "IMDB Votes": i % 13 === 0 ? null : i * 3,
  }));
  return JSON.stringify(records, null, 1);
}

describe("JSON by our rules, Parquet's nested columns", () => {
  let home: string;
  let files: string;
  let records: ReturnType<typeof recordsFile>;
  const env = () => cleanEnv(home, pg.env);

  const backendOf = (type: string) => backendOfType(type, home, pg.config);

  async function rowsIn(type: string, name: string): Promise<Array<Record<string, unknown>>> {
    const backend = await backendOf(type);
    try {
      await backend.init();
      const df = await backend.readTable("data", { engine: await backend.getDatasetEngine(name), orderBy: ["id"] });
      return df.rows as Array<Record<string, unknown>>;
    } finally {
      await backend.close();
    }
  }

  async function typesOf(name: string): Promise<Record<string, string>> {
    const r = await mdm(["dataset", "info", name, "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { tables: Array<{ name: string; columns: Array<{ name: string; type: string }> }> };
    const table = info.tables.find((t) => t.name === "data");
    return Object.fromEntries((table?.columns ?? []).map((c) => [c.name, c.type]));
  }

  /** Every value of the records dataset as written in the file: texts without added quotes, JSON that parses back, one instant per pair of zones. */
  async function expectRecords(type: string, name: string): Promise<void> {
    expect(await typesOf(name)).toEqual({ id: "int64", code: "text", qty: "text", meta: "json", at: "timestamptz", flag: "boolean", x: "float64", sometimes: "text" });
    const rows = await rowsIn(type, name);
    expect(rows).toHaveLength(RECORDS);
    const got = rows.map((row) => {
      const at = row.at;
      return { ...row, meta: typeof row.meta === "string" ? JSON.parse(row.meta) : row.meta, at: isSqlTimestamp(at) ? at.micros : at };
    });
    expect(got).toEqual(records.expected);
    // Spot checks, named for a reader of a failure.
    expect(rows[1234]?.code).toBe("12345");
    expect(rows[1]?.code).toBe("00001");
    expect(rows[0]?.qty).toBe("n/a");
  }

  beforeAll(async () => {
    home = tempDir("json-rules-home");
    files = tempDir("json-rules-files");
    records = recordsFile();
    writeFileSync(join(files, "records.jsonl"), records.text);
    writeFileSync(join(files, "movies.json"), moviesFile());
    const lease = await acquireInstance(":memory:", {});
    const c = await lease.instance.connect();
    await c.run(`COPY (SELECT i AS id, [i, i + 1] AS list, {'a': i, 'b': 'x"y', 'c': [1.5, NULL]} AS struct, MAP {'k': i} AS map, CAST(NULL AS INTEGER[]) AS empty
      FROM range(3) t(i)) TO ${quoteLiteral(join(files, "nested.parquet"))} (FORMAT PARQUET)`);
    c.closeSync();
    await lease.release();
  });

  afterAll(async () => {
    if (!pgSkip) await dropPostgresDatabases(pg.config);
    removeDir(home);
    removeDir(files);
  });

  it.each(ENGINES)("a JSON lines file registers into %s with the values as written", async (engine) => {
    const r = await mdm(["dataset", "register", `rec_${engine}`, join(files, "records.jsonl"), "--backend", engine], env());
    expect(r.code, r.stderr).toBe(0);
    await expectRecords(engine, `rec_${engine}`);
  });

  // From each engine to each other one (a chain through all three, both ways round), verified by checksum.
  const hops = ENGINES.flatMap((from) => ENGINES.filter((to) => to !== from).map((to) => [from, to] as const));
  it.each(hops)("migrated from %s to %s, every value is the same", async (from, to) => {
    const name = `hop_${from}_${to}`;
    const registered = await mdm(["dataset", "register", name, join(files, "records.jsonl"), "--backend", from], env());
    expect(registered.code, registered.stderr).toBe(0);
    const moved = await mdm(["migrate", name, "--to", to, "--verify", "checksum", "--remove-source", "--json"], env());
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)[0].success).toBe(true);
    await expectRecords(to, name);
  });

  it.each(ENGINES)("a movies.json-shaped array registers into %s with Title as text", async (engine) => {
    const r = await mdm(["dataset", "register", `movies_${engine}`, join(files, "movies.json"), "--backend", engine], env());
    expect(r.code, r.stderr).toBe(0);
    expect(await typesOf(`movies_${engine}`)).toMatchObject({ Title: "text", "US Gross": "int64", "Worldwide Gross": "float64", "Release Date": "text", "IMDB Rating": "float64" });
    const backend = await backendOf(engine);
    try {
      await backend.init();
      const df = await backend.readTable("data", { engine: await backend.getDatasetEngine(`movies_${engine}`) });
      const titles = (df.rows as Array<Record<string, unknown>>).map((row) => row.Title);
      expect(titles).toHaveLength(3200);
      expect(titles).toContain("1776");
      expect(titles).toContain("Movie 0: The Sequel");
      expect(titles.filter((t) => typeof t !== "string" || t.includes('"'))).toEqual([]);
    } finally {
      await backend.close();
    }
  });

  it.each(ENGINES)("Parquet LIST, STRUCT and MAP columns register into %s as JSON text that JSON.parse reads", async (engine) => {
    const r = await mdm(["dataset", "register", `nested_${engine}`, join(files, "nested.parquet"), "--backend", engine], env());
    expect(r.code, r.stderr).toBe(0);
    expect(await typesOf(`nested_${engine}`)).toEqual({ id: "int64", list: "json", struct: "json", map: "json", empty: "json" });
    const rows = await rowsIn(engine, `nested_${engine}`);
    const parsed = rows.map((row) => ({ list: JSON.parse(row.list as string), struct: JSON.parse(row.struct as string), map: JSON.parse(row.map as string), empty: row.empty }));
    expect(parsed).toEqual([0, 1, 2].map((i) => ({ list: [i, i + 1], struct: { a: i, b: 'x"y', c: [1.5, null] }, map: { k: i }, empty: null })));
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSqlDate, isSqlTimestamp, quoteLiteral, type LogicalType, type Value } from "@mdm/storage-core";
import { candidatesOf, fieldConverter } from "../src/files/infer.js";
import { candidateBits, castExpression } from "../src/files/inference-sql.js";
import { ScanEngine } from "../src/files/scan-engine.js";

// Registration decides types in SQL (DuckDB); the rules are written in JavaScript (infer.ts). Both must say
// the same of every value, and the SQL casts must give the values fieldConverter gives.

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIXED = [
  // integers and their edges
  "0", "-0", "00", "007", "+1", "1", "-1", "123", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
  "-9223372036854775809", "18446744073709551616", "1_000", " 1", "1 ",
  // floats
  "1.5", "-2.5e-7", "1e20", "1E+20", "1e400", "-1e400", "2e-330", "5e-324", "4.9e-324", "1.", ".5", "-.5", "-0.0", "0.0",
  "0.10000000000000001", "0.1000000000000000055511151231257827", "1.2345678901234567", "123456789012345678", "123456789012345680",
  "0.12345678901234567890", "1.7976931348623157e308", "1.7976931348623159e308", "-0.000000000000000000", "100000000000000000000",
  "1e-7", "1.0e0", "00.5", "1e", "e5", "1.2.3", "--1",
  // specials and booleans
  "NaN", "nan", "NAN", "Infinity", "-Infinity", "inf", "-inf", "+inf", "true", "false", "True", "FALSE", "tRue", "yes", "1.0",
  "constructor", "toString", "__proto__", "hasOwnProperty",
  // dates
  "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-12-31", "0000-01-01",
  "9999-12-31", "2024-1-01", "20240101", "1969-07-20",
  // timestamps
  "2024-01-01 10:00", "2024-01-01T10:00", "2024-01-01 10:00:00", "2024-01-01 10:00:00.123456", "2024-01-01 10:00:00.1234567",
  "2024-01-01 24:00:00", "2024-01-01 23:60:00", "2024-01-01 23:59:60", "2024-02-30 10:00", "1969-12-31 23:59:59.999999",
  "1960-06-15T08:30:00.000001", "2024-01-01  10:00",
  // timestamps with a zone
  "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00+0530", "2024-01-01T10:00:00-08", "2024-01-01 10:00Z",
  "2024-01-01T10:00:00+24:00", "2024-01-01T10:00:00+05:60", "2024-01-01T10:00:00z", "2024-01-01T10:00:00 +02:00",
  "1965-03-01T00:00:00.5-03:30", "2024-02-29T23:59:59.999999+14:00",
  // DuckDB's own texts (the SQL shortcuts) and their near misses
  "1e+21", "1.5e-07", "1e-05", "1000000000000000.0", "-1e+16", "1.2345678901234568e+17", "123.0", "inf", "nan",
  "10000-01-01", "0001-01-01", "0001-01-01 (BC)", "2024-01-01 10:00:00.12", "2024-01-01 10:00:00.120000", "2024-01-01 10:00:00.000",
  "2024-01-01 10:00:00.000000", "2024-01-01 10:00:00.", "2024-01-01 10:00:00.1200000", "2024-01-01 10:00:00.0000000",
  "0001-12-31 (BC) 10:00:00", "10000-01-01 10:00:00", "0001-01-01 00:00:00", "2024-01-01 24:00:00.000",
  // text
  "", " ", "abc", "a,b", 'x"y', "日本", "null", "NULL",
];

function randomValues(n: number): string[] {
  const rand = seeded(42);
  const out: string[] = [];
  const pad = (x: number, w: number) => String(x).padStart(w, "0");
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rand() * 8);
    const r = rand();
    if (kind === 0) out.push(String(Math.floor((r - 0.5) * 2 ** 53)));
    else if (kind === 1) out.push(((r - 0.5) * 10 ** Math.floor(rand() * 30 - 10)).toPrecision(1 + Math.floor(rand() * 20)));
    else if (kind === 2) out.push(String((r - 0.5) * 10 ** Math.floor(rand() * 40 - 20)));
    else if (kind === 3) out.push(r.toFixed(Math.floor(rand() * 20)));
    else if (kind === 4) out.push(`${pad(Math.floor(r * 3000), 4)}-${pad(Math.floor(rand() * 14), 2)}-${pad(Math.floor(rand() * 33), 2)}`);
    else if (kind === 5) {
      const frac = rand() < 0.5 ? "" : `.${pad(Math.floor(rand() * 1e6), 6).slice(0, 1 + Math.floor(rand() * 6))}`;
      out.push(`${pad(1900 + Math.floor(r * 200), 4)}-${pad(1 + Math.floor(rand() * 12), 2)}-${pad(1 + Math.floor(rand() * 31), 2)}${rand() < 0.5 ? "T" : " "}${pad(Math.floor(rand() * 25), 2)}:${pad(Math.floor(rand() * 61), 2)}:${pad(Math.floor(rand() * 61), 2)}${frac}`);
    } else if (kind === 6) {
      const zones = ["Z", "+01:00", "-0330", "+14", "+25:00", "-00:61", "+05:45"];
      out.push(`2020-0${1 + Math.floor(r * 9)}-1${Math.floor(rand() * 10)}T0${Math.floor(rand() * 10)}:1${Math.floor(rand() * 10)}${zones[Math.floor(rand() * zones.length)]}`);
    } else out.push(`${Math.floor(r * 1000)}${["", "0", "e3", "e-400", ".", "x"][Math.floor(rand() * 6)]}`);
  }
  return out;
}

describe("inference in SQL agrees with infer.ts", () => {
  let engine: ScanEngine;
  beforeAll(async () => {
    engine = await ScanEngine.open("test");
  });
  afterAll(() => engine.close());

  async function sqlBits(values: string[]): Promise<Map<string, number>> {
    await engine.run("CREATE OR REPLACE TEMP TABLE vals (v VARCHAR)");
    for (let i = 0; i < values.length; i += 1000) {
      await engine.run(`INSERT INTO vals VALUES ${values.slice(i, i + 1000).map((v) => `(${quoteLiteral(v)})`).join(", ")}`);
    }
    const rows = await engine.rows(`SELECT v, ${candidateBits("v")} FROM vals`);
    return new Map(rows.map(([v, bits]) => [v as string, Number(bits)]));
  }

  it("gives every value the same candidate types (hand-picked edge cases)", async () => {
    const bits = await sqlBits(FIXED);
    const disagreements = FIXED.filter((v) => bits.get(v) !== candidatesOf(v)).map((v) => `${JSON.stringify(v)}: sql ${bits.get(v)}, js ${candidatesOf(v)}`);
    expect(disagreements).toEqual([]);
    // The rules are not vacuous: these are the types they are.
    expect(candidatesOf("007")).toBe(0);
    expect(candidatesOf("9223372036854775807") & 1).toBe(1);
    expect(candidatesOf("0.10000000000000001") & 2).toBe(0);
    expect(candidatesOf("2023-02-29")).toBe(0);
    expect(candidatesOf("2024-01-01T10:00:00+0530")).toBe(32);
  });

  it("gives 20,000 generated values the same candidate types", async () => {
    const values = [...new Set(randomValues(20_000))];
    const bits = await sqlBits(values);
    const disagreements = values.filter((v) => bits.get(v) !== candidatesOf(v)).map((v) => `${JSON.stringify(v)}: sql ${bits.get(v)}, js ${candidatesOf(v)}`);
    expect(disagreements.slice(0, 20)).toEqual([]);
    // Every type is reached by some of them.
    const seen = new Set(values.map(candidatesOf));
    for (const bit of [1, 2, 8, 16, 32]) expect([...seen].some((b) => b & bit)).toBe(true);
  });

  it("gives DuckDB's own texts of numbers, days and times (its shortcuts) the same candidate types", async () => {
    // Rendered by DuckDB itself, as a file another DuckDB (or pandas) wrote would hold them.
    const rendered = await engine.rows(`SELECT CAST(v AS VARCHAR) FROM (
        SELECT CAST((random() - 0.5) * pow(10, floor(random() * 60) - 30) AS DOUBLE) AS v FROM range(3000)
        UNION ALL SELECT CAST(CAST((random() - 0.5) * pow(2, floor(random() * 64)) AS BIGINT) AS DOUBLE) FROM range(1000)) t
      UNION ALL SELECT CAST(CAST((random() - 0.5) * pow(2, floor(random() * 63)) AS BIGINT) AS VARCHAR) FROM range(1000)
      UNION ALL SELECT CAST(DATE '0001-01-01' + CAST(random() * 3650000 AS INTEGER) AS VARCHAR) FROM range(1000)
      UNION ALL SELECT CAST(TIMESTAMP '0001-01-01' + to_microseconds(CAST(random() * 3.1e17 AS BIGINT)) AS VARCHAR) FROM range(1000)
      UNION ALL SELECT CAST(DATE '0001-01-01' - CAST(random() * 1000 AS INTEGER) AS VARCHAR) FROM range(100)
      UNION ALL SELECT CAST(TIMESTAMP '0001-01-01' - to_microseconds(CAST(random() * 1e14 AS BIGINT)) AS VARCHAR) FROM range(100)`);
    const texts = rendered.map(([v]) => v as string);
    // ...and the same times with the fraction's trailing zeros written out, as other writers do.
    const padded = texts.filter((t) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.test(t)).map((t) => (t.includes(".") ? t.padEnd(26, "0") : `${t}.000`));
    const values = [...new Set([...texts, ...padded])];
    const bits = await sqlBits(values);
    const disagreements = values.filter((v) => bits.get(v) !== candidatesOf(v)).map((v) => `${JSON.stringify(v)}: sql ${bits.get(v)}, js ${candidatesOf(v)}`);
    expect(disagreements.slice(0, 20)).toEqual([]);
    const seen = new Set(values.map(candidatesOf));
    for (const bit of [1, 2, 8, 16]) expect([...seen].some((b) => b & bit)).toBe(true);
  });

  it("checks only the candidate types a column may still have, and says of them what the full rules say", async () => {
    const values = [...new Set([...FIXED, ...randomValues(5_000)])];
    await sqlBits(values);
    // Every single type, the number pair a sample of integers leaves, the date-and-time group, and nothing.
    const masks = [1, 2, 4, 8, 16, 32, 3, 24, 56, 0, 63];
    const select = masks.map((m) => candidateBits("v", m)).join(", ");
    const rows = await engine.rows(`SELECT v, ${select} FROM vals`);
    const disagreements: string[] = [];
    for (const [v, ...got] of rows) {
      masks.forEach((m, i) => {
        if (Number(got[i]) !== (candidatesOf(v as string) & m)) disagreements.push(`${JSON.stringify(v)} within ${m}: sql ${got[i]}, js ${candidatesOf(v as string) & m}`);
      });
    }
    expect(rows.length).toBe(values.length);
    expect(disagreements.slice(0, 20)).toEqual([]);
  });

  it("casts each value to what fieldConverter gives", async () => {
    const { resultBatches } = await import("@mdm/storage-duckdb");
    const values = [...new Set([...FIXED, ...randomValues(5_000)])];
    await sqlBits(values);
    const types: Array<[LogicalType, number]> = [["int64", 1], ["float64", 2], ["boolean", 4], ["date", 8], ["timestamp", 16], ["timestamptz", 32]];
    const norm = (v: Value) => (isSqlDate(v) ? `d${v.days}` : isSqlTimestamp(v) ? `t${v.micros}` : typeof v === "number" && Object.is(v, -0) ? "-0" : typeof v === "number" && Number.isNaN(v) ? "NaN" : String(v));
    for (const [type, bit] of types) {
      const ofType = values.filter((v) => candidatesOf(v) & bit);
      expect(ofType.length, type).toBeGreaterThan(0);
      const result = await engine.stream(`SELECT v, ${castExpression("v", type)} FROM vals WHERE (${candidateBits("v")}) & ${bit} <> 0`);
      const convert = fieldConverter({ name: "v", type, nullable: true });
      let n = 0;
      for await (const batch of resultBatches(result, 4096)) {
        for (const [text, value] of batch) {
          expect(norm(value as Value), `${type} ${text}`).toBe(norm(convert(text as string)));
          n++;
        }
      }
      expect(n).toBe(ofType.length);
    }
  });
});

import { describe, expect, test } from "vitest";
import {
  ErrorCodes,
  canonicalDecimal,
  conformance,
  SqlDate,
  SqlTimestamp,
  TableChecksum,
  encodeRow,
  encodeValue,
  hash64,
  isMdmError,
  type ColumnDef,
  type LogicalType,
  type Value,
} from "../src/index.js";

const text2: ColumnDef[] = [
  { name: "a", type: "text" },
  { name: "b", type: "text" },
];

function checksumOf(columns: ColumnDef[], rows: Value[][]): { count: number; hash: string } {
  const c = new TableChecksum(columns);
  c.addAll(rows);
  return c.toJSON();
}

describe("canonical encoding", () => {
  test("NULL, '', 'NULL' and NaN never encode alike", () => {
    const encodings = [
      encodeValue("text", null),
      encodeValue("text", ""),
      encodeValue("text", "NULL"),
      encodeValue("text", "N;"),
      encodeValue("float64", Number.NaN),
      encodeValue("float64", null),
      encodeValue("float64", 0),
      encodeValue("json", "null"),
      encodeValue("decimal", "NaN"),
    ];
    expect(new Set(encodings).size).toBe(encodings.length - 1); // text NULL and float NULL are the same NULL
    expect(encodeValue("text", null)).toBe(encodeValue("float64", null));
  });

  test("field boundaries are unambiguous: 'a#'+'b' differs from 'a'+'#b' (and ';', ':' inside values)", () => {
    expect(encodeRow(text2, ["a#", "b"])).not.toBe(encodeRow(text2, ["a", "#b"]));
    expect(encodeRow(text2, ["a;", "b"])).not.toBe(encodeRow(text2, ["a", ";b"]));
    expect(encodeRow(text2, ["1:a", "b"])).not.toBe(encodeRow(text2, ["1", ":ab"]));
    expect(encodeRow(text2, ["s1:x;", ""])).not.toBe(encodeRow(text2, ["", "s1:x;"]));
    expect(encodeRow(text2, [null, ""])).not.toBe(encodeRow(text2, ["", null]));
    expect(checksumOf(text2, [["a#", "b"]]).hash).not.toBe(checksumOf(text2, [["a", "#b"]]).hash);
  });

  test("floats by their bits: -0 differs from 0; one NaN; neighbours differ", () => {
    expect(encodeValue("float64", -0)).not.toBe(encodeValue("float64", 0));
    expect(encodeValue("float64", 0)).toBe("f0000000000000000;");
    expect(encodeValue("float64", 1)).toBe("f3ff0000000000000;");
    expect(encodeValue("float64", -0)).toBe("f8000000000000000;");
    expect(encodeValue("float64", Number.NaN)).toBe(encodeValue("float64", -Number.NaN));
    expect(encodeValue("float64", 0.30000000000000004)).not.toBe(encodeValue("float64", 0.3));
    expect(encodeValue("float64", Infinity)).not.toBe(encodeValue("float64", -Infinity));
  });

  test("each type has its own tag; decimals by numeric identity", () => {
    expect(encodeValue("int64", 1n)).toBe("i1;");
    expect(encodeValue("boolean", true)).toBe("b1;");
    expect(encodeValue("boolean", false)).toBe("b0;");
    expect(encodeValue("decimal", "1.50")).toBe(encodeValue("decimal", "1.5"));
    expect(encodeValue("decimal", "1.5")).toBe("d3:1.5;");
    expect(encodeValue("decimal", "1e2")).toBe(encodeValue("decimal", "100"));
    expect(encodeValue("text", "1")).not.toBe(encodeValue("int64", 1n));
    expect(encodeValue("text", "x")).not.toBe(encodeValue("json", "x"));
    expect(encodeValue("blob", new Uint8Array([0, 255]))).toBe("x2:00ff;");
    expect(encodeValue("blob", new Uint8Array(0))).not.toBe(encodeValue("blob", null));
    // A Buffer view into a larger pool encodes only its own bytes.
    const pool = Buffer.from([9, 9, 1, 2, 9]);
    expect(encodeValue("blob", pool.subarray(2, 4))).toBe("x2:0102;");
    expect(encodeValue("date", new SqlDate(-1))).toBe("D-1;");
    expect(encodeValue("timestamp", new SqlTimestamp(-1n))).toBe("t-1;");
    expect(encodeValue("timestamptz", new SqlTimestamp(-1n))).toBe("T-1;");
    expect(encodeValue("text", "😀")).toBe("s2:😀;");
  });

  test("a value of the wrong JS type for its column is an internal error, not a silent encoding", () => {
    const cases: Array<[LogicalType, Value]> = [
      ["int64", 1],
      ["boolean", 1],
      ["float64", 1n],
      ["decimal", 1.5],
      ["text", 1],
      ["json", 1],
      ["blob", "x"],
      ["date", "2024-01-01"],
      ["timestamp", 0],
      ["timestamptz", new SqlDate(0)],
      ["uuid" as LogicalType, "x"],
    ];
    for (const [type, value] of cases) {
      try {
        encodeValue(type, value);
        expect.unreachable(`${type} accepted ${String(value)}`);
      } catch (error) {
        expect(isMdmError(error, ErrorCodes.INTERNAL), type).toBe(true);
      }
    }
  });
});

describe("hash64", () => {
  test("is deterministic, 2×32 bits, and spreads small changes", () => {
    expect(hash64("abc")).toEqual(hash64("abc"));
    const [a, b] = hash64("abc");
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(2 ** 32);
    expect(b).toBeLessThan(2 ** 32);
    const seen = new Set<string>();
    for (let i = 0; i < 20000; i++) seen.add(hash64(`i${i};`).join(":"));
    expect(seen.size).toBe(20000);
  });
});

describe("TableChecksum", () => {
  const columns: ColumnDef[] = [
    { name: "id", type: "int64" },
    { name: "x", type: "float64" },
    { name: "s", type: "text" },
  ];
  const rows: Value[][] = [
    [1n, 0.5, "a"],
    [2n, Number.NaN, null],
    [3n, -0, ""],
    [4n, null, "NULL"],
  ];

  test("is independent of row order", () => {
    const forward = checksumOf(columns, rows);
    const backward = checksumOf(columns, [...rows].reverse());
    const shuffled = checksumOf(columns, [rows[2], rows[0], rows[3], rows[1]] as Value[][]);
    expect(backward).toEqual(forward);
    expect(shuffled).toEqual(forward);
    expect(forward.count).toBe(4);
    expect(forward.hash).toMatch(/^sum64:[0-9a-f]{16}$/);
  });

  test("detects a single changed value, including NULL↔'' and -0↔0", () => {
    const base = checksumOf(columns, rows).hash;
    const variants: Value[][][] = [
      [[1n, 0.5, "b"], rows[1], rows[2], rows[3]] as Value[][],
      [rows[0], [2n, null, null], rows[2], rows[3]] as Value[][],
      [rows[0], rows[1], [3n, 0, ""], rows[3]] as Value[][],
      [rows[0], rows[1], [3n, -0, null], rows[3]] as Value[][],
      [rows[0], rows[1], rows[2], [4n, null, null]] as Value[][],
    ];
    for (const variant of variants) expect(checksumOf(columns, variant).hash).not.toBe(base);
  });

  test("C5: duplicates that change together, (A,A) → (B,B), are detected (additive, not XOR)", () => {
    const A: Value[] = [1n, 1, "a"];
    const B: Value[] = [2n, 2, "b"];
    const before = checksumOf(columns, [A, A, B]);
    const swapped = checksumOf(columns, [B, B, A]);
    expect(swapped.count).toBe(before.count);
    expect(swapped.hash).not.toBe(before.hash);
    // and the pair alone: XOR of (A,A) and of (B,B) would both be 0
    expect(checksumOf(columns, [A, A]).hash).not.toBe(checksumOf(columns, [B, B]).hash);
    expect(checksumOf(columns, [A, A]).hash).not.toBe(checksumOf(columns, []).hash);
  });

  test("a missing row and an extra row are both detected; the empty table has a defined checksum", () => {
    const full = checksumOf(columns, rows);
    expect(checksumOf(columns, rows.slice(1)).hash).not.toBe(full.hash);
    expect(checksumOf(columns, [...rows, rows[0] as Value[]]).hash).not.toBe(full.hash);
    expect(checksumOf(columns, [])).toEqual({ count: 0, hash: "sum64:0000000000000000" });
  });

  test("the 64-bit sum carries from the low half into the high half", () => {
    // Enough rows that the low 32-bit sums overflow many times; order still does not matter.
    const many: Value[][] = Array.from({ length: 5000 }, (_, i) => [BigInt(i), i / 7, `r${i}`]);
    const a = checksumOf(columns, many);
    const b = checksumOf(columns, [...many].reverse());
    expect(a).toEqual(b);
    expect(a.count).toBe(5000);
  });

  test("decimals hash by numeric identity, on the fast path and off it", () => {
    const dec: ColumnDef[] = [{ name: "d", type: "decimal" }];
    const forms = ["1.50", "1.5", "1.500000", "+1.5", "01.5", "15e-1", "0.15E1"];
    const expected = checksumOf(dec, [["1.5"]]).hash;
    for (const form of forms) expect(checksumOf(dec, [[form]]).hash, form).toBe(expected);
    for (const zero of ["0", "-0", "0.000", "-0.000", "-0.", "0e5", "-00.0"]) expect(checksumOf(dec, [[zero]]).hash, zero).toBe(checksumOf(dec, [["0"]]).hash);
    // Each value hashes as its canonical text; distinct numbers never share a hash here.
    const values = ["10", "1", "100", "1.05", "1.005", "-1.5", "12345678901234567890.1234567890", "NaN", "Infinity", "-Infinity", "0.1", "-0.1"];
    for (const v of values) expect(checksumOf(dec, [[v]]).hash, v).toBe(checksumOf(dec, [[canonicalDecimal(v)]]).hash);
    expect(new Set(values.map((v) => checksumOf(dec, [[v]]).hash)).size).toBe(values.length);
  });

  test("integers and timestamps either side of 2^53 and at the 64-bit limits all hash apart", () => {
    const ints: ColumnDef[] = [{ name: "i", type: "int64" }];
    const big = [0n, 1n, -1n, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) + 1n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)];
    const hashes = big.map((v) => checksumOf(ints, [[v]]).hash);
    expect(new Set(hashes).size).toBe(big.length);
    expect(checksumOf(ints, [[2n ** 53n + 1n]]).hash).toBe(hashes[8]);
    const ts: ColumnDef[] = [{ name: "t", type: "timestamp" }];
    expect(new Set(big.map((v) => checksumOf(ts, [[new SqlTimestamp(v)]]).hash)).size).toBe(big.length);
  });

  test("text, blobs and column types: lengths, odd tails and types are all part of the hash", () => {
    const t1: ColumnDef[] = [{ name: "s", type: "text" }];
    const texts = ["", "a", "ab", "abc", "\u0000", "\u0000\u0000", "😀", "a\u0000"];
    expect(new Set(texts.map((v) => checksumOf(t1, [[v]]).hash)).size).toBe(texts.length);
    const b1: ColumnDef[] = [{ name: "b", type: "blob" }];
    const blobs = [[], [0], [0, 0], [0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5], [255]].map((b) => new Uint8Array(b));
    expect(new Set(blobs.map((v) => checksumOf(b1, [[v]]).hash)).size).toBe(blobs.length);
    // A Buffer view hashes its own bytes only.
    expect(checksumOf(b1, [[Buffer.from([9, 1, 2, 9]).subarray(1, 3)]]).hash).toBe(checksumOf(b1, [[new Uint8Array([1, 2])]]).hash);
    // The same JS value in a column of another type is another row.
    expect(checksumOf(t1, [["x"]]).hash).not.toBe(checksumOf([{ name: "s", type: "json" }], [["x"]]).hash);
    expect(checksumOf(text2, [["a", null]]).hash).not.toBe(checksumOf(text2, [[null, "a"]]).hash);
    // More than 32 columns: the NULL bitmap takes a second word.
    const wide: ColumnDef[] = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, type: "text" }));
    const row = (nullAt: number): Value[] => wide.map((_, i) => (i === nullAt ? null : ""));
    expect(new Set([0, 31, 32, 39].map((i) => checksumOf(wide, [row(i)]).hash)).size).toBe(4);
  });

  test("a value of the wrong JS type for its column, or an unknown type, is an internal error", () => {
    for (const [type, value] of [["int64", 1], ["float64", 1n], ["decimal", 1.5], ["text", 1], ["blob", "x"], ["date", "2024-01-01"], ["timestamp", 0], ["boolean", 0]] as Array<[LogicalType, Value]>) {
      const sum = new TableChecksum([{ name: "c", type }]);
      expect(() => sum.add([value]), type).toThrow(expect.objectContaining({ code: ErrorCodes.INTERNAL }));
    }
    expect(() => new TableChecksum([{ name: "c", type: "uuid" as LogicalType }])).toThrow(expect.objectContaining({ code: ErrorCodes.INTERNAL }));
  });
});

describe("TableChecksum, a row from its parts", () => {
  // Every logical type: b, i, f, d (decimal(18,4)), du (decimal), s, x, day, at, attz, j.
  const columns = conformance.EVERY_TYPE_COLUMNS;
  const bits = (hex: string): number => new DataView(Buffer.from(hex, "hex").buffer.slice(0)).getFloat64(0);
  const rows: Value[][] = [
    [true, 0n, 0, "0", "0.000", "", new Uint8Array([]), new SqlDate(0), new SqlTimestamp(0n), new SqlTimestamp(0n), "{}"],
    [false, -1n, -0, "-1.50", "-0.0001", "a", new Uint8Array([1]), new SqlDate(-719162), new SqlTimestamp(-1n), new SqlTimestamp(-(2n ** 63n)), "[1,2]"],
    [null, 2n ** 63n - 1n, Number.NaN, "12345678901234567890.0001", "100000000000000000000", "ab", new Uint8Array([1, 2, 3, 4, 5]), new SqlDate(2932896), new SqlTimestamp(2n ** 53n + 1n), null, '"é"'],
    [true, -(2n ** 63n), bits("7ff8000000000001"), "NaN", "-Infinity", "é", null, null, null, new SqlTimestamp(2n ** 63n - 1n), null],
    [false, 2n ** 53n, bits("fff0000000000001"), "Infinity", null, "aé", new Uint8Array(256).map((_, k) => k), new SqlDate(-1), new SqlTimestamp(-(2n ** 53n) - 1n), new SqlTimestamp(1n), "😀"],
    [null, null, Number.POSITIVE_INFINITY, "-0.000", "10", "abcé", new Uint8Array([255, 0, 255]), new SqlDate(19000), new SqlTimestamp(1_700_000_000_000_000n), null, "x\u0000y"],
    [null, 1n, Number.MIN_VALUE, "0.1", "0.10", "\u0000", new Uint8Array([0]), new SqlDate(1), new SqlTimestamp(2n ** 32n), null, "😀😀a"],
  ];

  /** A row hashed through the parts API, each value as a wire reader would have it. */
  function fromParts(sum: TableChecksum, row: Value[], textAs: "utf8" | "codeUnits"): void {
    sum.beginRow();
    let nulls = 0;
    row.forEach((v, c) => {
      if (v === null) nulls |= 1 << c;
    });
    sum.nullWord(nulls);
    const view = new DataView(new ArrayBuffer(8));
    const words = (v: bigint) => {
      view.setBigInt64(0, v);
      return [view.getInt32(0), view.getUint32(4)] as const;
    };
    row.forEach((v, c) => {
      if (v === null) return;
      const type = (columns[c] as ColumnDef).type;
      if (type === "boolean") sum.boolean(v as boolean);
      else if (type === "int64") sum.int64Words(...words(v as bigint));
      else if (type === "timestamp" || type === "timestamptz") sum.int64Words(...words((v as SqlTimestamp).micros));
      else if (type === "float64") {
        view.setFloat64(0, v as number);
        sum.floatWords(view.getUint32(0), view.getUint32(4));
      } else if (type === "decimal") {
        const canonical = canonicalDecimal(v as string);
        if (/^-?\d/.test(canonical)) sum.codeUnits(Array.from(canonical, (ch) => ch.charCodeAt(0)), canonical.length);
        else sum.decimal(v as string);
      } else if (type === "blob") sum.bytes(v as Uint8Array);
      else if (type === "date") sum.days((v as SqlDate).days);
      else if (textAs === "utf8") {
        // In the middle of a larger buffer, as a wire reader sees it.
        const bytes = Buffer.concat([Buffer.from([0xff, 0x41]), Buffer.from(v as string, "utf8"), Buffer.from([0xff])]);
        sum.utf8(bytes, 2, bytes.length - 1);
      } else {
        const units = Array.from({ length: (v as string).length }, (_, k) => (v as string).charCodeAt(k));
        sum.codeUnits(units, units.length);
      }
    });
    sum.endRow();
  }

  test("equals add() for every type, NaN payloads, the 64-bit limits, non-ASCII text at odd and even places", () => {
    const expected = checksumOf(columns, rows);
    for (const textAs of ["utf8", "codeUnits"] as const) {
      const sum = new TableChecksum(columns);
      for (const row of rows) fromParts(sum, row, textAs);
      expect(sum.toJSON(), textAs).toEqual(expected);
    }
    // Row by row too: a difference in one row cannot hide behind another's.
    for (const row of rows) {
      const sum = new TableChecksum(columns);
      fromParts(sum, row, "utf8");
      expect(sum.hash).toBe(checksumOf(columns, [row]).hash);
    }
  });

  test("floatWords: every NaN bit pattern hashes as add(NaN); infinities and -0 by their bits", () => {
    const f: ColumnDef[] = [{ name: "f", type: "float64" }];
    const words = (high: number, low: number) => {
      const sum = new TableChecksum(f);
      sum.beginRow();
      sum.nullWord(0);
      sum.floatWords(high, low);
      sum.endRow();
      return sum.hash;
    };
    const nan = checksumOf(f, [[Number.NaN]]).hash;
    for (const [high, low] of [[0x7ff80000, 0], [0x7ff80000, 1], [0x7ff00000, 1], [0xfff00000, 1], [0xffffffff, 0xffffffff], [0x7fffffff, 0]]) {
      expect(words(high, low), `${high.toString(16)} ${low.toString(16)}`).toBe(nan);
    }
    expect(words(0x7ff00000, 0)).toBe(checksumOf(f, [[Number.POSITIVE_INFINITY]]).hash);
    expect(words(0xfff00000, 0)).toBe(checksumOf(f, [[Number.NEGATIVE_INFINITY]]).hash);
    expect(words(0x80000000, 0)).toBe(checksumOf(f, [[-0]]).hash);
    expect(words(0, 0)).toBe(checksumOf(f, [[0]]).hash);
    expect(words(0x80000000, 0)).not.toBe(words(0, 0));
  });

  test("a changed part changes the hash (the parts API is not blind to any of them)", () => {
    const base = new TableChecksum(columns);
    fromParts(base, rows[4] as Value[], "utf8");
    const variants: Value[][] = [
      [true, ...(rows[4] as Value[]).slice(1)],
      (rows[4] as Value[]).map((v, c) => (c === 1 ? 2n ** 53n + 1n : v)),
      (rows[4] as Value[]).map((v, c) => (c === 5 ? "aè" : v)),
      (rows[4] as Value[]).map((v, c) => (c === 8 ? new SqlTimestamp(-(2n ** 53n)) : v)),
    ];
    for (const variant of variants) {
      const sum = new TableChecksum(columns);
      fromParts(sum, variant, "utf8");
      expect(sum.hash).not.toBe(base.hash);
    }
  });
});

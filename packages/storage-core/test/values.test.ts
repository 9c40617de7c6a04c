import { describe, expect, test } from "vitest";
import {
  ErrorCodes,
  SqlDate,
  SqlTimestamp,
  canonicalDecimal,
  civilFromDays,
  columnNormalizer,
  daysFromCivil,
  decimalDigits,
  decimalFromNumber,
  formatValue,
  inferColumns,
  isSqlDate,
  isSqlTimestamp,
  plainDecimal,
  valuesEqual,
  type ColumnDef,
  type LogicalType,
  type Value,
} from "../src/index.js";
import { codeOf } from "./helpers/error-code.js";

const col = (type: LogicalType, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name: "c", type, ...extra });

describe("SqlDate (A19)", () => {
  test.each([
    ["0001-01-01", -719162],
    ["1900-02-28", -25509],
    ["1969-12-31", -1],
    ["1970-01-01", 0],
    ["2000-02-29", 11016],
    ["9999-12-31", 2932896],
  ])("%s is day %i and formats back exactly", (text, days) => {
    const date = SqlDate.parse(text);
    expect(date.days).toBe(days);
    expect(date.toString()).toBe(text);
    expect(JSON.stringify({ d: date })).toBe(`{"d":"${text}"}`);
    expect(new SqlDate(days).equals(date)).toBe(true);
  });

  test("does not depend on the process time zone (no Date involved)", () => {
    // Same answer as UTC Date arithmetic for a range of days.
    for (let days = -800_000; days <= 3_000_000; days += 997) {
      const iso = new Date(days * 86_400_000).toISOString().slice(0, 10);
      if (!iso.startsWith("-") && !iso.startsWith("+")) expect(new SqlDate(days).toString()).toBe(iso);
    }
  });

  test("years beyond 0001..9999 use a sign and six digits; year 0 is 1 BC", () => {
    expect(SqlDate.fromParts(0, 1, 1).toString()).toBe("0000-01-01");
    expect(SqlDate.fromParts(-4712, 1, 1).toString()).toBe("-004712-01-01");
    expect(SqlDate.fromParts(10000, 1, 1).toString()).toBe("+010000-01-01");
    expect(SqlDate.parse("-004712-01-01").year).toBe(-4712);
    expect(SqlDate.parse("+010000-01-01").year).toBe(10000);
  });

  test("invalid dates are refused", () => {
    for (const text of ["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-1-1", "20240101", "yesterday", "2024-01-01T00:00"]) {
      expect(codeOf(() => SqlDate.parse(text)), text).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    expect(codeOf(() => SqlDate.fromParts(2024, 2, 30))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new SqlDate(1.5))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new SqlDate(Number.NaN))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("civil <-> days round-trip over four centuries", () => {
    for (let d = -146097; d <= 146097 * 2; d += 13) {
      const [y, m, day] = civilFromDays(d);
      expect(daysFromCivil(y, m, day)).toBe(d);
    }
  });

  test("brand check works, structural look-alikes fail", () => {
    expect(isSqlDate(new SqlDate(0))).toBe(true);
    expect(isSqlDate({ days: 0 })).toBe(false);
    expect(isSqlDate(null)).toBe(false);
    expect(new SqlDate(0).equals({ days: 0 })).toBe(false);
  });
});

describe("SqlTimestamp (A20, A21)", () => {
  test.each([
    ["2024-01-01 00:00:00.123456", 1704067200123456n],
    ["1969-12-31 23:59:59.999999", -1n],
    ["1960-01-01 00:00:00.000001", -315619199999999n],
    ["1970-01-01 00:00:00.000000", 0n],
    ["0001-01-01 00:00:00.000000", -62135596800000000n],
    ["9999-12-31 23:59:59.999999", 253402300799999999n],
    ["2024-03-31 02:30:00.000000", 1711852200000000n], // a DST gap in Rome: just a wall-clock reading here
  ])("%s is %i µs and formats back exactly", (text, micros) => {
    const ts = SqlTimestamp.parse(text);
    expect(ts.micros).toBe(micros);
    expect(ts.toString()).toBe(text);
    expect(ts.toISOString()).toBe(`${text.replace(" ", "T")}Z`);
    expect(JSON.stringify(ts)).toBe(`"${text}"`);
    expect(new SqlTimestamp(micros).equals(ts)).toBe(true);
  });

  test("before 1970 with a sub-millisecond part is not shifted (the getRowObjectsJS bug)", () => {
    const ts = SqlTimestamp.parse("1960-01-01T00:00:00.000001");
    expect(ts.split()).toEqual({ days: -3653, microsOfDay: 1n });
    expect(ts.toString()).toBe("1960-01-01 00:00:00.000001");
  });

  test("offsets give the UTC instant", () => {
    const utc = SqlTimestamp.parse("2024-01-01 00:00:00Z").micros;
    expect(SqlTimestamp.parse("2024-01-01 00:00:00+00").micros).toBe(utc);
    expect(SqlTimestamp.parse("2024-01-01 05:00:00+05").micros).toBe(utc);
    expect(SqlTimestamp.parse("2023-12-31 12:00:00-12").micros).toBe(utc);
    expect(SqlTimestamp.parse("2024-01-01T05:30:00+05:30").micros).toBe(utc);
    expect(SqlTimestamp.parse("2024-01-01T05:30:00+0530").micros).toBe(utc);
    expect(SqlTimestamp.parse("2024-01-01 00:00:00 z").micros).toBe(utc);
    for (const bad of ["2024-01-01 00:00:00+99", "2024-01-01 00:00:00+05:75", "2024-01-01 00:00:00-2400"]) {
      expect(codeOf(() => SqlTimestamp.parse(bad)), bad).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });

  test("shorter forms: date only, minutes only, fewer fractional digits, nine zero digits", () => {
    expect(SqlTimestamp.parse("2024-01-01").toString()).toBe("2024-01-01 00:00:00.000000");
    expect(SqlTimestamp.parse("2024-01-01 10:20").toString()).toBe("2024-01-01 10:20:00.000000");
    expect(SqlTimestamp.parse("2024-01-01 10:20:30.5").toString()).toBe("2024-01-01 10:20:30.500000");
    expect(SqlTimestamp.parse("2024-01-01 10:20:30.123456000").toString()).toBe("2024-01-01 10:20:30.123456");
  });

  test("sub-microsecond digits are refused with MDM_UNSUPPORTED_VALUE, never rounded", () => {
    expect(codeOf(() => SqlTimestamp.parse("2024-01-01 00:00:00.1234567"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => SqlTimestamp.parse("2024-01-01 00:00:00.000000001"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
  });

  test("invalid timestamps are refused", () => {
    for (const text of ["2024-01-01 24:00:00", "2024-01-01 10:60", "2024-01-01 10:00:60", "2024-02-30 00:00", "noon", "2024-01-01 1:2:3"]) {
      expect(codeOf(() => SqlTimestamp.parse(text)), text).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    expect(codeOf(() => new SqlTimestamp(5 as unknown as bigint))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("fromParts and brand checks", () => {
    expect(SqlTimestamp.fromParts(2024, 1, 1, 0, 0, 0, 123456).micros).toBe(1704067200123456n);
    expect(SqlTimestamp.fromParts(1969, 12, 31, 23, 59, 59, 999999).micros).toBe(-1n);
    expect(SqlTimestamp.fromParts(1970, 1, 1).micros).toBe(0n);
    expect(isSqlTimestamp(new SqlTimestamp(0n))).toBe(true);
    expect(isSqlTimestamp({ micros: 0n })).toBe(false);
    expect(isSqlTimestamp(new SqlDate(0))).toBe(false);
    expect(new SqlTimestamp(1n).equals(new SqlTimestamp(2n))).toBe(false);
  });
});

describe("independent of the process time zone (A19, A20)", () => {
  test.each(["UTC", "Europe/Rome", "America/Los_Angeles", "Pacific/Kiritimati"])("TZ=%s gives the same dates and microseconds", (tz) => {
    const saved = process.env.TZ;
    process.env.TZ = tz; // Node applies a TZ change at once
    try {
      expect(new Date(2024, 0, 1).getTimezoneOffset()).toBe(tz === "Europe/Rome" ? -60 : tz === "America/Los_Angeles" ? 480 : tz === "Pacific/Kiritimati" ? -840 : 0);
      const out = ["1960-01-01 00:00:00.000001", "2024-03-31 02:30:00", "1969-12-31 23:59:59.999999", "2024-01-01 00:00:00+05"].map((t) => SqlTimestamp.parse(t).micros);
      expect(out).toEqual([-315619199999999n, 1711852200000000n, -1n, 1704049200000000n]);
      expect(SqlDate.parse("1960-06-02").days).toBe(-3500);
      expect(SqlDate.parse("0001-01-01").toString()).toBe("0001-01-01");
      expect(SqlTimestamp.parse("2024-03-31 02:30:00").toString()).toBe("2024-03-31 02:30:00.000000");
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe("decimals (A9, A10, A11)", () => {
  test.each([
    ["12345678901234567890.1234567890", "12345678901234567890.1234567890", "12345678901234567890.123456789"],
    ["0.10", "0.10", "0.1"],
    ["0.1", "0.1", "0.1"],
    ["+007.50", "7.50", "7.5"],
    ["-0.000", "0.000", "0"],
    ["-0", "0", "0"],
    ["1e-30", "0.000000000000000000000000000001", "0.000000000000000000000000000001"],
    ["3.0e+5", "300000", "300000"],
    ["1.5E3", "1500", "1500"],
    ["-1.25e-2", "-0.0125", "-0.0125"],
    ["1.23e1", "12.3", "12.3"],
    [".5", "0.5", "0.5"],
    ["5.", "5", "5"],
    ["100", "100", "100"],
    ["NaN", "NaN", "NaN"],
    ["Infinity", "Infinity", "Infinity"],
    ["-Infinity", "-Infinity", "-Infinity"],
  ])("%s → plain %s, canonical %s", (text, plain, canonical) => {
    expect(plainDecimal(text)).toBe(plain);
    expect(canonicalDecimal(text)).toBe(canonical);
    // the plain form is a fixed point: writing it again changes nothing
    expect(plainDecimal(plain)).toBe(plain);
    expect(canonicalDecimal(canonical)).toBe(canonical);
  });

  test("an exponent no engine can hold is refused quickly, not expanded into megabytes", () => {
    expect(codeOf(() => plainDecimal("1e300000000"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => plainDecimal("1e-300000000"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => plainDecimal("1e999999999999999999999"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(plainDecimal("1e1000")).toBe(`1${"0".repeat(1000)}`);
    expect(plainDecimal("1e-16383")).toHaveLength(16385);
  });

  test("non-decimals are refused", () => {
    for (const text of ["", ".", "abc", "1.2.3", "1e", "--1", "0x10", "1,5", "nan", "inf"]) {
      expect(codeOf(() => plainDecimal(text)), text).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });

  test("digits, and numbers turned into exact decimal text", () => {
    expect(decimalDigits("-00123.4500")).toEqual({ integer: 3, fraction: 4 });
    expect(decimalDigits("0.5")).toEqual({ integer: 0, fraction: 1 });
    expect(decimalFromNumber(1e21)).toBe("1000000000000000000000");
    expect(decimalFromNumber(0.1)).toBe("0.1");
    expect(decimalFromNumber(5e-7)).toBe("0.0000005");
    expect(decimalFromNumber(-0)).toBe("0");
    expect(decimalFromNumber(Number.NaN)).toBe("NaN");
    expect(decimalFromNumber(Infinity)).toBe("Infinity");
    expect(decimalFromNumber(-Infinity)).toBe("-Infinity");
  });
});

describe("columnNormalizer accepts the value model and refuses the rest", () => {
  test("NULL is null in every type (undefined too)", () => {
    for (const type of ["boolean", "int64", "float64", "decimal", "text", "blob", "date", "timestamp", "timestamptz", "json"] as const) {
      expect(columnNormalizer(col(type))(null)).toBeNull();
      expect(columnNormalizer(col(type))(undefined)).toBeNull();
    }
  });

  test("boolean (A12)", () => {
    const n = columnNormalizer(col("boolean"));
    expect([true, false, 1, 0, 1n, 0n].map(n)).toEqual([true, false, true, false, true, false]);
    for (const bad of [2, "true", -1, 0.5]) expect(codeOf(() => n(bad))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("int64 (A1, A2): exact bigint, never a rounded number", () => {
    const n = columnNormalizer(col("int64"));
    for (const v of [-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 31n), 2n ** 31n - 1n]) {
      expect(n(v)).toBe(v);
    }
    expect(n(42)).toBe(42n);
    expect(codeOf(() => n(2n ** 63n))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n(-(2n ** 63n) - 1n))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n(2 ** 53))).toBe(ErrorCodes.INVALID_ARGUMENT); // unsafe number: may already be rounded
    expect(codeOf(() => n(1.5))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => n("42"))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("float64 (A6): NaN, ±Inf, -0, subnormals kept", () => {
    const n = columnNormalizer(col("float64"));
    for (const v of [Number.NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e308, 0.1, 0.30000000000000004]) expect(Object.is(n(v), v)).toBe(true);
    expect(Object.is(n(-0), -0)).toBe(true);
    expect(n(2n ** 53n)).toBe(2 ** 53);
    expect(codeOf(() => n(2n ** 53n + 1n))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n("1.5"))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("decimal: exact text, precision and scale enforced", () => {
    const n = columnNormalizer(col("decimal"));
    expect(n("12345678901234567890.1234567890")).toBe("12345678901234567890.1234567890");
    expect(n("1e-30")).toBe("0.000000000000000000000000000001");
    expect(n(12345678901234567890n)).toBe("12345678901234567890");
    expect(n(0.1)).toBe("0.1");
    expect(n("NaN")).toBe("NaN");
    expect(codeOf(() => n("1,5"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => n(true))).toBe(ErrorCodes.INVALID_ARGUMENT);
    const n102 = columnNormalizer(col("decimal", { precision: 10, scale: 2 }));
    expect(n102("0.10")).toBe("0.10");
    expect(n102("12345678.90")).toBe("12345678.90");
    expect(n102("1.500")).toBe("1.500"); // trailing zeros beyond the scale do not change the value
    expect(codeOf(() => n102("0.125"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n102("123456789.1"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(n102("Infinity")).toBe("Infinity"); // specials are the backend's call (capabilities)
    const n380 = columnNormalizer(col("decimal", { precision: 38 }));
    expect(codeOf(() => n380("0.5"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
  });

  test("text (A13, A14, A15, A16)", () => {
    const n = columnNormalizer(col("text"));
    for (const v of ["", " ", "NULL", "\\N", "a\0b", "\0", "😀", "👨‍👩‍👧", "e\u0301", "é", "\u2028", "x".repeat(100_000)]) expect(n(v)).toBe(v);
    expect(codeOf(() => n("\uD800x"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n(1))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("json (A23): text kept byte for byte, objects serialised, invalid JSON refused", () => {
    const n = columnNormalizer(col("json"));
    for (const v of ['{"b":1,"a":2,"a":3}', '{"n":12345678901234567890}', '{"s":"\\u0000"}', "[1.0, 1e2]", "null", '"x"']) expect(n(v)).toBe(v);
    expect(n({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(codeOf(() => n("{a:1}"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n('"\uD800"'))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => n(5))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => n(new Uint8Array([1])))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("blob (A18)", () => {
    const n = columnNormalizer(col("blob"));
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(n(all)).toBe(all);
    expect(n(new Uint8Array(0))).toEqual(new Uint8Array(0));
    expect(n(Buffer.from("héllo"))).toEqual(Buffer.from("héllo"));
    expect(codeOf(() => n("bytes"))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => n([1, 2]))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("date", () => {
    const n = columnNormalizer(col("date"));
    const d = new SqlDate(5);
    expect(n(d)).toBe(d);
    expect((n("0001-01-01") as SqlDate).days).toBe(-719162);
    expect(codeOf(() => n(new Date(0)))).toBe(ErrorCodes.INVALID_ARGUMENT); // never a JS Date
    expect(codeOf(() => n(0))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("timestamp holds wall-clock time: an offset is refused; timestamptz applies it", () => {
    const naive = columnNormalizer(col("timestamp"));
    const tz = columnNormalizer(col("timestamptz"));
    expect((naive("2024-01-01 00:00:00.123456") as SqlTimestamp).micros).toBe(1704067200123456n);
    expect(codeOf(() => naive("2024-01-01 00:00:00+05"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(codeOf(() => naive("2024-01-01 00:00:00Z"))).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect((tz("2024-01-01 05:00:00+05") as SqlTimestamp).micros).toBe(1704067200000000n);
    expect((tz("2024-01-01 00:00:00") as SqlTimestamp).micros).toBe(1704067200000000n);
    const ts = new SqlTimestamp(7n);
    expect(naive(ts)).toBe(ts);
    expect(codeOf(() => naive(new Date()))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => tz(1704067200000))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("an unknown logical type is MDM_UNSUPPORTED_TYPE", () => {
    expect(codeOf(() => columnNormalizer(col("uuid" as LogicalType)))).toBe(ErrorCodes.UNSUPPORTED_TYPE);
  });

  test("errors name the column and its type", () => {
    try {
      columnNormalizer({ name: "age", type: "int64" })("forty");
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('"age"');
      expect((error as { details: Record<string, unknown> }).details).toEqual({ column: "age", type: "int64" });
    }
  });
});

describe("valuesEqual", () => {
  test("NaN equals NaN; -0 differs from 0; NULL only equals NULL", () => {
    expect(valuesEqual("float64", Number.NaN, Number.NaN)).toBe(true);
    expect(valuesEqual("float64", -0, 0)).toBe(false);
    expect(valuesEqual("float64", 0.1, 0.1)).toBe(true);
    expect(valuesEqual("float64", null, Number.NaN)).toBe(false);
    expect(valuesEqual("text", null, "")).toBe(false);
    expect(valuesEqual("text", null, null)).toBe(true);
    expect(valuesEqual("text", "a", "a")).toBe(true);
    expect(valuesEqual("text", "e\u0301", "é")).toBe(false); // no Unicode normalisation
  });

  test("decimals compare numerically; other types by their exact value", () => {
    expect(valuesEqual("decimal", "1.50", "1.5")).toBe(true);
    expect(valuesEqual("decimal", "1e2", "100")).toBe(true);
    expect(valuesEqual("decimal", "0.1", "0.10000000000000000001")).toBe(false);
    expect(valuesEqual("int64", 2n ** 53n, 2n ** 53n + 1n)).toBe(false);
    expect(valuesEqual("int64", 5n, 5n)).toBe(true);
    expect(valuesEqual("blob", new Uint8Array([1, 2]), Buffer.from([1, 2]))).toBe(true);
    expect(valuesEqual("blob", new Uint8Array([]), new Uint8Array([0]))).toBe(false);
    expect(valuesEqual("date", new SqlDate(1), new SqlDate(1))).toBe(true);
    expect(valuesEqual("date", new SqlDate(1), new SqlDate(2))).toBe(false);
    expect(valuesEqual("timestamp", new SqlTimestamp(1n), new SqlTimestamp(1n))).toBe(true);
    expect(valuesEqual("timestamptz", new SqlTimestamp(1n), new SqlTimestamp(2n))).toBe(false);
    expect(valuesEqual("boolean", true, true)).toBe(true);
    expect(valuesEqual("decimal", "1", 1n as unknown as Value)).toBe(false);
  });
});

describe("formatValue", () => {
  test("renders every kind of value for messages", () => {
    expect(formatValue(null)).toBe("NULL");
    expect(formatValue(2n ** 63n - 1n)).toBe("9223372036854775807");
    expect(formatValue(-0)).toBe("-0");
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatValue("a")).toBe('"a"');
    expect(formatValue("x".repeat(100))).toBe(JSON.stringify(`${"x".repeat(80)}...`));
    expect(formatValue(new Uint8Array(3))).toBe("<3 bytes>");
    expect(formatValue(new SqlDate(0))).toBe("1970-01-01");
    expect(formatValue(new SqlTimestamp(0n))).toBe("1970-01-01 00:00:00.000000");
    expect(formatValue(true)).toBe("true");
  });
});

describe("inferColumns", () => {
  test("infers the value model's types, in first-seen column order", () => {
    const columns = inferColumns([
      { id: 1, big: 2n ** 60n, x: 1.5, s: "a", b: true, bytes: new Uint8Array(1), d: new SqlDate(0), t: new SqlTimestamp(0n), empty: null },
      { id: 2, big: 3, x: 2, s: null, later: "z" },
    ]);
    expect(columns.map((c) => [c.name, c.type])).toEqual([
      ["id", "int64"],
      ["big", "int64"],
      ["x", "float64"],
      ["s", "text"],
      ["b", "boolean"],
      ["bytes", "blob"],
      ["d", "date"],
      ["t", "timestamp"],
      ["empty", "text"],
      ["later", "text"],
    ]);
    expect(columns.every((c) => c.nullable === true)).toBe(true);
  });

  test("-0 and unsafe integers are float64, not int64", () => {
    expect(inferColumns([{ z: -0 }])[0]?.type).toBe("float64");
    expect(inferColumns([{ z: 2 ** 60 }])[0]?.type).toBe("float64");
  });

  test("a column that mixes kinds is refused with its name", () => {
    expect(codeOf(() => inferColumns([{ m: 1 }, { m: "one" }]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => inferColumns([{ m: 1n }, { m: 1.5 }]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(() => inferColumns([{ m: true }, { m: "x" }])).toThrow(/"m"/);
  });
});

describe("plainDecimal's fast path", () => {
  test("text already plain comes back as it is; every other text takes the full parse, with the same result", () => {
    const plain = ["0", "7", "-7", "37.0001", "0.0000", "-0.5", "123456789012345678901234567890.123", "10", "-10.00"];
    for (const text of plain) expect(plainDecimal(text)).toBe(text);
    const other: Array<[string, string]> = [
      ["-0", "0"], ["-0.000", "0.000"], ["007", "7"], ["+5", "5"], [".5", "0.5"], ["5.", "5"], ["1e3", "1000"], [" 12.50 ", "12.50"], ["00.10", "0.10"],
    ];
    for (const [text, expected] of other) expect(plainDecimal(text)).toBe(expected);
    expect(() => plainDecimal("1.2.3")).toThrow(/Not a decimal number/);
    expect(() => plainDecimal("-")).toThrow(/Not a decimal number/);
    expect(() => plainDecimal("")).toThrow(/Not a decimal number/);
    // Random texts: a leading space sends them through the full parse; both paths agree.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const chars = "0123456789-.";
    for (let i = 0; i < 20_000; i++) {
      let text = "";
      for (let k = 1 + (next() % 8); k > 0; k--) text += chars[next() % chars.length];
      let fast: string | Error;
      let full: string | Error;
      try {
        fast = plainDecimal(text);
      } catch (error) {
        fast = error as Error;
      }
      try {
        full = plainDecimal(` ${text}`);
      } catch (error) {
        full = error as Error;
      }
      if (typeof fast === "string" || typeof full === "string") expect(fast).toBe(full);
    }
  });
});

import { describe, expect, it } from "vitest";
import { ConversionFailure, SqlDate, SqlTimestamp, compileDateFormat, isMdmError, parseColumnType, valueConverter, type ColumnDef, type Value } from "../src/index.js";

const col = (type: string): ColumnDef => ({ name: "c", ...parseColumnType(type) });
const convert = (from: string, to: string, v: Value, dateFormat?: string) => valueConverter(col(from), col(to), dateFormat === undefined ? {} : { dateFormat })(v);
const failure = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
};

describe("column types chosen by the user", () => {
  it("reads type names, aliases and decimal(p,s), and refuses what is none", () => {
    expect(parseColumnType("int")).toEqual({ type: "int64" });
    expect(parseColumnType(" Decimal(12, 2) ")).toEqual({ type: "decimal", precision: 12, scale: 2 });
    expect(parseColumnType("datetime")).toEqual({ type: "timestamp" });
    expect(parseColumnType("bool")).toEqual({ type: "boolean" });
    for (const bad of ["integer64", "text(3)", "decimal(40,2)", "decimal(2,3)", "int; DROP TABLE x"]) {
      expect(isMdmError(failure(() => parseColumnType(bad)), "MDM_INVALID_ARGUMENT"), bad).toBe(true);
    }
  });

  it("converts text exactly, and names each value that does not convert", () => {
    expect(convert("text", "int64", " +0042 ")).toBe(42n);
    expect(convert("text", "float64", "1e3")).toBe(1000);
    expect(Number.isNaN(convert("text", "float64", "NaN"))).toBe(true);
    expect(convert("text", "decimal(6,2)", "12.50")).toBe("12.50");
    expect(convert("text", "boolean", "Yes")).toBe(true);
    expect(convert("text", "boolean", "0")).toBe(false);
    expect(convert("text", "json", '{"a":[1,2]}')).toBe('{"a":[1,2]}');
    expect((convert("text", "date", "2024-02-29") as SqlDate).toString()).toBe("2024-02-29");
    expect((convert("text", "timestamp", "2024-01-05T10:00:00.25") as SqlTimestamp).toString()).toBe("2024-01-05 10:00:00.250000");
    expect((convert("text", "timestamp", "2024-01-06") as SqlTimestamp).toString()).toBe("2024-01-06 00:00:00.000000");
    expect((convert("text", "timestamptz", "2024-01-05 12:00:00+02:00") as SqlTimestamp).toString()).toBe("2024-01-05 10:00:00.000000");
    expect(convert("text", "int64", null)).toBe(null);
    const cases: Array<[string, string]> = [
      ["int64", "1.5"],
      ["int64", "9223372036854775808"],
      ["float64", "1,5"],
      ["decimal(6,2)", "1.234"],
      ["boolean", "maybe"],
      ["json", "{a:1}"],
      ["date", "2023-02-29"],
      ["date", "01/05/2024"],
      ["timestamp", "2024-01-05 10:00:00Z"],
      ["timestamptz", "2024-01-05 10:00:00"],
      ["timestamp", "2024-01-05 25:00"],
    ];
    for (const [to, text] of cases) {
      const error = failure(() => convert("text", to, text));
      expect(error, `${text} -> ${to}`).toBeInstanceOf(ConversionFailure);
      expect((error as Error).message).toContain(JSON.stringify(text));
      expect((error as ConversionFailure).code).toBe("MDM_UNSUPPORTED_VALUE");
    }
  });

  it("converts between typed values only where nothing changes meaning", () => {
    expect(convert("int64", "boolean", 1n)).toBe(true);
    expect(failure(() => convert("int64", "boolean", 2n))).toBeInstanceOf(ConversionFailure);
    expect(convert("int64", "float64", 2n ** 60n)).toBe(2 ** 60);
    expect(failure(() => convert("int64", "float64", 2n ** 53n + 1n))).toBeInstanceOf(ConversionFailure);
    expect(convert("float64", "int64", 3)).toBe(3n);
    expect(failure(() => convert("float64", "int64", 3.5))).toBeInstanceOf(ConversionFailure);
    expect(convert("decimal", "float64", "0.1")).toBe(0.1);
    expect(failure(() => convert("decimal", "float64", "0.10000000000000000001"))).toBeInstanceOf(ConversionFailure);
    expect(convert("boolean", "int64", true)).toBe(1n);
    expect((convert("date", "timestamp", SqlDate.parse("2024-01-05")) as SqlTimestamp).toString()).toBe("2024-01-05 00:00:00.000000");
    expect(failure(() => convert("timestamp", "date", SqlTimestamp.parse("2024-01-05 00:00:01")))).toBeInstanceOf(ConversionFailure);
    expect(convert("float64", "text", -0)).toBe("-0");
    expect(convert("float64", "text", 1e21)).toBe("1000000000000000000000");
    expect(convert("timestamptz", "text", SqlTimestamp.parse("2024-01-05 10:00:00Z"))).toBe("2024-01-05 10:00:00.000000+00:00");
    for (const [from, to] of [["timestamp", "timestamptz"], ["blob", "text"], ["boolean", "date"], ["json", "int64"]] as const) {
      expect(isMdmError(failure(() => valueConverter(col(from), col(to))), "MDM_INVALID_ARGUMENT"), `${from} -> ${to}`).toBe(true);
    }
  });

  it("parses dates in a strptime format, refusing days that do not exist and texts that do not match", () => {
    const us = compileDateFormat("%m/%d/%Y");
    expect(us.hasTime).toBe(false);
    expect(us.parse("01/05/2024")?.toString()).toBe("2024-01-05 00:00:00.000000");
    expect(us.parse("1/5/2024")?.toString()).toBe("2024-01-05 00:00:00.000000");
    expect(us.parse("02/30/2024")).toBeUndefined();
    expect(us.parse("2024-01-05")).toBeUndefined();
    expect(compileDateFormat("%d %b %Y %I:%M %p").parse("05 Jan 2024 12:30 am")?.toString()).toBe("2024-01-05 00:30:00.000000");
    expect(compileDateFormat("%Y%m%dT%H%M%S.%f%z").parse("20240105T120000.5+0200")?.toString()).toBe("2024-01-05 10:00:00.500000");
    expect(compileDateFormat("%y-%j").parse("24-366")?.toString()).toBe("2024-12-31 00:00:00.000000");
    expect(compileDateFormat("%y-%j").parse("23-366")).toBeUndefined();
    expect((convert("text", "date", "01/05/2024", "%m/%d/%Y") as SqlDate).toString()).toBe("2024-01-05");
    expect(failure(() => convert("text", "date", "13/05/2024", "%m/%d/%Y"))).toBeInstanceOf(ConversionFailure);
    for (const bad of ["%m/%d", "%Y %q", "%Y %I:%M"]) expect(isMdmError(failure(() => compileDateFormat(bad)), "MDM_INVALID_ARGUMENT"), bad).toBe(true);
    expect(isMdmError(failure(() => valueConverter(col("text"), col("timestamptz"), { dateFormat: "%Y-%m-%d" })), "MDM_INVALID_ARGUMENT")).toBe(true);
  });
});

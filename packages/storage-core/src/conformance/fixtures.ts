import { type BackendCapabilities, type ColumnDef, type Value } from "../types.js";
import { SqlDate, SqlTimestamp, decimalDigits, plainDecimal } from "../values.js";

/** A capability flag of `backend.capabilities.values`. */
export type ValueCapability = keyof BackendCapabilities["values"];

/**
 * What a backend must do with one fixture value:
 * - `hold`: write it and read it back exactly;
 * - `refuse`: reject the write with MDM_UNSUPPORTED_VALUE, leaving nothing behind;
 * - `either`: one of the two (only where the capabilities cannot say more, documented per fixture).
 * A value that comes back changed is a failure in every case.
 */
export type FidelityExpectation = "hold" | "refuse" | "either";

export interface FidelityValue {
  /** Short name of the value in reports (`2^63-1`, `NaN`, `U+2028`). */
  label: string;
  /** The value as written, in the value model of @mdm/storage-core. */
  value: Value;
  /** True when the fixture's `capability` decides whether this value may be refused. */
  governed?: boolean;
}

export interface FidelityFixture {
  /** Unique name; the conformance test of this fixture is titled `fidelity: <name>`. */
  name: string;
  /** Adversarial cases of research/reliability.md §3 this fixture covers (`A1`, `A6`, ...). */
  cases: string[];
  /** The column the values are written into (one column per fixture, nullable). */
  column: ColumnDef;
  values: FidelityValue[];
  /**
   * The capability flag (of `backend.capabilities.values`) that governs the values marked
   * `governed`. Absent: every backend must hold every value of this fixture.
   */
  capability?: ValueCapability;
  /** Why some values may be refused, for reports and the README. */
  note?: string;
}

const v = (label: string, value: Value, governed = false): FidelityValue => (governed ? { label, value, governed } : { label, value });
const NULL = v("NULL", null);

const ts = (text: string) => SqlTimestamp.parse(text);
const date = (text: string) => SqlDate.parse(text);

/** Deterministic text of `bytes` UTF-8 bytes mixing ASCII, 2-, 3- and 4-byte characters. */
export function longText(bytes: number, seed = 1): string {
  const pieces = ["abcdefghij", "é", "→", "😀", "0123456789", " ", "\n", "ß", "字"];
  let state = seed >>> 0 || 1;
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const piece = pieces[state % pieces.length] as string;
    const length = Buffer.byteLength(piece, "utf8");
    if (size + length > bytes) {
      parts.push("x".repeat(bytes - size));
      size = bytes;
    } else {
      parts.push(piece);
      size += length;
    }
  }
  return parts.join("");
}

function allBytes(): Uint8Array {
  const out = new Uint8Array(256);
  for (let i = 0; i < 256; i++) out[i] = i;
  return out;
}

let longTextValues: FidelityValue[] | undefined;

/**
 * The fidelity fixtures: every adversarial value case of research/reliability.md §2/§3 (A1-A24)
 * that a single backend can be checked against. Each fixture is one column plus values; NULL is in
 * every fixture (A24). The conformance suite writes each fixture with `writeBatches`, reads it back
 * and compares with `valuesEqual`; see `expectedOutcome()` for the hold/refuse rule.
 */
export const fidelityFixtures: readonly FidelityFixture[] = Object.freeze([
  {
    name: "int64 boundaries",
    cases: ["A1", "A2"],
    column: { name: "value", type: "int64" },
    values: [
      v("-2^63", -(2n ** 63n)),
      v("-2^53-1", -(2n ** 53n) - 1n),
      v("-2^31", -(2n ** 31n)),
      v("-1", -1n),
      v("0", 0n),
      v("2^31-1", 2n ** 31n - 1n),
      v("2^53", 2n ** 53n),
      v("2^53+1", 2n ** 53n + 1n),
      v("2^63-1", 2n ** 63n - 1n),
      NULL,
    ],
  },
  {
    name: "float64 finite values",
    cases: ["A6", "A8"],
    column: { name: "value", type: "float64" },
    values: [
      v("0", 0),
      v("5e-324 (smallest subnormal)", 5e-324),
      v("1.7976931348623157e308 (largest)", 1.7976931348623157e308),
      v("-1.7976931348623157e308", -1.7976931348623157e308),
      v("0.1", 0.1),
      v("0.30000000000000004", 0.30000000000000004),
      v("-118.49259312072274", -118.49259312072274),
      v("2^53+2", 2 ** 53 + 2),
      NULL,
    ],
  },
  {
    name: "float64 NaN",
    cases: ["A6", "A7", "A24"],
    column: { name: "value", type: "float64" },
    capability: "nan",
    note: "NaN must come back as NaN (never NULL) or be refused when capabilities.values.nan is false.",
    values: [v("NaN", Number.NaN, true), v("1.5", 1.5), NULL],
  },
  {
    name: "float64 infinities",
    cases: ["A6"],
    column: { name: "value", type: "float64" },
    capability: "infinity",
    values: [v("+Infinity", Number.POSITIVE_INFINITY, true), v("-Infinity", Number.NEGATIVE_INFINITY, true), v("-2.5", -2.5), NULL],
  },
  {
    name: "float64 negative zero",
    cases: ["A6"],
    column: { name: "value", type: "float64" },
    capability: "negativeZero",
    note: "-0 must keep its sign bit (Object.is) or be refused when capabilities.values.negativeZero is false.",
    values: [v("-0.0", -0, true), v("+0.0", 0), NULL],
  },
  {
    name: "decimal(38,10)",
    cases: ["A9", "A11"],
    column: { name: "value", type: "decimal", precision: 38, scale: 10 },
    capability: "maxDecimalPrecision",
    note: "Refused when the declared precision (38) exceeds capabilities.values.maxDecimalPrecision.",
    values: [
      v("12345678901234567890.1234567890", "12345678901234567890.1234567890", true),
      v("-9999999999999999999999999999.9999999999 (38 digits)", "-9999999999999999999999999999.9999999999", true),
      v("0.10", "0.10", true),
      v("-0.0000000001", "-0.0000000001", true),
      v("0", "0", true),
      NULL,
    ],
  },
  {
    name: "decimal(10,2)",
    cases: ["A11"],
    column: { name: "value", type: "decimal", precision: 10, scale: 2 },
    capability: "maxDecimalPrecision",
    values: [v("0.10", "0.10", true), v("-0.01", "-0.01", true), v("12345678.90", "12345678.90", true), v("-99999999.99", "-99999999.99", true), NULL],
  },
  {
    name: "decimal(50,20)",
    cases: ["A9"],
    column: { name: "value", type: "decimal", precision: 50, scale: 20 },
    capability: "maxDecimalPrecision",
    note: "Backends with maxDecimalPrecision < 50 must refuse these values (MDM_UNSUPPORTED_VALUE, or MDM_UNSUPPORTED_TYPE for the column).",
    values: [
      v("30+20 digits", "123456789012345678901234567890.12345678901234567890", true),
      v("-1e-20", "-0.00000000000000000001", true),
      NULL,
    ],
  },
  {
    name: "decimal unconstrained",
    cases: ["A9"],
    column: { name: "value", type: "decimal" },
    capability: "maxDecimalPrecision",
    note: "An unconstrained value needs as many digits as it has; beyond maxDecimalPrecision a backend may hold it exactly (text encoding) or refuse it.",
    values: [
      v("1e-30 as plain text", "0.000000000000000000000000000001", true),
      v("12345678901234567890.1234567890", "12345678901234567890.1234567890", true),
      v("-123.456", "-123.456", true),
      v("0.10", "0.10", true),
      v("40 integer digits", "1234567890123456789012345678901234567890", true),
      NULL,
    ],
  },
  {
    name: "decimal NaN and infinities",
    cases: ["A10"],
    column: { name: "value", type: "decimal" },
    capability: "nan",
    note: "Must be held by backends with unconstrained decimals that hold NaN/Infinity (maxDecimalPrecision = Infinity and nan/infinity true); elsewhere held exactly or refused, never 0 or NULL.",
    values: [v("NaN", "NaN", true), v("Infinity", "Infinity", true), v("-Infinity", "-Infinity", true), v("1.5", "1.5"), NULL],
  },
  {
    name: "boolean with NULL",
    cases: ["A12"],
    column: { name: "value", type: "boolean" },
    values: [v("true", true), v("false", false), NULL],
  },
  {
    name: "empty string, NULL and look-alikes",
    cases: ["A13"],
    column: { name: "value", type: "text" },
    values: [v("empty string", ""), NULL, v("one space", " "), v("'NULL'", "NULL"), v("'\\N'", "\\N"), v("'null'", "null"), v("tab", "\t")],
  },
  {
    name: "NUL bytes in text",
    cases: ["A14"],
    column: { name: "value", type: "text" },
    capability: "nulInText",
    values: [v("a\\0b", "a\u0000b", true), v("\\0 alone", "\u0000", true), v("trailing \\0", "abc\u0000", true), v("plain", "abc"), NULL],
  },
  {
    name: "unicode text",
    cases: ["A15"],
    column: { name: "value", type: "text" },
    values: [
      v("emoji", "😀"),
      v("ZWJ family", "👨‍👩‍👧"),
      v("combining e + U+0301", "e\u0301"),
      v("precomposed U+00E9", "\u00e9"),
      v("RTL Arabic", "مرحبا بالعالم"),
      v("RTL mark", "\u200fabc\u200e"),
      v("U+2028 line separator", "a\u2028b"),
      v("U+2029 paragraph separator", "a\u2029b"),
      v("BOM", "\ufeffbom"),
      v("CJK", "数据集"),
      v("quotes and backslashes", `'"\\'; DROP TABLE t; --`),
      v("CRLF", "line1\r\nline2"),
      NULL,
    ],
  },
  {
    name: "long text",
    cases: ["A17"],
    column: { name: "value", type: "text" },
    // Made on first use: at import, 1.1 MB of text cost every mdm command 0.1 s of its start (CPU profile of `mdm --version`).
    get values() {
      return (longTextValues ??= [v("100 KB", longText(100 * 1024, 7)), v("1 MB", longText(1024 * 1024, 11)), NULL]);
    },
  },
  {
    name: "dates",
    cases: ["A19"],
    column: { name: "value", type: "date" },
    values: [
      v("0001-01-01", date("0001-01-01")),
      v("1900-02-28", date("1900-02-28")),
      v("1969-12-31", date("1969-12-31")),
      v("1970-01-01", date("1970-01-01")),
      v("2000-02-29", date("2000-02-29")),
      v("2024-03-31 (DST change in Europe)", date("2024-03-31")),
      v("9999-12-31", date("9999-12-31")),
      NULL,
    ],
  },
  {
    name: "timestamps with microseconds",
    cases: ["A20"],
    column: { name: "value", type: "timestamp" },
    values: [
      v("1960-01-01 00:00:00.000001", ts("1960-01-01 00:00:00.000001")),
      v("1969-12-31 23:59:59.999999", ts("1969-12-31 23:59:59.999999")),
      v("1970-01-01 00:00:00", ts("1970-01-01 00:00:00")),
      v("2024-01-01 00:00:00.123456", ts("2024-01-01 00:00:00.123456")),
      v("2024-03-31 02:30 (DST gap in Rome)", ts("2024-03-31 02:30:00")),
      v("0001-01-01 00:00:00", ts("0001-01-01 00:00:00")),
      v("9999-12-31 23:59:59.999999", ts("9999-12-31 23:59:59.999999")),
      NULL,
    ],
  },
  {
    name: "timestamptz",
    cases: ["A21"],
    column: { name: "value", type: "timestamptz" },
    values: [
      v("2024-01-01 00:00:00+05", ts("2024-01-01 00:00:00+05")),
      v("2024-01-01 00:00:00+00", ts("2024-01-01 00:00:00+00")),
      v("2024-01-01 00:00:00-12", ts("2024-01-01 00:00:00-12")),
      v("1969-12-31 23:59:59.999999Z", ts("1969-12-31 23:59:59.999999Z")),
      v("2024-06-30 12:34:56.654321Z", ts("2024-06-30 12:34:56.654321Z")),
      NULL,
    ],
  },
  {
    name: "blobs",
    cases: ["A18"],
    column: { name: "value", type: "blob" },
    values: [
      v("empty blob", new Uint8Array(0)),
      v("bytes 0x00..0xFF", allBytes()),
      v("valid UTF-8 bytes", new Uint8Array(Buffer.from("héllo wörld", "utf8"))),
      v("single 0x00", new Uint8Array([0])),
      NULL,
    ],
  },
  {
    name: "JSON texts",
    cases: ["A23"],
    column: { name: "value", type: "json" },
    values: [
      v("duplicate keys", '{"b":1,"a":2,"a":3}'),
      v("big integer", '{"n":12345678901234567890}'),
      v("nested", '{"a":[1,{"b":[true,false,null]}],"c":{"d":{"e":"f"}}}'),
      v("number spellings", "[1.0, 1e2, -0]"),
      v("whitespace kept", '{ "k" :  "v" }'),
      v("unicode", '{"emoji":"😀","rtl":"مرحبا"}'),
      v("JSON null literal", "null"),
      v("JSON string scalar", '"text"'),
      NULL,
    ],
  },
  {
    name: "JSON with a \\u0000 escape",
    cases: ["A23", "A14"],
    column: { name: "value", type: "json" },
    capability: "nulInJson",
    values: [v('{"s":"\\u0000"}', '{"s":"\\u0000"}', true), v('{"s":"ok"}', '{"s":"ok"}'), NULL],
  },
] satisfies FidelityFixture[]);

/** Digits a plain decimal needs (before plus after the point, at least 1). */
function digitsNeeded(value: string): number {
  const { integer, fraction } = decimalDigits(plainDecimal(value));
  return Math.max(1, integer + fraction);
}

function isDecimalSpecial(value: Value): boolean {
  return value === "NaN" || value === "Infinity" || value === "-Infinity";
}

/**
 * What a backend with these capabilities must do with one value of a fixture. The single rule the
 * conformance suite applies (see the README for the table):
 * - values not marked `governed` (and every NULL) must be held;
 * - boolean flags (`nan`, `infinity`, `negativeZero`, `nulInText`, `nulInJson`): held when true, refused when false;
 * - `maxDecimalPrecision`, declared precision p: held when p <= max, refused otherwise;
 * - `maxDecimalPrecision`, unconstrained column: held when the value's digits fit max, otherwise either;
 * - decimal NaN/±Infinity: held when max is Infinity and `nan`/`infinity` are true, otherwise either.
 */
export function expectedOutcome(fixture: FidelityFixture, item: FidelityValue, capabilities: BackendCapabilities): FidelityExpectation {
  const caps = capabilities.values;
  const column = fixture.column;
  if (columnMayBeRefused(column, capabilities)) return item.value === null ? "either" : "refuse";
  if (!item.governed || item.value === null || fixture.capability === undefined) return "hold";
  if (column.type === "decimal" && typeof item.value === "string") {
    if (isDecimalSpecial(item.value)) {
      const flag = item.value === "NaN" ? caps.nan : caps.infinity;
      return caps.maxDecimalPrecision === Number.POSITIVE_INFINITY && flag ? "hold" : "either";
    }
    if (column.precision !== undefined) return column.precision <= caps.maxDecimalPrecision ? "hold" : "refuse";
    return digitsNeeded(item.value) <= caps.maxDecimalPrecision ? "hold" : "either";
  }
  const flag = caps[fixture.capability];
  return flag === true ? "hold" : "refuse";
}

/**
 * True when the column itself is beyond the backend (a decimal whose declared precision exceeds
 * maxDecimalPrecision): creating it may fail with MDM_UNSUPPORTED_TYPE, and even a NULL may be refused.
 */
export function columnMayBeRefused(column: ColumnDef, capabilities: BackendCapabilities): boolean {
  return column.type === "decimal" && column.precision !== undefined && column.precision > capabilities.values.maxDecimalPrecision;
}

/** The fixture names, in order (the conformance test titles are `fidelity: <name>`). */
export function fidelityFixtureNames(): string[] {
  return fidelityFixtures.map((f) => f.name);
}

/** A fixture by name (throws on an unknown name, listing the known ones). */
export function getFidelityFixture(name: string): FidelityFixture {
  const found = fidelityFixtures.find((f) => f.name === name);
  if (!found) throw new Error(`No fidelity fixture ${JSON.stringify(name)}; known: ${fidelityFixtureNames().join(", ")}`);
  return found;
}

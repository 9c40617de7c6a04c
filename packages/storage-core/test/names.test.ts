import { describe, expect, test } from "vitest";
import {
  DATASET_NAME_MAX_LENGTH,
  ErrorCodes,
  IDENTIFIER_MAX_BYTES,
  isSystemTable,
  isWellFormed,
  normalizeDatasetName,
  quoteIdentifier,
  quoteLiteral,
  validateIdentifier,
} from "../src/index.js";
import { codeOf } from "./helpers/error-code.js";

describe("normalizeDatasetName", () => {
  test("trims and lower-cases as MDM does", () => {
    expect(normalizeDatasetName("  Train_Set ")).toBe("train_set");
    expect(normalizeDatasetName("Titanic")).toBe("titanic");
    expect(normalizeDatasetName("house-prices_2024")).toBe("house-prices_2024");
    expect(normalizeDatasetName("a")).toBe("a");
    expect(normalizeDatasetName("0")).toBe("0");
  });

  test("59 characters fit (63-byte PostgreSQL identifier minus mdm_); 60 do not", () => {
    expect(DATASET_NAME_MAX_LENGTH).toBe(59);
    expect(normalizeDatasetName("a".repeat(59))).toBe("a".repeat(59));
    expect(codeOf(() => normalizeDatasetName("a".repeat(60)))).toBe(ErrorCodes.INVALID_NAME);
    expect(`mdm_${"a".repeat(59)}`.length).toBe(63);
    // A caller with a longer prefix can lower the limit.
    expect(codeOf(() => normalizeDatasetName("a".repeat(50), 40))).toBe(ErrorCodes.INVALID_NAME);
  });

  const hostile: Array<[string, unknown]> = [
    ["traversal", "../x"],
    ["deep traversal", "../../etc/passwd"],
    ["absolute path", "/abs"],
    ["absolute path 2", "/abs/path"],
    ["slash", "a/b"],
    ["backslash", "a\\b"],
    ["dot", "."],
    ["dot dot", ".."],
    ["empty", ""],
    ["quote injection", 'a"; drop'],
    ["single quote", "O'Brien"],
    ["semicolon", "a;b"],
    ["NUL", "x\0y"],
    ["200 characters", "a".repeat(200)],
    ["300 characters", "b".repeat(300)],
    ["unicode letters", "Ünïcødé"],
    ["emoji", "data😀"],
    ["a Kelvin sign that lower-cases to ASCII k", "\u212Aaggle"],
    ["cyrillic a", "\u0430bc"],
    ["leading dash", "-rf"],
    ["only a dash", "-"],
    ["spaces", "   "],
    ["tabs and newlines", "\t\n "],
    ["inner space", "my data"],
    ["dot inside", "a.b"],
    ["percent", "a%20b"],
    ["not a string (number)", 42],
    ["not a string (null)", null],
    ["not a string (object)", { toString: () => "x" }],
  ];
  test.each(hostile)("rejects %s with MDM_INVALID_NAME", (_label, name) => {
    expect(codeOf(() => normalizeDatasetName(name))).toBe(ErrorCodes.INVALID_NAME);
  });

  test("the error names the offending name but never turns it into a path", () => {
    try {
      normalizeDatasetName("../x");
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('"../x"');
      expect((error as { details: Record<string, unknown> }).details.name).toBe("../x");
    }
  });
});

describe("validateIdentifier", () => {
  test("accepts names that are only safe when quoted (they are always quoted)", () => {
    for (const name of ['x"; DROP TABLE t; --', "col \"1\"", "select", "My Table", "Ünïcødé", "a\\\"b", "a\\", "😀", "e\u0301"]) {
      expect(validateIdentifier(name)).toBe(name);
    }
  });

  test("rejects NUL, lone surrogates, empty and whitespace-only names, non-strings", () => {
    expect(codeOf(() => validateIdentifier("a\0b", "column"))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier("\0"))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier("\uD800x"))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier("x\uDC00"))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier(""))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier("   "))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier(undefined))).toBe(ErrorCodes.INVALID_NAME);
    expect(codeOf(() => validateIdentifier(7))).toBe(ErrorCodes.INVALID_NAME);
  });

  test("the length limit counts UTF-8 bytes, not characters", () => {
    expect(validateIdentifier("a".repeat(63), "column", 63)).toHaveLength(63);
    expect(codeOf(() => validateIdentifier("a".repeat(64), "column", 63))).toBe(ErrorCodes.INVALID_NAME);
    // 32 two-byte characters = 64 bytes: too long for PostgreSQL although only 32 characters.
    expect(codeOf(() => validateIdentifier("é".repeat(32), "column", 63))).toBe(ErrorCodes.INVALID_NAME);
    expect(validateIdentifier("é".repeat(31), "column", 63)).toHaveLength(31);
    expect(validateIdentifier("x".repeat(IDENTIFIER_MAX_BYTES))).toHaveLength(IDENTIFIER_MAX_BYTES);
    expect(codeOf(() => validateIdentifier("x".repeat(IDENTIFIER_MAX_BYTES + 1)))).toBe(ErrorCodes.INVALID_NAME);
  });

  test("the message says what kind of name it was", () => {
    expect(() => validateIdentifier("", "schema")).toThrow(/schema name/);
  });
});

describe("quoting", () => {
  test("quoteIdentifier wraps in double quotes and doubles embedded quotes", () => {
    expect(quoteIdentifier("train")).toBe('"train"');
    expect(quoteIdentifier('x"; DROP TABLE t; --')).toBe('"x""; DROP TABLE t; --"');
    expect(quoteIdentifier('""')).toBe('""""""');
    expect(quoteIdentifier("a\\")).toBe('"a\\"'); // backslash is not an escape
    expect(quoteIdentifier("it's")).toBe('"it\'s"');
    expect(codeOf(() => quoteIdentifier("a\0b"))).toBe(ErrorCodes.INVALID_NAME);
  });

  test("quoteLiteral wraps in single quotes and doubles embedded quotes; NUL is refused", () => {
    expect(quoteLiteral("/tmp/O'Brien.db")).toBe("'/tmp/O''Brien.db'");
    expect(quoteLiteral("")).toBe("''");
    expect(quoteLiteral("''")).toBe("''''''");
    expect(quoteLiteral("a\\'b")).toBe("'a\\''b'");
    expect(codeOf(() => quoteLiteral("a\0b"))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe("helpers", () => {
  test("isWellFormed finds unpaired surrogates only", () => {
    expect(isWellFormed("😀")).toBe(true);
    expect(isWellFormed("\uD83D\uDE00")).toBe(true);
    expect(isWellFormed("\uD83D")).toBe(false);
    expect(isWellFormed("\uDE00\uD83D")).toBe(false);
    expect(isWellFormed("")).toBe(true);
  });

  test("isWellFormed works without String.prototype.isWellFormed (older runtimes)", () => {
    const proto = String.prototype as { isWellFormed?: () => boolean };
    const saved = proto.isWellFormed;
    delete proto.isWellFormed;
    try {
      expect(isWellFormed("ok😀")).toBe(true);
      expect(isWellFormed("\uD800x")).toBe(false);
      expect(isWellFormed("x\uDC00")).toBe(false);
    } finally {
      proto.isWellFormed = saved;
    }
  });

  test("system tables start with an underscore", () => {
    expect(isSystemTable("_metadata")).toBe(true);
    expect(isSystemTable("_columns")).toBe(true);
    expect(isSystemTable("train")).toBe(false);
  });
});

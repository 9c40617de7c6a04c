import { describe, expect, test } from "vitest";
import {
  ErrorCodes,
  SqlDate,
  SqlTimestamp,
  mapPostgresError,
  pgColumnFromCatalog,
  pgColumnType,
  pgCreateOnce,
  pgIsDuplicateObject,
  pgCopyTextRow,
  pgCreateTableSql,
  pgDatasetDatabaseName,
  pgFloatText,
  pgParam,
  pgParseBytea,
  pgParseDate,
  pgParseTimestamp,
  pgShouldFallBack,
  pgSslPlan,
  pgStagingStem,
  pgStartupOptions,
  pgTextEncoder,
  pgTextParser,
  pgValueChecker,
  plainDecimalDigits,
  postgresConfigFromUrl,
  decimalDigits,
  canonicalDecimal,
  plainDecimal,
  PG_OID,
  type ColumnDef,
} from "../src/index.js";

describe("PostgreSQL text encoding and parsing", () => {
  test("floats keep -0, NaN and infinities", () => {
    expect([-0, 0, NaN, Infinity, -Infinity, 0.1, 1e-320].map(pgFloatText)).toEqual(["-0", "0", "NaN", "Infinity", "-Infinity", "0.1", "1e-320"]);
    const parse = pgTextParser(PG_OID.float8);
    expect(Object.is(parse("-0"), -0)).toBe(true);
    expect(parse("NaN")).toBeNaN();
    expect(parse("-Infinity")).toBe(-Infinity);
  });

  test("int8 and numeric never pass through a JS number", () => {
    expect(pgTextParser(PG_OID.int8)("9223372036854775807")).toBe(9223372036854775807n);
    expect(pgTextParser(PG_OID.int4)("-5")).toBe(-5n);
    expect(pgTextParser(PG_OID.numeric)("12345678901234567890.123456789")).toBe("12345678901234567890.123456789");
    expect(pgTextParser(PG_OID.json)('{"a":1,"a":2}')).toBe('{"a":1,"a":2}');
  });

  test("dates round-trip with BC years and never at local midnight", () => {
    for (const d of [SqlDate.parse("1960-06-02"), SqlDate.fromParts(0, 1, 1), SqlDate.fromParts(-4713, 11, 24), SqlDate.fromParts(5874897, 12, 31)]) {
      const text = pgTextEncoder({ name: "d", type: "date" })(d);
      expect(pgParseDate(text).days).toBe(d.days);
    }
    expect(pgTextEncoder({ name: "d", type: "date" })(SqlDate.fromParts(0, 1, 1))).toBe("0001-01-01 BC");
    expect(() => pgParseDate("infinity")).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
  });

  test("timestamps to the microsecond, offsets (with seconds) applied, BC", () => {
    const ts = SqlTimestamp.parse("1960-01-01 00:00:00.000001");
    expect(pgParseTimestamp(pgTextEncoder({ name: "t", type: "timestamp" })(ts)).micros).toBe(ts.micros);
    expect(pgTextEncoder({ name: "t", type: "timestamptz" })(ts)).toBe("1960-01-01 00:00:00.000001+00");
    expect(pgParseTimestamp("1800-01-01 05:53:28+05:53:28").micros).toBe(SqlTimestamp.parse("1800-01-01T00:00:00Z").micros);
    expect(pgParseTimestamp("2024-03-10 16:00:00.5+05:30").toISOString()).toBe("2024-03-10T10:30:00.500000Z");
    expect(pgParseTimestamp("0044-03-15 12:00:00 BC").micros).toBe(SqlTimestamp.fromParts(-43, 3, 15, 12).micros);
    expect(() => pgParseTimestamp("-infinity")).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
  });

  test("bytea hex into a Uint8Array of its own", () => {
    const bytes = pgParseBytea("\\x00ff5c");
    expect([...bytes]).toEqual([0, 255, 92]);
    expect(bytes.byteOffset).toBe(0);
    expect(() => pgParseBytea("abc")).toThrow();
  });

  test("COPY text rows escape what COPY would read as syntax", () => {
    const columns: ColumnDef[] = [{ name: "s", type: "text" }, { name: "x", type: "blob" }, { name: "f", type: "float64" }];
    const row = pgCopyTextRow(["a\tb\nc\\d\re", new Uint8Array([1]), -0], columns.map(pgTextEncoder), [true, true, false]);
    expect(row).toBe("a\\tb\\nc\\\\d\\re\t\\\\x01\t-0\n");
    expect(pgCopyTextRow([null, null, null], columns.map(pgTextEncoder), [true, true, false])).toBe("\\N\t\\N\t\\N\n");
  });

  test("parameters: exact text, bytes as Buffer, NUL refused", () => {
    expect(pgParam(2n ** 63n - 1n)).toBe("9223372036854775807");
    expect(pgParam(-0)).toBe("-0");
    expect(Buffer.isBuffer(pgParam(new Uint8Array([1])))).toBe(true);
    expect(() => pgParam("a\0b")).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
  });

  test("plainDecimalDigits equals decimalDigits(canonicalDecimal())", () => {
    for (const s of ["0", "0.000", "1", "100.500", "-1.25", "123456789012345678901234567890.1234567890", "-0.0000000001", "5e3", "-0.00", "007.10", "1.", ".5"]) {
      const plain = plainDecimal(s);
      expect(plainDecimalDigits(plain)).toEqual(decimalDigits(canonicalDecimal(plain)));
    }
  });
});

describe("PostgreSQL types, names and refusals", () => {
  test("DDL and catalog mapping agree", () => {
    expect(pgColumnType({ name: "d", type: "decimal", precision: 12, scale: 2 })).toBe("numeric(12,2)");
    expect(() => pgColumnType({ name: "d", type: "decimal", precision: 1001 })).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_TYPE }));
    expect(pgColumnFromCatalog("d", PG_OID.numeric, ((12 << 16) | 2) + 4, true)).toEqual({ name: "d", type: "decimal", nullable: false, precision: 12, scale: 2 });
    expect(pgCreateTableSql('a"b', [{ name: "x", type: "json", nullable: false }])).toBe('CREATE TABLE "a""b" ("x" json NOT NULL)');
  });

  test("identifiers over 63 bytes are refused, never truncated", () => {
    expect(() => pgCreateTableSql("t".repeat(64), [{ name: "x", type: "text" }])).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_NAME }));
    expect(() => pgCreateTableSql("t", [{ name: "é".repeat(32), type: "text" }])).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_NAME }));
    expect(() => pgDatasetDatabaseName("mdm_", "x".repeat(60))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_NAME }));
    expect(Buffer.byteLength(pgStagingStem("mdm_", "x".repeat(59))) + 16).toBeLessThanOrEqual(63);
  });

  test("values outside PostgreSQL are refused", () => {
    expect(() => pgValueChecker({ name: "s", type: "text" })?.("a\0")).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
    expect(() => pgValueChecker({ name: "d", type: "date" })?.(SqlDate.fromParts(-4713, 11, 23))).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
    expect(() => pgValueChecker({ name: "t", type: "timestamp" })?.(SqlTimestamp.fromParts(294277, 1, 1))).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
    expect(() => pgValueChecker({ name: "n", type: "decimal", precision: 5 })?.("Infinity")).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED_VALUE }));
    expect(pgValueChecker({ name: "n", type: "decimal" })?.("-Infinity")).toBeUndefined();
  });
});

describe("PostgreSQL connections and errors", () => {
  const base = { host: "db.example", sslrootcert: null, sslcert: null, sslkey: null };
  test("sslmode has libpq's meaning", () => {
    expect(pgSslPlan({ ...base, sslmode: "disable" })).toMatchObject({ ssl: false, fallback: undefined });
    expect(pgSslPlan({ ...base, sslmode: "prefer" })).toMatchObject({ ssl: { rejectUnauthorized: false }, fallback: false });
    expect(pgSslPlan({ ...base, sslmode: "require" })).toMatchObject({ ssl: { rejectUnauthorized: false }, fallback: undefined });
    expect(pgSslPlan({ ...base, sslmode: "verify-full" })).toMatchObject({ ssl: { rejectUnauthorized: true, servername: "db.example" }, fallback: undefined });
    expect(pgSslPlan({ ...base, host: "10.0.0.1", sslmode: "verify-full" }).ssl).not.toHaveProperty("servername");
    expect(() => pgSslPlan({ ...base, sslmode: "verify-ca", sslrootcert: "/nonexistent/ca.pem" })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
    expect(() => pgSslPlan({ ...base, sslmode: "no-verify" as never })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
    const prefer = pgSslPlan({ ...base, sslmode: "prefer" });
    expect(pgShouldFallBack(prefer, new Error("The server does not support SSL connections"))).toBe(true);
    expect(pgShouldFallBack(prefer, new Error("self-signed certificate"))).toBe(false);
    expect(pgShouldFallBack(pgSslPlan({ ...base, sslmode: "require" }), new Error("The server does not support SSL connections"))).toBe(false);
  });

  test("startup options escape spaces and quote the search_path", () => {
    expect(pgStartupOptions("my schema")).toContain('-c search_path="my\\ schema",pg_catalog');
    expect(pgStartupOptions()).toContain("-c TimeZone=UTC");
  });

  test("a URL gives settings and is never echoed", () => {
    expect(postgresConfigFromUrl("postgresql://u:p%40ss@h:5433/db?sslmode=require")).toEqual({ host: "h", port: 5433, user: "u", password: "p@ss", database: "db", sslmode: "require" });
    try {
      postgresConfigFromUrl("postgresql://u:secret-pw@[bad");
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("secret-pw");
    }
  });

  test("a CREATE that lost a race is recognised as 'exists'", async () => {
    expect(pgIsDuplicateObject({ code: "23505", constraint: "pg_database_datname_index" })).toBe(true);
    expect(pgIsDuplicateObject({ code: "42P07" })).toBe(true);
    expect(pgIsDuplicateObject({ code: "23505", constraint: "users_pkey" })).toBe(false);
    const raced = Object.assign(new Error("duplicate key"), { code: "23505", constraint: "pg_type_typname_nsp_index" });
    await expect(pgCreateOnce("table", "t", () => Promise.reject(raced))).rejects.toMatchObject({ code: ErrorCodes.TABLE_EXISTS });
    await expect(pgCreateOnce("dataset", "mdm_x", () => Promise.reject(raced))).rejects.toMatchObject({ code: ErrorCodes.DATASET_EXISTS });
    await expect(pgCreateOnce("table", "t", () => Promise.reject(new Error("other")))).rejects.toThrow("other");
  });

  test("errors get stable codes and lose the password", () => {
    const where = { host: "h", port: 5432, user: "u", database: "d", secrets: ["hunter2"] };
    const cases: Array<[object, string]> = [
      [{ code: "28P01", message: "password authentication failed for user u" }, ErrorCodes.AUTHENTICATION_FAILED],
      [{ code: "3D000", message: 'database "d" does not exist' }, ErrorCodes.DATABASE_NOT_FOUND],
      [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }, ErrorCodes.CONNECTION_FAILED],
      [{ code: "DEPTH_ZERO_SELF_SIGNED_CERT", message: "self-signed certificate" }, ErrorCodes.SSL_FAILED],
      [{ message: "The server does not support SSL connections" }, ErrorCodes.SSL_FAILED],
      [{ code: "57014", message: "canceling statement due to statement timeout" }, ErrorCodes.TIMEOUT],
      [{ code: "42P01", message: 'relation "t" does not exist' }, ErrorCodes.TABLE_NOT_FOUND],
      [{ code: "42601", message: "syntax error with hunter2" }, ErrorCodes.QUERY_FAILED],
    ];
    for (const [error, code] of cases) {
      const mapped = mapPostgresError(Object.assign(new Error((error as { message: string }).message), error), "query", where);
      expect(mapped.code).toBe(code);
      expect(JSON.stringify(mapped) + mapped.message + String(mapped.stack)).not.toContain("hunter2");
      expect(mapped.cause).toBeUndefined();
    }
  });

  test("a server out of space (53100 disk_full) is MDM_DISK_FULL naming the server and database", () => {
    const error = Object.assign(new Error('could not extend file "pg_tblspc/16390/PG_15_202209061/16391/16392": No space left on device'), { code: "53100" });
    const mapped = mapPostgresError(error, "write_batches", { host: "h", port: 5432, database: "mdm_x.staging.abc" });
    expect(mapped.code).toBe(ErrorCodes.DISK_FULL);
    expect(mapped.message).toMatch(/^PostgreSQL server out of disk space \(h:5432, database "mdm_x\.staging\.abc"\): could not extend file/);
    expect(mapped.details).toMatchObject({ sqlstate: "53100", host: "h", database: "mdm_x.staging.abc" });
  });

  test("a connection that could not be made and one that was lost say so", () => {
    const map = (error: object) => mapPostgresError(Object.assign(new Error((error as { message: string }).message), error), "query", { host: "h", port: 5432 });
    const refused = map({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" });
    expect(refused.message).toMatch(/^Cannot connect to PostgreSQL \(h:5432\)/);
    for (const lost of [
      { code: "57P01", severity: "FATAL", message: "terminating connection due to administrator command" },
      { message: "Connection terminated unexpectedly" },
      { code: "ECONNRESET", message: "read ECONNRESET" },
    ]) {
      const mapped = map(lost);
      expect(mapped.code).toBe(ErrorCodes.CONNECTION_FAILED);
      expect(mapped.message).toMatch(/^Lost the connection to PostgreSQL \(h:5432\)/);
    }
  });
});

describe("pgConnectionLost", () => {
  test("tells a lost connection from an SQL error on a healthy session", async () => {
    const { pgConnectionLost, MdmError, ErrorCodes } = await import("../src/index.js");
    const serverError = (code: string) => Object.assign(new Error("x"), { code, severity: "FATAL" });
    expect(pgConnectionLost(serverError("57P01"))).toBe(true); // pg_terminate_backend
    expect(pgConnectionLost(serverError("08006"))).toBe(true);
    expect(pgConnectionLost(serverError("42P01"))).toBe(false); // undefined table
    expect(pgConnectionLost(serverError("23505"))).toBe(false);
    expect(pgConnectionLost(Object.assign(new Error("socket"), { code: "EPIPE" }))).toBe(true);
    expect(pgConnectionLost(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(pgConnectionLost(new MdmError(ErrorCodes.TABLE_NOT_FOUND, "t", { cause: serverError("42P01") }))).toBe(false);
    expect(pgConnectionLost(new MdmError(ErrorCodes.QUERY_FAILED, "q", { cause: serverError("57P01") }))).toBe(true);
    expect(pgConnectionLost(new MdmError(ErrorCodes.CONNECTION_FAILED, "gone"))).toBe(true);
    expect(pgConnectionLost(new MdmError(ErrorCodes.UNSUPPORTED_VALUE, "NUL"))).toBe(false);
  });
});

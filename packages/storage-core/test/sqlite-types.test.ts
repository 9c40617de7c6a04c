import { describe, expect, test } from "vitest";
import {
  ErrorCodes,
  SqlDate,
  SqlTimestamp,
  isMdmError,
  mapSqliteError,
  sqliteAffinity,
  sqliteColumnFromDeclared,
  sqliteColumnFromValues,
  sqliteCreateTableSql,
  sqliteDateText,
  sqliteFillParams,
  sqliteInsertSql,
  sqliteParseDate,
  sqliteParseTimestamp,
  sqlitePragmas,
  sqliteReader,
  sqliteRowsPerInsert,
  sqliteTimestampText,
  sqliteValueChecker,
  sqliteWriters,
  type Value,
} from "../src/index.js";

describe("SQLite declared types", () => {
  test("affinity follows SQLite's rules in their order", () => {
    expect(["INTEGER", "BIGINT", "POINT", "VARCHAR(3)", "CLOB", "BLOB", "", "REAL", "FLOAT", "DOUBLE", "NUMERIC", "DECIMAL(3,1)", "JSON", "TIMESTAMPTZ", "DECIMAL_TEXT", "JSON_TEXT"].map(sqliteAffinity)).toEqual(
      ["INTEGER", "INTEGER", "INTEGER", "TEXT", "TEXT", "BLOB", "BLOB", "REAL", "REAL", "REAL", "NUMERIC", "NUMERIC", "NUMERIC", "NUMERIC", "TEXT", "TEXT"],
    );
  });

  test("declared types map to logical columns, ours first, then affinity", () => {
    const types = ["BOOLEAN", "bool", "DATE", "DATETIME", "timestamp with time zone", "DECIMAL_TEXT(38, 4)", "JSON_TEXT", "BIGINT", "NVARCHAR(9)", "NUMERIC(10)", "", "DOUBLE PRECISION"].map((t) => sqliteColumnFromDeclared("c", t));
    expect(types.map((c) => c.type)).toEqual(["boolean", "boolean", "date", "timestamp", "timestamptz", "decimal", "json", "int64", "text", "decimal", "blob", "float64"]);
    expect(types[5]).toMatchObject({ precision: 38, scale: 4 });
    expect(types[9]).toMatchObject({ precision: 10, scale: 0 });
    expect(sqliteColumnFromDeclared("c", "INTEGER", true).nullable).toBe(false);
  });

  test("DDL quotes every identifier and keeps precision", () => {
    expect(sqliteCreateTableSql('t"x', [{ name: "a b", type: "decimal", precision: 5, scale: 2, nullable: false }, { name: "j", type: "json" }])).toBe('CREATE TABLE "t""x" ("a b" DECIMAL_TEXT(5,2) NOT NULL, "j" JSON_TEXT)');
    expect(sqliteInsertSql("t", [{ name: "a", type: "int64" }, { name: "b", type: "text" }], 2)).toBe('INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?)');
    expect([sqliteRowsPerInsert(11), sqliteRowsPerInsert(2), sqliteRowsPerInsert(11, 32), sqliteRowsPerInsert(50_000)]).toEqual([2978, 10_000, 32, 1]);
  });
});

describe("SQLite values", () => {
  test("date and timestamp text matches the value model's own rendering", () => {
    const micros = [0n, -1n, 86_399_999_999n, -86_400_000_001n, 9_000_000_000_000_000n, -62_135_596_800_000_000n, 253_402_300_799_999_999n];
    for (let i = 0; i < 2000; i++) micros.push(BigInt(Math.floor((Math.random() * 2 - 1) * 9.5e15)));
    for (const m of micros) {
      const ts = new SqlTimestamp(m);
      expect(sqliteTimestampText(ts)).toBe(ts.toString());
      expect(sqliteParseTimestamp(ts.toString(), "refused").micros).toBe(m);
      const d = new SqlDate(ts.split().days);
      expect(sqliteDateText(d)).toBe(d.toString());
      expect(sqliteParseDate(d.toString()).days).toBe(d.days);
    }
    // Days that share a slot of the formatting cache (8,192 apart), in both orders and again: each its own text.
    for (const base of [-800_000, -8192, -1, 0, 1, 19_000, 2_900_000]) {
      for (const days of [base, base + 8192, base, base - 8192, base + 8192 * 3, base]) {
        expect(sqliteDateText(new SqlDate(days))).toBe(new SqlDate(days).toString());
      }
    }
  });

  test("timestamp parsing accepts what pandas writes and checks the zone", () => {
    expect(sqliteParseTimestamp("2024-01-02T03:04:05", "refused").toString()).toBe("2024-01-02 03:04:05.000000");
    expect(sqliteParseTimestamp("2024-01-02 03:04", "refused").toString()).toBe("2024-01-02 03:04:00.000000");
    expect(sqliteParseTimestamp("2024-01-02 03:04:05.000000+02:00", "required").toString()).toBe("2024-01-02 01:04:05.000000");
    expect(sqliteParseTimestamp("2024-01-02 03:04:05.000001+00:00", "required").toString()).toBe("2024-01-02 03:04:05.000001");
    expect(() => sqliteParseTimestamp("2024-01-02 03:04:05+02:00", "refused")).toThrow(/offset/);
    expect(() => sqliteParseTimestamp("2024-01-02 03:04:05", "required")).toThrow(/no time-zone offset/);
    expect(() => sqliteParseTimestamp("2023-02-29 00:00:00.000000", "refused")).toThrow();
  });

  test("writers bind what SQLite keeps; readers give the value model back", () => {
    const columns = [
      { name: "b", type: "boolean" as const },
      { name: "d", type: "date" as const },
      { name: "tz", type: "timestamptz" as const },
      { name: "x", type: "blob" as const },
      { name: "i", type: "int64" as const },
    ];
    const row: Value[] = [true, SqlDate.parse("1900-03-01"), SqlTimestamp.parse("2000-01-01 00:00:00Z"), new Uint8Array([1, 2]), 5n];
    const flat = sqliteFillParams([row], 0, 1, sqliteWriters(columns), []);
    expect(flat.slice(0, 3)).toEqual([1, "1900-03-01", "2000-01-01 00:00:00.000000+00:00"]);
    expect(Buffer.isBuffer(flat[3])).toBe(true);
    expect(flat[4]).toBe(5n);
    const back = columns.map((c, i) => sqliteReader(c, "t")(flat[i] as never, 0));
    expect(back[0]).toBe(true);
    expect((back[1] as SqlDate).equals(row[1])).toBe(true);
    expect((back[2] as SqlTimestamp).equals(row[2])).toBe(true);
  });

  test("drift is refused with table, column and row; NaN and -0 are refused before writing", () => {
    let error: unknown;
    try {
      sqliteReader({ name: "id", type: "int64" }, "train")("toto", 7);
    } catch (e) {
      error = e;
    }
    expect(isMdmError(error, ErrorCodes.UNSUPPORTED_VALUE)).toBe(true);
    expect((error as { details: unknown }).details).toMatchObject({ table: "train", column: "id", row: 7, storageClass: "TEXT" });
    const check = sqliteValueChecker({ name: "f", type: "float64" });
    expect(() => check?.(Number.NaN)).toThrow(/NaN/);
    expect(() => check?.(-0)).toThrow(/-0\.0/);
    expect(() => check?.(Number.NEGATIVE_INFINITY)).not.toThrow();
    expect(sqliteValueChecker({ name: "t", type: "text" })).toBeUndefined();
  });

  test("expression columns are typed from their values", () => {
    expect(sqliteColumnFromValues("n", [1n, null, 2n]).type).toBe("int64");
    expect(sqliteColumnFromValues("n", [1n, 2.5]).type).toBe("float64");
    expect(sqliteColumnFromValues("n", [null]).type).toBe("text");
    expect(() => sqliteColumnFromValues("n", [1n, "a"])).toThrow(/mixes/);
  });
});

describe("SQLite PRAGMAs and errors", () => {
  test("PRAGMAs of the defaults, and what they read back", () => {
    expect(sqlitePragmas({}, { withBusyTimeout: true }).map((p) => [p.sql, p.expected])).toEqual([
      ["PRAGMA journal_mode = WAL", "wal"],
      ["PRAGMA synchronous = 1", 1],
      ["PRAGMA cache_size = -64000", -64000],
      ["PRAGMA temp_store = 2", 2],
      ["PRAGMA mmap_size = 268435456", 268435456],
      ["PRAGMA busy_timeout = 5000", 5000],
    ]);
    expect(sqlitePragmas({}, { memory: true })[0]?.expected).toBe("memory");
    expect(() => sqlitePragmas({ synchronous: "SOMETIMES" as "FULL" })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
    expect(() => sqlitePragmas({ mmap_size: -1 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }));
  });

  test("result codes map to stable error codes", () => {
    const err = (code: string) => Object.assign(new Error(`boom ${code}`), { code });
    expect(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_READONLY_DBMOVED", "SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_ERROR", "SQLITE_INTERRUPT", "SQLITE_PERM"].map((c) => mapSqliteError(err(c), "ctx").code)).toEqual([
      "MDM_LOCKED", "MDM_LOCKED", "MDM_LOCKED", "MDM_DISK_FULL", "MDM_READ_ONLY", "MDM_CONNECTION_FAILED", "MDM_CONNECTION_FAILED", "MDM_QUERY_FAILED", "MDM_QUERY_FAILED", "MDM_ABORTED", "MDM_PERMISSION_DENIED",
    ]);
    expect(mapSqliteError(new RangeError("too big"), "ctx").code).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(mapSqliteError(new TypeError("This database connection is busy executing a query"), "ctx").code).toBe(ErrorCodes.LOCKED);
    expect(mapSqliteError(err("SQLITE_FULL"), "ctx").details).toMatchObject({ sqliteCode: "SQLITE_FULL" });
  });

  test("a full disk is MDM_DISK_FULL however it reaches the driver: SQLITE_FULL, the WAL index that cannot grow, a raw ENOSPC", () => {
    const err = (code: string) => Object.assign(new Error(`boom ${code}`), { code });
    // SQLITE_IOERR_SHMSIZE is what opening or writing a WAL database on a full tmpfs gives (measured).
    expect(mapSqliteError(err("SQLITE_IOERR_SHMSIZE"), "ctx").code).toBe(ErrorCodes.DISK_FULL);
    expect(mapSqliteError(err("SQLITE_IOERR_WRITE"), "ctx").code).toBe(ErrorCodes.CONNECTION_FAILED);
    expect(mapSqliteError(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" }), "ctx").code).toBe(ErrorCodes.DISK_FULL);
  });
});

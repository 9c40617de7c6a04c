/**
 * SQLite type mapping shared by the legacy and the new SQLite backends, driver-free: declared
 * types ↔ logical types, value conversion to bind parameters and back from stored values, the
 * PRAGMA list of a configuration, multi-row INSERT sizing and the mapping of SQLite result codes
 * to stable error codes. Nothing here imports a driver; the backends call a driver and pass what
 * it returned (plain values, error objects with a `code`) to these functions.
 */
import { selectSql, type SelectPlan } from "./base.js";
import type { SqliteConfig } from "./config.js";
import { ErrorCodes, MdmError, isMdmError, toMdmError, type ErrorCode } from "./errors.js";
import { quoteIdentifier } from "./names.js";
import type { BackendCapabilities, ColumnDef, LogicalType, QueryResult, Value } from "./types.js";
import { SqlDate, SqlTimestamp, civilFromDays, daysFromCivil, decimalFromNumber, formatValue, isSqlDate, isSqlTimestamp, plainDecimal } from "./values.js";

/** SQLite's bound-variable limit since 3.32 (SQLITE_MAX_VARIABLE_NUMBER of better-sqlite3's build). */
export const SQLITE_MAX_VARIABLES = 32766;

/** Declared types we write. Every one keeps its values as written (see the affinity notes). */
export const SQLITE_DECLARED_TYPES: Record<LogicalType, string> = {
  int64: "INTEGER",
  float64: "REAL",
  boolean: "BOOLEAN",
  text: "TEXT",
  blob: "BLOB",
  date: "DATE",
  timestamp: "TIMESTAMP",
  timestamptz: "TIMESTAMPTZ",
  // DECIMAL or NUMERIC would have NUMERIC affinity and turn '12345678901234567890.1234567890' into a REAL.
  decimal: "DECIMAL_TEXT",
  // JSON has NUMERIC affinity: '123' would become the integer 123.
  json: "JSON_TEXT",
};

/** The declared type of a column (`DECIMAL_TEXT(p,s)` carries the precision and scale). */
export function sqliteDeclaredType(column: ColumnDef): string {
  const base = SQLITE_DECLARED_TYPES[column.type];
  if (base === undefined) throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Unknown logical type ${JSON.stringify(column.type)}`);
  if (column.type === "decimal" && column.precision !== undefined) return `${base}(${column.precision},${column.scale ?? 0})`;
  return base;
}

export type SqliteAffinity = "INTEGER" | "TEXT" | "BLOB" | "REAL" | "NUMERIC";

/** The affinity of a declared type, by the rules of https://sqlite.org/datatype3.html §3.1. */
export function sqliteAffinity(declared: string): SqliteAffinity {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "INTEGER";
  if (t.includes("CHAR") || t.includes("CLOB") || t.includes("TEXT")) return "TEXT";
  if (t.includes("BLOB") || t.trim() === "") return "BLOB";
  if (t.includes("REAL") || t.includes("FLOA") || t.includes("DOUB")) return "REAL";
  return "NUMERIC";
}

/** Declared names (before any `(...)`) that carry a logical type of their own. */
const NAMED_TYPES: Record<string, LogicalType> = {
  BOOLEAN: "boolean",
  BOOL: "boolean",
  DATE: "date",
  DATETIME: "timestamp",
  TIMESTAMP: "timestamp",
  "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
  TIMESTAMPTZ: "timestamptz",
  "TIMESTAMP WITH TIME ZONE": "timestamptz",
  DECIMAL_TEXT: "decimal",
  JSON_TEXT: "json",
  JSON: "json",
};

const AFFINITY_TYPES: Record<SqliteAffinity, LogicalType> = {
  INTEGER: "int64",
  TEXT: "text",
  BLOB: "blob",
  REAL: "float64",
  NUMERIC: "decimal",
};

/**
 * The column of a declared type: our own names first (BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ,
 * DECIMAL_TEXT(p,s), JSON_TEXT) and the names pandas/SQLAlchemy write (DATETIME, JSON), then SQLite's
 * affinity rules for anything else (BIGINT → int64, FLOAT → float64, VARCHAR(20) → text,
 * NUMERIC/DECIMAL(10,2) → decimal, no type → blob).
 */
export function sqliteColumnFromDeclared(name: string, declared: string | null | undefined, notNull = false): ColumnDef {
  const text = (declared ?? "").trim();
  const m = /^([^(]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(text);
  const head = (m?.[1] ?? text).toUpperCase().replace(/\s+/g, " ");
  const type = NAMED_TYPES[head] ?? AFFINITY_TYPES[sqliteAffinity(text)];
  const column: ColumnDef = { name, type, nullable: !notNull };
  if (type === "decimal" && m?.[2] !== undefined) {
    column.precision = Number(m[2]);
    column.scale = m[3] !== undefined ? Number(m[3]) : 0;
  }
  return column;
}

/** `CREATE TABLE "t" ("a" INTEGER NOT NULL, ...)` with every identifier quoted. */
export function sqliteCreateTableSql(table: string, columns: readonly ColumnDef[]): string {
  const defs = columns.map((c) => `${quoteIdentifier(c.name)} ${sqliteDeclaredType(c)}${c.nullable === false ? " NOT NULL" : ""}`);
  return `CREATE TABLE ${quoteIdentifier(table)} (${defs.join(", ")})`;
}

/** `INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?)...` for `rowCount` rows. */
export function sqliteInsertSql(table: string, columns: readonly ColumnDef[], rowCount = 1): string {
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  return `INSERT INTO ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) VALUES ${new Array(rowCount).fill(tuple).join(", ")}`;
}

/** Rows per multi-row INSERT: `chunk` rows, but never more bound variables than SQLite allows. */
export function sqliteRowsPerInsert(columnCount: number, chunk = 10_000, maxVariables = SQLITE_MAX_VARIABLES): number {
  return Math.max(1, Math.min(chunk, Math.floor(maxVariables / Math.max(1, columnCount))));
}

// ---------------------------------------------------------------------------------------------
// Writing: value model → what a SQLite driver binds.

/** A value a SQLite driver binds: number, bigint, string, bytes or NULL. */
export type SqliteBindValue = null | number | bigint | string | Uint8Array;

const PAD2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const MICROS_PER_DAY = 86_400_000_000;
/** Beyond ±9e15 µs (years 1685..2255) the fast paths hand over to the bigint code of SqlTimestamp. */
const FAST_MICROS = 9e15;
const FAST_DAYS = 100_000;

/**
 * Texts of recently formatted day numbers, direct-mapped by the day's low 13 bits: a hit is an index and a
 * compare, a miss overwrites one slot. (A Map cleared every 8,192 distinct days cost 500-900 ns per miss on
 * a table of 20,000 distinct days; this costs about 100.)
 */
const DAY_SLOTS = 8192;
const DAY_TEXT_KEYS = new Float64Array(DAY_SLOTS).fill(Number.NaN);
const DAY_TEXTS: string[] = new Array<string>(DAY_SLOTS).fill("");

function formatDayNumber(days: number): string {
  const slot = days & (DAY_SLOTS - 1);
  if (DAY_TEXT_KEYS[slot] === days) return DAY_TEXTS[slot] as string;
  const [y, m, d] = civilFromDays(days);
  const year = y >= 1000 && y <= 9999 ? String(y) : y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : undefined;
  const text = year === undefined ? new SqlDate(days).toString() : `${year}-${PAD2[m]}-${PAD2[d]}`;
  DAY_TEXT_KEYS[slot] = days;
  DAY_TEXTS[slot] = text;
  return text;
}

/** `YYYY-MM-DD` of a date (the text SqlDate.toString() gives, faster). */
export function sqliteDateText(value: SqlDate): string {
  return formatDayNumber(value.days);
}

/** `HH:MM:SS` of each second of a day, made when first needed. */
const TIME_OF_DAY: string[] = [];

function timeOfDayText(secs: number): string {
  let text = TIME_OF_DAY[secs];
  if (text === undefined) {
    text = `${PAD2[Math.floor(secs / 3600)]}:${PAD2[Math.floor(secs / 60) % 60]}:${PAD2[secs % 60]}`;
    TIME_OF_DAY[secs] = text;
  }
  return text;
}

const FRACTION_PAD = ["", "0", "00", "000", "0000", "00000", "000000"];

/** `YYYY-MM-DD HH:MM:SS.ffffff` of a timestamp (the text SqlTimestamp.toString() gives, faster). */
export function sqliteTimestampText(value: SqlTimestamp): string {
  const n = Number(value.micros);
  if (n > FAST_MICROS || n < -FAST_MICROS) return value.toString();
  const days = Math.floor(n / MICROS_PER_DAY);
  const ofDay = n - days * MICROS_PER_DAY;
  const secs = Math.floor(ofDay / 1_000_000);
  const frac = String(ofDay - secs * 1_000_000);
  const date = formatDayNumber(days);
  if (date.length !== 10) return value.toString();
  return `${date} ${timeOfDayText(secs)}.${FRACTION_PAD[6 - frac.length]}${frac}`;
}

export type SqliteWriter = (value: Value) => SqliteBindValue;

function toBytes(value: Uint8Array): Uint8Array {
  // Drivers bind Buffers; a Buffer view over the same memory costs no copy.
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * The writer of a column: a normalised value (see `columnNormalizer`) → bind value.
 * boolean → 0/1, date → `YYYY-MM-DD`, timestamp → `YYYY-MM-DD HH:MM:SS.ffffff`, timestamptz → the
 * same with `+00:00`, decimal/json/text → text, blob → bytes.
 */
export function sqliteWriter(column: ColumnDef): SqliteWriter {
  switch (column.type) {
    case "boolean":
      return (v) => (v === null ? null : v ? 1 : 0);
    case "date":
      return (v) => (v === null ? null : sqliteDateText(v as SqlDate));
    case "timestamp":
      return (v) => (v === null ? null : sqliteTimestampText(v as SqlTimestamp));
    case "timestamptz":
      return (v) => (v === null ? null : `${sqliteTimestampText(v as SqlTimestamp)}+00:00`);
    case "blob":
      return (v) => (v === null ? null : toBytes(v as Uint8Array));
    default:
      return (v) => v as SqliteBindValue;
  }
}

/** Writers of several columns; `undefined` where the value binds as it is (int64, float64, text...). */
export function sqliteWriters(columns: readonly ColumnDef[]): Array<SqliteWriter | undefined> {
  return columns.map((c) => (c.type === "int64" || c.type === "float64" || c.type === "text" || c.type === "decimal" || c.type === "json" ? undefined : sqliteWriter(c)));
}

/** A bind value for a parameter of unknown column type (`query()` / `executeQuery()` parameters). */
export function sqliteParam(value: Value): SqliteBindValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
      return value ? 1 : 0;
    case "number":
    case "bigint":
    case "string":
      return value;
    default:
      if (value instanceof Uint8Array) return toBytes(value);
      if (isSqlDate(value)) return sqliteDateText(value);
      if (isSqlTimestamp(value)) return sqliteTimestampText(value);
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Cannot bind ${formatValue(value as Value)} as a SQLite parameter`);
  }
}

/**
 * Values SQLite cannot hold in a column of this type: NaN (SQLite stores NULL) and -0.0 (a REAL
 * column reads back 0). Everything else of the value model round-trips.
 */
export function sqliteValueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
  if (column.type !== "float64") return undefined;
  return (value) => {
    if (typeof value !== "number") return;
    if (value !== value) {
      throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)} (float64): SQLite cannot store NaN (it becomes NULL)`, {
        details: { column: column.name, type: column.type },
      });
    }
    if (value === 0 && 1 / value < 0) {
      throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)} (float64): SQLite cannot store -0.0 in a REAL column (it reads back 0)`, {
        details: { column: column.name, type: column.type },
      });
    }
  };
}

/** What SQLite holds exactly, for `BackendCapabilities.values`. */
export const SQLITE_VALUE_CAPABILITIES = {
  nan: false,
  infinity: true,
  negativeZero: false,
  nulInText: true,
  nulInJson: true,
  maxDecimalPrecision: Number.POSITIVE_INFINITY,
} as const;

/** The capabilities of a SQLite backend on better-sqlite3 (writes serialised: one writer per file, one connection in legacy). */
export function sqliteCapabilities(options: { metrics: boolean }): BackendCapabilities {
  return { values: { ...SQLITE_VALUE_CAPABILITIES }, sql: true, concurrentReads: true, serializedWrites: true, fileImportExport: [], metrics: options.metrics };
}

// ---------------------------------------------------------------------------------------------
// Reading: what a SQLite driver returns (safe integers on) → value model.

/** A stored value as a driver returns it with 64-bit integers as bigint. */
export type SqliteStoredValue = null | number | bigint | string | Uint8Array;

/** Reads one stored value of a column; `row` (0-based) is only used in the error message. */
export type SqliteReader = (stored: SqliteStoredValue, row: number) => Value;

function storageClass(v: unknown): string {
  if (typeof v === "bigint") return "INTEGER";
  if (typeof v === "number") return "REAL";
  if (typeof v === "string") return "TEXT";
  return "BLOB";
}

/** MDM_UNSUPPORTED_VALUE for a stored value that does not match its column's declared type. */
export function sqliteTypeDrift(table: string | undefined, column: ColumnDef, row: number, stored: unknown, why = ""): MdmError {
  const shown = typeof stored === "string" ? JSON.stringify(stored.length > 60 ? `${stored.slice(0, 60)}...` : stored) : stored instanceof Uint8Array ? `<${stored.length} bytes>` : String(stored);
  const where = table === undefined ? `column ${JSON.stringify(column.name)}` : `table ${JSON.stringify(table)}, column ${JSON.stringify(column.name)}`;
  return new MdmError(
    ErrorCodes.UNSUPPORTED_VALUE,
    `SQLite type drift in ${where}, row ${row}: the ${storageClass(stored)} value ${shown} is not a ${column.type}${why ? ` (${why})` : ""}; it is left as it is in the file, fix it there or read the column with query() and CAST`,
    { details: { table, column: column.name, row, type: column.type, storageClass: storageClass(stored) } },
  );
}

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The two-digit number at position i of s, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Day number of `YYYY-MM-DD` at position 0 of s, or undefined when s is not that shape. */
function fastDays(s: string): number | undefined {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined;
  const hi = two(s, 0);
  const lo = two(s, 2);
  const m = two(s, 5);
  const d = two(s, 8);
  if (hi < 0 || lo < 0 || m < 1 || m > 12 || d < 1 || d > (DAYS_IN_MONTH[m] as number)) return undefined;
  const y = hi * 100 + lo;
  if (m === 2 && d === 29 && !((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0)) return undefined;
  return daysFromCivil(y, m, d);
}

/** µs of `YYYY-MM-DD HH:MM:SS.ffffff` (exactly that shape, years 1697..2243), or undefined. */
function fastTimestampMicros(s: string): number | undefined {
  if (s.length !== 26 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46) return undefined;
  const days = fastDays(s);
  const h = two(s, 11);
  const mi = two(s, 14);
  const se = two(s, 17);
  const f1 = two(s, 20);
  const f2 = two(s, 22);
  const f3 = two(s, 24);
  if (days === undefined || days >= FAST_DAYS || days <= -FAST_DAYS || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 || f1 < 0 || f2 < 0 || f3 < 0) return undefined;
  return days * MICROS_PER_DAY + ((h * 60 + mi) * 60 + se) * 1_000_000 + f1 * 10_000 + f2 * 100 + f3;
}

/** Whether stored text is exactly what we write for a date (`YYYY-MM-DD`, a real day), checked without building a value. */
export function isCanonicalSqliteDate(text: string): boolean {
  return text.length === 10 && fastDays(text) !== undefined;
}

/** Whether stored text is exactly what we write for a timestamp (`YYYY-MM-DD HH:MM:SS.ffffff`, a real day and time; years 1697-2243). */
export function isCanonicalSqliteTimestamp(text: string): boolean {
  return fastTimestampMicros(text) !== undefined;
}

/**
 * Parse stored date text (`YYYY-MM-DD`, signed 6-digit years too). No cache: a miss (a Map insert, a
 * clear every 8,192 distinct days) cost 400-600 ns, the parse and a new SqlDate about 30 ns.
 */
export function sqliteParseDate(text: string): SqlDate {
  if (text.length === 10) {
    const days = fastDays(text);
    if (days !== undefined) return new SqlDate(days);
  }
  return SqlDate.parse(text);
}

/**
 * Parse stored timestamp text: `YYYY-MM-DD HH:MM:SS.ffffff` (fast path), or any shape
 * SqlTimestamp.parse accepts (`T` separator, no fraction, no seconds as pandas and Python's sqlite3
 * write them). `offset` says whether a zone offset is required (timestamptz) or refused (timestamp).
 */
export function sqliteParseTimestamp(text: string, offset: "required" | "refused"): SqlTimestamp {
  if (offset === "refused") {
    const micros = fastTimestampMicros(text);
    if (micros !== undefined) return new SqlTimestamp(BigInt(micros));
  } else if (text.length === 32 && text.endsWith("+00:00")) {
    // What we write for timestamptz: UTC with an explicit +00:00.
    const micros = fastTimestampMicros(text.slice(0, 26));
    if (micros !== undefined) return new SqlTimestamp(BigInt(micros));
  }
  return parseTimestampSlow(text, offset);
}

function parseTimestampSlow(text: string, offset: "required" | "refused"): SqlTimestamp {
  const hasOffset = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/.test(text.trim()) && /[T ]\d{2}:\d{2}/.test(text);
  if (offset === "refused" && hasOffset) throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, "it has a time-zone offset");
  if (offset === "required" && !hasOffset) throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, "it has no time-zone offset");
  return SqlTimestamp.parse(text);
}

function bytesOf(v: Uint8Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * The reader of a column. Stored values of the expected storage class are converted exactly;
 * anything else (SQLite type drift: `'toto'` in an INTEGER column, `1.5` in a BOOLEAN one, text that
 * is not a date in a DATE one) raises MDM_UNSUPPORTED_VALUE naming the table, column and row.
 */
export function sqliteReader(column: ColumnDef, table?: string): SqliteReader {
  const drift = (v: unknown, row: number, why?: string): never => {
    throw sqliteTypeDrift(table, column, row, v, why);
  };
  switch (column.type) {
    case "int64":
      return (v, row) => (v === null || typeof v === "bigint" ? v : drift(v, row));
    case "float64":
      return (v, row) => {
        if (v === null || typeof v === "number") return v;
        if (typeof v === "bigint") {
          const n = Number(v);
          return BigInt(n) === v ? n : drift(v, row, "no exact float64 value");
        }
        return drift(v, row);
      };
    case "boolean":
      return (v, row) => (v === null ? null : v === 1n || v === 0n ? v === 1n : v === 1 || v === 0 ? v === 1 : drift(v, row, "a boolean is stored as 0 or 1"));
    case "text":
      return (v, row) => (v === null || typeof v === "string" ? v : drift(v, row));
    case "blob":
      return (v, row) => (v === null ? null : v instanceof Uint8Array ? bytesOf(v) : drift(v, row));
    case "decimal":
      return (v, row) => {
        if (v === null) return null;
        if (typeof v === "bigint") return v.toString();
        if (typeof v === "number") return Number.isFinite(v) ? decimalFromNumber(v) : drift(v, row);
        if (typeof v === "string") {
          try {
            return plainDecimal(v);
          } catch {
            return drift(v, row);
          }
        }
        return drift(v, row);
      };
    case "json":
      return (v, row) => {
        if (v === null) return null;
        if (typeof v === "bigint") return v.toString();
        if (typeof v === "number") return Number.isFinite(v) ? String(v) : drift(v, row);
        if (typeof v !== "string") return drift(v, row);
        try {
          JSON.parse(v);
        } catch {
          return drift(v, row, "not valid JSON");
        }
        return v;
      };
    case "date":
      return (v, row) => {
        if (v === null) return null;
        if (typeof v !== "string") return drift(v, row, "dates are stored as YYYY-MM-DD text");
        try {
          return sqliteParseDate(v);
        } catch {
          return drift(v, row, "dates are stored as YYYY-MM-DD text");
        }
      };
    case "timestamp":
    case "timestamptz": {
      const offset = column.type === "timestamptz" ? "required" : "refused";
      const why = column.type === "timestamptz" ? "timestamptz is stored as text with a zone offset" : "timestamp is stored as YYYY-MM-DD HH:MM:SS[.ffffff] text without a zone";
      return (v, row) => {
        if (v === null) return null;
        if (typeof v !== "string") return drift(v, row, why);
        try {
          return sqliteParseTimestamp(v, offset);
        } catch (error) {
          return drift(v, row, isMdmError(error) && error.code === ErrorCodes.UNSUPPORTED_VALUE && error.message.startsWith("it has") ? `${error.message}; ${why}` : why);
        }
      };
    }
    default:
      throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Unknown logical type ${JSON.stringify((column as ColumnDef).type)}`);
  }
}

/**
 * The logical column of a query result column without a declared type (an expression), from the
 * values it returned: INTEGER → int64, REAL (or INTEGER and REAL) → float64, TEXT → text, BLOB →
 * blob, all NULL → text. Other mixes are refused: a value would have to change.
 */
export function sqliteColumnFromValues(name: string, values: Iterable<unknown>): ColumnDef {
  const seen = new Set<string>();
  for (const v of values) if (v !== null && v !== undefined) seen.add(storageClass(v));
  let type: LogicalType = "text";
  if (seen.size === 1) type = AFFINITY_TYPES[[...seen][0] as SqliteAffinity];
  else if (seen.size === 2 && seen.has("INTEGER") && seen.has("REAL")) type = "float64";
  else if (seen.size > 1) {
    throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Result column ${JSON.stringify(name)} mixes SQLite storage classes ${[...seen].sort().join(", ")}; CAST it to one type`, {
      details: { column: name },
    });
  }
  return { name, type, nullable: true };
}

// ---------------------------------------------------------------------------------------------
// PRAGMAs

export interface SqlitePragma {
  name: "journal_mode" | "synchronous" | "cache_size" | "temp_store" | "mmap_size" | "busy_timeout";
  /** The statement that sets it. */
  sql: string;
  /** What `PRAGMA name` returns once it took (lower-case text or a number). */
  expected: string | number;
}

const SYNCHRONOUS: Record<string, number> = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 };
const TEMP_STORE: Record<string, number> = { DEFAULT: 0, FILE: 1, MEMORY: 2 };
const JOURNAL_MODES = ["DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF"];

function pragmaInteger(name: string, value: unknown): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.${name} must be an integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function pragmaEnum(name: string, value: unknown, allowed: readonly string[]): string {
  const v = typeof value === "string" ? value.trim().toUpperCase() : typeof value === "number" ? String(value) : "";
  if (!allowed.includes(v)) {
    throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return v;
}

/**
 * The PRAGMA statements of a `database.sqlite` config section, with the value each must read back
 * (defaults: journal_mode WAL, synchronous NORMAL, cache_size -64000, temp_store MEMORY,
 * mmap_size 268435456). `busy_timeout` is included when `withBusyTimeout` is set. Invalid values →
 * MDM_INVALID_CONFIG (nothing is interpolated into SQL unchecked).
 */
export function sqlitePragmas(config: Partial<SqliteConfig> = {}, options: { withBusyTimeout?: boolean; memory?: boolean } = {}): SqlitePragma[] {
  const journal = pragmaEnum("journal_mode", config.journal_mode ?? "WAL", JOURNAL_MODES);
  const synchronous = config.synchronous ?? "NORMAL";
  const syncValue = typeof synchronous === "number" ? synchronous : SYNCHRONOUS[pragmaEnum("synchronous", synchronous, Object.keys(SYNCHRONOUS))];
  if (syncValue === undefined || syncValue < 0 || syncValue > 3) throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.synchronous is not valid: ${JSON.stringify(synchronous)}`);
  const temp = config.temp_store ?? "MEMORY";
  // Python MDM maps unknown temp_store strings to MEMORY (2); we refuse them instead.
  const tempValue = typeof temp === "number" ? temp : TEMP_STORE[pragmaEnum("temp_store", temp, Object.keys(TEMP_STORE))];
  if (tempValue === undefined || tempValue < 0 || tempValue > 2) throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.temp_store is not valid: ${JSON.stringify(temp)}`);
  const cache = pragmaInteger("cache_size", config.cache_size ?? -64000);
  const mmap = pragmaInteger("mmap_size", config.mmap_size ?? 268435456);
  if (mmap < 0) throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.mmap_size must be >= 0, got ${mmap}`);
  // An in-memory database has journal mode "memory" whatever is asked.
  const journalExpected = options.memory ? "memory" : journal.toLowerCase();
  const pragmas: SqlitePragma[] = [
    { name: "journal_mode", sql: `PRAGMA journal_mode = ${journal}`, expected: journalExpected },
    { name: "synchronous", sql: `PRAGMA synchronous = ${syncValue}`, expected: syncValue },
    { name: "cache_size", sql: `PRAGMA cache_size = ${cache}`, expected: cache },
    { name: "temp_store", sql: `PRAGMA temp_store = ${tempValue}`, expected: tempValue },
    { name: "mmap_size", sql: `PRAGMA mmap_size = ${mmap}`, expected: mmap },
  ];
  if (options.withBusyTimeout) {
    const busy = pragmaInteger("busy_timeout", config.busy_timeout ?? 5000);
    if (busy < 0) throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.sqlite.busy_timeout must be >= 0, got ${busy}`);
    pragmas.push({ name: "busy_timeout", sql: `PRAGMA busy_timeout = ${busy}`, expected: busy });
  }
  return pragmas;
}

// ---------------------------------------------------------------------------------------------
// Errors

const SQLITE_CODES: Array<[RegExp, ErrorCode]> = [
  [/^SQLITE_BUSY/, ErrorCodes.LOCKED],
  [/^SQLITE_LOCKED/, ErrorCodes.LOCKED],
  [/^SQLITE_FULL/, ErrorCodes.DISK_FULL],
  // The WAL's shared-memory file could not be grown: SQLite reports it as an I/O error, but it is what a
  // full file system gives when a WAL database is opened or written (measured on a full tmpfs; the
  // SQLite documentation says "may indicate that the underlying filesystem volume is out of space").
  [/^SQLITE_IOERR_SHMSIZE/, ErrorCodes.DISK_FULL],
  [/^SQLITE_IOERR_NOMEM|^SQLITE_NOMEM/, ErrorCodes.INTERNAL],
  [/^SQLITE_READONLY/, ErrorCodes.READ_ONLY],
  [/^SQLITE_PERM|^SQLITE_AUTH/, ErrorCodes.PERMISSION_DENIED],
  [/^SQLITE_CANTOPEN|^SQLITE_NOTADB|^SQLITE_CORRUPT|^SQLITE_IOERR/, ErrorCodes.CONNECTION_FAILED],
  [/^SQLITE_INTERRUPT|^SQLITE_ABORT/, ErrorCodes.ABORTED],
  [/^SQLITE_TOOBIG|^SQLITE_MISMATCH|^SQLITE_RANGE/, ErrorCodes.UNSUPPORTED_VALUE],
  [/^SQLITE_/, ErrorCodes.QUERY_FAILED],
];

/** The stable code of a SQLite result code (`SQLITE_BUSY` → MDM_LOCKED, `SQLITE_FULL` → MDM_DISK_FULL...). */
export function sqliteErrorCode(resultCode: string): ErrorCode {
  for (const [re, code] of SQLITE_CODES) if (re.test(resultCode)) return code;
  return ErrorCodes.INTERNAL;
}

/**
 * An MdmError of a driver error (anything with a `code` such as `SQLITE_BUSY_SNAPSHOT`). Errors a
 * driver raises before SQLite sees the statement are mapped too: a BigInt out of the 64-bit range
 * (RangeError) → MDM_UNSUPPORTED_VALUE; "connection is busy" (an open iterator) → MDM_LOCKED.
 */
export function mapSqliteError(error: unknown, context: string, details: Record<string, unknown> = {}): MdmError {
  if (isMdmError(error)) return error;
  const resultCode = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  let code: ErrorCode;
  if (typeof resultCode === "string" && resultCode.startsWith("SQLITE_")) code = sqliteErrorCode(resultCode);
  else if (error instanceof RangeError) code = ErrorCodes.UNSUPPORTED_VALUE;
  else if (/connection is busy/i.test(message)) code = ErrorCodes.LOCKED;
  else if (/database connection is not open/i.test(message)) code = ErrorCodes.CLOSED;
  else if (error instanceof TypeError) code = ErrorCodes.INVALID_ARGUMENT;
  else code = ErrorCodes.INTERNAL;
  return toMdmError(error, code, context, { details: { ...details, ...(typeof resultCode === "string" ? { sqliteCode: resultCode } : {}) } });
}

// ---------------------------------------------------------------------------------------------
// Statements and row shuffling shared by the SQLite backends (plain data in, plain data out).

/** Names of the tables of a database, `sqlite_*` internals excluded. */
export const SQLITE_LIST_TABLES_SQL = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

/** Columns of one table (bind the table name): name, declared type, NOT NULL flag. */
export const SQLITE_TABLE_INFO_SQL = 'SELECT name, type, "notnull" FROM pragma_table_info(?) ORDER BY cid';

/** The logical columns of a table from the rows of SQLITE_TABLE_INFO_SQL; undefined when there are none (no such table). */
export function sqliteColumnsFromTableInfo(rows: ReadonlyArray<Record<string, unknown>>): ColumnDef[] | undefined {
  if (rows.length === 0) return undefined;
  return rows.map((r) => sqliteColumnFromDeclared(String(r.name), typeof r.type === "string" ? r.type : "", Number(r.notnull) === 1));
}

/** SQL and bind values of a planned read (equality filters bound with their column's writer). */
export function sqliteSelect(plan: SelectPlan): { sql: string; params: SqliteBindValue[] } {
  const { sql } = selectSql(plan, () => "?");
  const params: SqliteBindValue[] = [];
  if (plan.where && "equals" in plan.where) {
    for (const [column, value] of plan.where.equals) if (value !== null) params.push(sqliteWriter(column)(value));
  }
  return { sql, params };
}

/**
 * Converts the raw rows a driver returns (arrays of stored values, 64-bit integers as bigint) into
 * value-model rows, in place; type drift raises MDM_UNSUPPORTED_VALUE naming table, column and row.
 */
export class SqliteRowConverter {
  private readonly readers: SqliteReader[];
  /** Per column, the JS type a stored value already has in the value model ("" when every value needs its reader). */
  private readonly kept: string[];
  /** Rows converted so far (the row number in error messages). */
  private row = 0;

  constructor(columns: readonly ColumnDef[], table: string | undefined) {
    this.readers = columns.map((c) => sqliteReader(c, table));
    // Values already in their model type (bigint in int64, number in float64, string in text) and
    // NULLs stay as they are without a call: the common case of a bulk read.
    this.kept = columns.map((c) => (c.type === "int64" ? "bigint" : c.type === "float64" ? "number" : c.type === "text" ? "string" : ""));
  }

  /** Convert one raw row in place and return it. */
  convert(values: SqliteStoredValue[]): Value[] {
    const { readers, kept } = this;
    for (let c = 0; c < readers.length; c++) {
      const v = values[c] as SqliteStoredValue;
      if (v === null || typeof v === kept[c]) continue;
      (values as Value[])[c] = (readers[c] as SqliteReader)(v, this.row);
    }
    this.row++;
    return values as Value[];
  }

  /**
   * Up to `size` converted rows from the iterator; fewer only when it is exhausted. A plain function
   * on purpose: V8 does not optimise a long loop inside a generator, and this loop is the read path
   * (measured 1.8x slower as a generator, see the SQLite README, "Streaming reads").
   */
  take(iterator: Iterator<SqliteStoredValue[]>, size: number): Value[][] {
    const batch: Value[][] = [];
    while (batch.length < size) {
      const next = iterator.next();
      if (next.done) break;
      batch.push(this.convert(next.value));
    }
    return batch;
  }
}

/** Batches of value-model rows from the raw rows a driver iterates (see SqliteRowConverter). */
export function* sqliteRowBatches(raw: Iterable<SqliteStoredValue[]>, columns: readonly ColumnDef[], table: string | undefined, batchSize: number): Generator<Value[][]> {
  const converter = new SqliteRowConverter(columns, table);
  const iterator = raw[Symbol.iterator]();
  let done = false;
  try {
    while (!done) {
      const batch = converter.take(iterator, batchSize);
      done = batch.length < batchSize;
      if (batch.length > 0) yield batch;
    }
  } finally {
    // A consumer that stops early (or a conversion error) must still end the driver's statement:
    // an unfinished iterate() keeps the connection busy.
    if (!done) iterator.return?.();
  }
}

/**
 * Copy `count` rows from `rows[from]` into `flat` (row after row), converting each value with its
 * column's writer: the parameters of a multi-row INSERT.
 */
export function sqliteFillParams(rows: readonly (readonly Value[])[], from: number, count: number, writers: ReadonlyArray<SqliteWriter | undefined>, flat: SqliteBindValue[]): SqliteBindValue[] {
  const width = writers.length;
  let p = 0;
  for (let r = from; r < from + count; r++) {
    const row = rows[r] as readonly Value[];
    for (let c = 0; c < width; c++) {
      const w = writers[c];
      flat[p++] = w === undefined ? (row[c] as SqliteBindValue) : w(row[c] as Value);
    }
  }
  return flat;
}

/**
 * The result of a query from what the driver returned: column names with their declared types
 * (null for expressions), the raw rows, and optional logical types from the caller. Expression
 * columns are typed from their values (see sqliteColumnFromValues).
 */
export function sqliteQueryResult(described: ReadonlyArray<{ name: string; type: string | null }>, raw: SqliteStoredValue[][], hints?: ReadonlyArray<ColumnDef | undefined>): QueryResult {
  const columns = described.map((d, i) => {
    const hint = hints?.[i];
    if (hint) return { ...hint, name: d.name };
    if (d.type) return sqliteColumnFromDeclared(d.name, d.type);
    return sqliteColumnFromValues(d.name, raw.map((r) => r[i]));
  });
  // The rows are converted in place.
  const converter = new SqliteRowConverter(columns, undefined);
  for (const values of raw) converter.convert(values);
  return { columns, rows: raw as Value[][] };
}

/**
 * The PostgreSQL dialect shared by @mdm/storage-postgresql and @mdm/storage-postgresql-legacy: type
 * mapping, text encoding of values for parameters and COPY, text parsing of server output into the
 * value model, identifier limits, connection options (SSL with libpq semantics) and error mapping.
 * Pure functions only: no driver is imported here, both packages hand these to `pg` themselves.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { PostgresqlConfig, SslMode } from "./config.js";
import { ErrorCodes, MdmError, isMdmError, redactSecrets, type ErrorCode } from "./errors.js";
import { POSTGRES_IDENTIFIER_MAX_BYTES, quoteIdentifier, validateIdentifier } from "./names.js";
import type { ColumnDef, LogicalType, QueryResult, Value } from "./types.js";
import { SqlDate, SqlTimestamp, civilFromDays, daysFromCivil, decimalDigits, isSqlDate, isSqlTimestamp } from "./values.js";

// ---------------------------------------------------------------------------------------------
// Identifiers

/** Validate a table, column, schema or database name for PostgreSQL: at most 63 bytes, never truncated. */
export function pgIdentifier(name: unknown, kind: "table" | "column" | "schema" | "database" = "table"): string {
  return validateIdentifier(name, kind, POSTGRES_IDENTIFIER_MAX_BYTES);
}

// ---------------------------------------------------------------------------------------------
// Types

/** OIDs of the built-in types we read. */
export const PG_OID = {
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Largest precision of a constrained `numeric(p,s)`. */
export const PG_NUMERIC_MAX_PRECISION = 1000;

/** The column type we create for a logical type. */
export function pgColumnType(column: ColumnDef): string {
  switch (column.type) {
    case "boolean":
      return "boolean";
    case "int64":
      return "bigint";
    case "float64":
      return "double precision";
    case "decimal": {
      if (column.precision === undefined) return "numeric";
      const scale = column.scale ?? 0;
      if (!Number.isInteger(column.precision) || column.precision < 1 || column.precision > PG_NUMERIC_MAX_PRECISION || !Number.isInteger(scale) || scale < 0 || scale > column.precision) {
        throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Column ${JSON.stringify(column.name)}: PostgreSQL has no numeric(${column.precision},${scale}) (precision 1..${PG_NUMERIC_MAX_PRECISION}, scale 0..precision)`, {
          details: { column: column.name },
        });
      }
      return `numeric(${column.precision},${scale})`;
    }
    case "text":
      return "text";
    case "blob":
      return "bytea";
    case "date":
      return "date";
    case "timestamp":
      return "timestamp(6) without time zone";
    case "timestamptz":
      return "timestamp(6) with time zone";
    case "json":
      return "json";
    default:
      throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Unknown logical type ${JSON.stringify((column as ColumnDef).type)}`);
  }
}

/** The logical type of a server type (by OID); anything we do not know is read as its text. */
export function pgLogicalType(oid: number): LogicalType {
  switch (oid) {
    case PG_OID.bool:
      return "boolean";
    case PG_OID.int2:
    case PG_OID.int4:
    case PG_OID.int8:
    case PG_OID.oid:
      return "int64";
    case PG_OID.float4:
    case PG_OID.float8:
      return "float64";
    case PG_OID.numeric:
      return "decimal";
    case PG_OID.bytea:
      return "blob";
    case PG_OID.date:
      return "date";
    case PG_OID.timestamp:
      return "timestamp";
    case PG_OID.timestamptz:
      return "timestamptz";
    case PG_OID.json:
    case PG_OID.jsonb:
      return "json";
    default:
      return "text";
  }
}

/** SQL giving, for a schema ($1) and a table ($2): name, type OID, typmod and NOT NULL of each column. */
export const PG_DESCRIBE_TABLE_SQL = `SELECT a.attname, a.atttypid::int4 AS oid, a.atttypmod, a.attnotnull
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

/** SQL giving the names of the tables (and views) of a schema ($1). */
export const PG_LIST_TABLES_SQL = `SELECT c.relname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname`;

/** A ColumnDef from one row of PG_DESCRIBE_TABLE_SQL. */
export function pgColumnFromCatalog(name: string, oid: number, typmod: number, notNull: boolean): ColumnDef {
  const type = pgLogicalType(Number(oid));
  const column: ColumnDef = { name, type, nullable: !notNull };
  if (type === "decimal" && typmod >= 4) {
    column.precision = ((typmod - 4) >> 16) & 0xffff;
    column.scale = (typmod - 4) & 0xffff;
  }
  return column;
}

/** `CREATE TABLE` of our logical columns; every name checked against the 63-byte limit and quoted. */
export function pgCreateTableSql(table: string, columns: ColumnDef[]): string {
  pgIdentifier(table, "table");
  const parts = columns.map((c) => `${quoteIdentifier(pgIdentifier(c.name, "column"))} ${pgColumnType(c)}${c.nullable === false ? " NOT NULL" : ""}`);
  return `CREATE TABLE ${quoteIdentifier(table)} (${parts.join(", ")})`;
}

// ---------------------------------------------------------------------------------------------
// Ranges and refusals

/** Day numbers of 4714-11-24 BC and 5874897-12-31, the range of `date`. */
const PG_DATE_MIN = daysFromCivil(-4713, 11, 24);
const PG_DATE_MAX = daysFromCivil(5874897, 12, 31);
const MICROS_PER_DAY = 86_400_000_000n;
/** µs of 4714-11-24 00:00 BC and 294276-12-31 23:59:59.999999, the range of `timestamp`. */
const PG_TIMESTAMP_MIN = BigInt(PG_DATE_MIN) * MICROS_PER_DAY;
const PG_TIMESTAMP_MAX = BigInt(daysFromCivil(294277, 1, 1)) * MICROS_PER_DAY - 1n;
/** numeric without typmod: 131072 digits before the point, 16383 after. */
const PG_NUMERIC_MAX_INTEGER_DIGITS = 131072;
const PG_NUMERIC_MAX_FRACTION_DIGITS = 16383;

function refuse(column: ColumnDef, message: string): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)} (${column.type}): ${message}`, {
    details: { column: column.name, type: column.type },
  });
}

/** Values PostgreSQL cannot hold exactly in a column of this logical type, refused before anything is written. */
export function pgValueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
  switch (column.type) {
    case "text":
      return (v) => {
        if (typeof v === "string" && v.includes("\0")) refuse(column, "PostgreSQL text cannot hold a NUL character (U+0000); store it as a blob");
      };
    case "date":
      return (v) => {
        if (isSqlDate(v) && (v.days < PG_DATE_MIN || v.days > PG_DATE_MAX)) refuse(column, `${v.toString()} is outside the PostgreSQL date range (4714-11-24 BC .. 5874897-12-31)`);
      };
    case "timestamp":
    case "timestamptz":
      return (v) => {
        if (isSqlTimestamp(v) && (v.micros < PG_TIMESTAMP_MIN || v.micros > PG_TIMESTAMP_MAX)) refuse(column, `${v.toString()} is outside the PostgreSQL timestamp range (4714-11-24 BC .. 294276-12-31)`);
      };
    case "decimal":
      return (v) => {
        if (typeof v !== "string") return;
        if (v === "Infinity" || v === "-Infinity") {
          if (column.precision !== undefined) refuse(column, `numeric(${column.precision},${column.scale ?? 0}) cannot hold ${v}`);
          return;
        }
        // numeric(p,s) values were checked against p and s by the normaliser.
        if (v === "NaN" || column.precision !== undefined) return;
        const digits = decimalDigits(v);
        if (digits.integer > PG_NUMERIC_MAX_INTEGER_DIGITS || digits.fraction > PG_NUMERIC_MAX_FRACTION_DIGITS) {
          refuse(column, "more digits than PostgreSQL numeric holds (131072 before the point, 16383 after)");
        }
      };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding values as text (parameters, COPY)

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** `YYYY-MM-DD` with ` BC` for years before 1 (PostgreSQL's ISO output; it takes no signed years). */
function dateText(days: number): { date: string; bc: boolean } {
  const [y, m, d] = civilFromDays(days);
  const bc = y <= 0;
  return { date: `${pad(bc ? 1 - y : y, 4)}-${pad(m, 2)}-${pad(d, 2)}`, bc };
}

export function pgDateText(value: SqlDate): string {
  const { date, bc } = dateText(value.days);
  return bc ? `${date} BC` : date;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff[+00][ BC]`: timestamptz values carry `+00`, so the session time zone never applies. */
export function pgTimestampText(value: SqlTimestamp, withZone: boolean): string {
  const { days, microsOfDay } = value.split();
  const { date, bc } = dateText(days);
  const us = Number(microsOfDay);
  const secs = Math.floor(us / 1_000_000);
  const time = `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(us % 1_000_000, 6)}`;
  return `${date} ${time}${withZone ? "+00" : ""}${bc ? " BC" : ""}`;
}

/** float8 input text: `-0`, `NaN`, `Infinity` and `-Infinity` spelled out (`String(-0)` is `"0"`, which loses the sign). */
export function pgFloatText(value: number): string {
  if (Object.is(value, -0)) return "-0";
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return String(value);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Text encoder of one column's values (never called with null). */
export function pgTextEncoder(column: ColumnDef): (value: Value) => string {
  switch (column.type) {
    case "boolean":
      return (v) => (v ? "t" : "f");
    case "int64":
      return (v) => (v as bigint).toString();
    case "float64":
      return (v) => pgFloatText(v as number);
    case "blob":
      return (v) => `\\x${hexOf(v as Uint8Array)}`;
    case "date":
      return (v) => pgDateText(v as SqlDate);
    case "timestamp":
      return (v) => pgTimestampText(v as SqlTimestamp, false);
    case "timestamptz":
      return (v) => pgTimestampText(v as SqlTimestamp, true);
    default:
      return (v) => v as string;
  }
}

/**
 * A query parameter of any value-model value, as text the server parses in the context of the
 * statement: bigint and floats as exact text (-0 kept), dates and timestamps in ISO with BC, bytes
 * as a Buffer (bound in binary).
 */
export function pgParam(value: Value): string | Buffer | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
      return pgFloatText(value);
    case "boolean":
      return value ? "t" : "f";
    case "string":
      if (value.includes("\0")) throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, "PostgreSQL text cannot hold a NUL character (U+0000)");
      return value;
    default:
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (isSqlDate(value)) return pgDateText(value);
      if (isSqlTimestamp(value)) return pgTimestampText(value, false);
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Cannot bind a parameter of type ${typeof value}`);
  }
}

/** One row in COPY text format (tab-separated, `\N` for NULL, backslash escapes), ending with a newline. */
export function pgCopyTextRow(row: readonly Value[], encoders: ReadonlyArray<(value: Value) => string>, escape: readonly boolean[]): string {
  let line = "";
  for (let c = 0; c < row.length; c++) {
    if (c > 0) line += "\t";
    const v = row[c] as Value;
    if (v === null) {
      line += "\\N";
      continue;
    }
    const text = (encoders[c] as (value: Value) => string)(v);
    line += escape[c] ? escapeCopyText(text) : text;
  }
  return `${line}\n`;
}

/** Whether values of this column can contain characters COPY text must escape. */
export function pgCopyNeedsEscape(column: ColumnDef): boolean {
  return column.type === "text" || column.type === "json" || column.type === "blob";
}

const COPY_SPECIAL = /[\\\t\n\r]/;

function escapeCopyText(text: string): string {
  if (!COPY_SPECIAL.test(text)) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") out += "\\\\";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing server output (text format) into the value model

const PG_DATE_RE = /^(\d{4,7})-(\d{2})-(\d{2})( BC)?$/;
const PG_TIMESTAMP_RE = /^(\d{4,7})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?( BC)?$/;

function notRepresentable(text: string, what: string): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `The ${what} ${JSON.stringify(text)} has no value in the MDM value model (infinite dates and timestamps are refused)`);
}

function astronomicalYear(digits: string, bc: string | undefined): number {
  const y = Number(digits);
  return bc ? 1 - y : y;
}

export function pgParseDate(text: string): SqlDate {
  const m = PG_DATE_RE.exec(text);
  if (!m) return notRepresentable(text, "date");
  return new SqlDate(daysFromCivil(astronomicalYear(m[1] as string, m[4]), Number(m[2]), Number(m[3])));
}

/** timestamp or timestamptz output (ISO DateStyle); an offset (even with seconds, as in LMT zones) gives UTC. */
export function pgParseTimestamp(text: string): SqlTimestamp {
  const m = PG_TIMESTAMP_RE.exec(text);
  if (!m) return notRepresentable(text, "timestamp");
  const days = daysFromCivil(astronomicalYear(m[1] as string, m[12]), Number(m[2]), Number(m[3]));
  const seconds = (Number(m[4]) * 60 + Number(m[5])) * 60 + Number(m[6]);
  let micros = BigInt(days) * MICROS_PER_DAY + BigInt(seconds) * 1_000_000n + BigInt((m[7] ?? "").padEnd(6, "0") || "0");
  if (m[8]) {
    const offset = (Number(m[9]) * 60 + Number(m[10] ?? 0)) * 60 + Number(m[11] ?? 0);
    micros -= BigInt(m[8] === "-" ? -offset : offset) * 1_000_000n;
  }
  return new SqlTimestamp(micros);
}

export function pgParseFloat(text: string): number {
  switch (text) {
    case "NaN":
      return NaN;
    case "Infinity":
      return Infinity;
    case "-Infinity":
      return -Infinity;
    default:
      return Number(text);
  }
}

/** bytea in hex output (`\x0aff`), copied into a Uint8Array of its own. */
export function pgParseBytea(text: string): Uint8Array {
  if (!text.startsWith("\\x")) {
    throw new MdmError(ErrorCodes.INTERNAL, "bytea arrived in escape format; the session must use bytea_output = hex");
  }
  const out = new Uint8Array((text.length - 2) / 2);
  Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(text.slice(2), "hex");
  return out;
}

const identity = (text: string): string => text;
const parseBool = (text: string): boolean => text === "t";
const parseInteger = (text: string): bigint => BigInt(text);

/** The text parser of a type OID: every type arrives as text and is parsed here, never by pg's defaults. */
export function pgTextParser(oid: number): (text: string) => Value {
  switch (pgLogicalType(oid)) {
    case "boolean":
      return parseBool;
    case "int64":
      return parseInteger;
    case "float64":
      return pgParseFloat;
    case "blob":
      return pgParseBytea;
    case "date":
      return pgParseDate;
    case "timestamp":
    case "timestamptz":
      return pgParseTimestamp;
    default:
      return identity; // numeric (exact string), text, json and jsonb (exact text), anything else as text
  }
}

/** For pg's `types` option: our parser for text results; binary results (not requested) stay raw. */
export const pgTypes = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (format === "binary") return identity;
    return pgTextParser(oid);
  },
};

/** Turn a parsed value into the logical type a caller hinted (AVG of a bigint is numeric text; the hint says float64). */
export function pgCoerce(value: Value, hint: ColumnDef | undefined): Value {
  if (value === null || !hint) return value;
  if (hint.type === "float64" && typeof value !== "number") {
    return typeof value === "string" || typeof value === "bigint" ? pgParseFloat(String(value)) : value;
  }
  if (hint.type === "int64" && typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  return value;
}

/**
 * Settings every session of ours runs with, whatever the server or role defaults: values are
 * rendered in ISO with UTC offsets, floats exactly, bytea in hex.
 */
export const PG_SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ["TimeZone", "UTC"],
  ["DateStyle", "ISO"],
  ["IntervalStyle", "postgres"],
  ["extra_float_digits", "3"],
  ["bytea_output", "hex"],
  ["client_encoding", "UTF8"],
];

/** The startup `options` string (`-c name=value ...`) for PG_SESSION_SETTINGS plus a search_path. */
export function pgStartupOptions(searchPath?: string): string {
  const settings = [...PG_SESSION_SETTINGS];
  if (searchPath !== undefined) settings.push(["search_path", `${quoteIdentifier(pgIdentifier(searchPath, "schema"))},pg_catalog`]);
  // Spaces and backslashes inside a value are escaped with a backslash in the options string.
  return settings.map(([k, v]) => `-c ${k}=${v.replace(/[\\ ]/g, (c) => `\\${c}`)}`).join(" ");
}

/** `SET` statements for PG_SESSION_SETTINGS (sessions of a pool we did not create). */
export function pgSessionSetSql(): string {
  return PG_SESSION_SETTINGS.map(([k, v]) => `SET ${k} = '${v}'`).join("; ");
}

// ---------------------------------------------------------------------------------------------
// Connection options

/** TLS options (node `tls.connect`) for pg's `ssl`, or false for plaintext. */
export type PgSslOptions = false | { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string; servername?: string; checkServerIdentity?: () => undefined };

export interface PgSslPlan {
  mode: SslMode;
  /** TLS options of the first attempt. */
  ssl: PgSslOptions;
  /** libpq `prefer`: plaintext when the server has no TLS. `allow` is plaintext first, TLS when the server insists. */
  fallback: PgSslOptions | undefined;
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.postgresql.${key}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/**
 * sslmode with libpq's meaning, mapped to TLS options by us (pg's own parsing treats `prefer`,
 * `require` and `verify-ca` as `verify-full`):
 * - disable: plaintext;
 * - allow: plaintext, then TLS without verification when the server refuses plaintext;
 * - prefer: TLS without verification, plaintext only when the server has no TLS;
 * - require: TLS without verification (with `sslrootcert`: as verify-ca, as libpq does);
 * - verify-ca: TLS, chain checked against `sslrootcert` (or the system CAs), host name not checked;
 * - verify-full: TLS, chain and host name checked.
 * `require`, `verify-ca` and `verify-full` never fall back to plaintext.
 */
export function pgSslPlan(config: Pick<PostgresqlConfig, "sslmode" | "sslrootcert" | "sslcert" | "sslkey" | "host">): PgSslPlan {
  const mode = config.sslmode ?? "prefer";
  const client: { cert?: string; key?: string } = {};
  if (config.sslcert) client.cert = readPem(config.sslcert, "sslcert");
  if (config.sslkey) client.key = readPem(config.sslkey, "sslkey");
  const ca = config.sslrootcert ? readPem(config.sslrootcert, "sslrootcert") : undefined;
  const unverified = { rejectUnauthorized: false, ...client };
  const verifyCa = { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...client, checkServerIdentity: () => undefined };
  switch (mode) {
    case "disable":
      return { mode, ssl: false, fallback: undefined };
    case "allow":
      return { mode, ssl: false, fallback: unverified };
    case "prefer":
      return { mode, ssl: unverified, fallback: false };
    case "require":
      return { mode, ssl: ca ? verifyCa : unverified, fallback: undefined };
    case "verify-ca":
      return { mode, ssl: verifyCa, fallback: undefined };
    case "verify-full":
      // Node checks the certificate against `servername` (a DNS name) or, for an IP address, the host itself.
      return { mode, ssl: { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...client, ...(isIP(config.host) ? {} : { servername: config.host }) }, fallback: undefined };
    default:
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `database.postgresql.sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full; got ${JSON.stringify(mode)}`);
  }
}

/** Whether a failed first attempt lets a PgSslPlan try its fallback (libpq's allow / prefer). */
export function pgShouldFallBack(plan: PgSslPlan, error: unknown): boolean {
  if (plan.fallback === undefined) return false;
  const message = error instanceof Error ? error.message : String(error);
  if (plan.mode === "prefer") return /does not support SSL/i.test(message);
  // allow: the server refused a plaintext connection (pg_hba hostssl only).
  return /(no pg_hba\.conf entry|pg_hba\.conf rejects connection).*(SSL off|no encryption)/i.test(message);
}

/** Connection settings of pg's Client/Pool config that do not depend on the database. */
export function pgConnectionConfig(config: PostgresqlConfig): { host: string; port: number; user: string | undefined; connectionTimeoutMillis: number; application_name: string } {
  return {
    host: config.host,
    port: config.port,
    user: config.user ?? undefined,
    connectionTimeoutMillis: Math.max(0, config.connect_timeout) * 1000,
    application_name: config.application_name,
  };
}

/**
 * Connection settings from a `postgresql://user:password@host:port/database?sslmode=...` URL (tests,
 * MDM_TEST_POSTGRES_URL). The URL is never echoed in an error.
 */
export function postgresConfigFromUrl(url: string): Partial<PostgresqlConfig> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MdmError(ErrorCodes.INVALID_CONFIG, "Not a valid postgresql:// URL (<redacted connection string>)");
  }
  if (parsed.protocol !== "postgresql:" && parsed.protocol !== "postgres:") {
    throw new MdmError(ErrorCodes.INVALID_CONFIG, "A PostgreSQL URL starts with postgresql://");
  }
  const out: Partial<PostgresqlConfig> = { host: decodeURIComponent(parsed.hostname) || "localhost", port: parsed.port ? Number(parsed.port) : 5432 };
  if (parsed.username) out.user = decodeURIComponent(parsed.username);
  if (parsed.password) out.password = decodeURIComponent(parsed.password);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (database) out.database = database;
  const sslmode = parsed.searchParams.get("sslmode");
  if (sslmode) out.sslmode = sslmode as SslMode;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

const SQLSTATE_CODES: Record<string, ErrorCode> = {
  "28P01": ErrorCodes.AUTHENTICATION_FAILED,
  "28000": ErrorCodes.AUTHENTICATION_FAILED,
  "3D000": ErrorCodes.DATABASE_NOT_FOUND,
  "3F000": ErrorCodes.DATABASE_NOT_FOUND,
  "42P01": ErrorCodes.TABLE_NOT_FOUND,
  "42703": ErrorCodes.COLUMN_NOT_FOUND,
  "42P07": ErrorCodes.TABLE_EXISTS,
  "42P04": ErrorCodes.DATASET_EXISTS,
  "42P06": ErrorCodes.DATASET_EXISTS,
  "42501": ErrorCodes.PERMISSION_DENIED,
  "42939": ErrorCodes.INVALID_NAME,
  "42622": ErrorCodes.INVALID_NAME,
  "22021": ErrorCodes.UNSUPPORTED_VALUE,
  "22P05": ErrorCodes.UNSUPPORTED_VALUE,
  "22003": ErrorCodes.UNSUPPORTED_VALUE,
  "22008": ErrorCodes.UNSUPPORTED_VALUE,
  "57014": ErrorCodes.TIMEOUT,
  "55P03": ErrorCodes.TIMEOUT,
  "25P03": ErrorCodes.TIMEOUT,
  "53100": ErrorCodes.DISK_FULL,
  "53300": ErrorCodes.CONNECTION_FAILED,
  "57P01": ErrorCodes.CONNECTION_FAILED,
  "57P02": ErrorCodes.CONNECTION_FAILED,
  "57P03": ErrorCodes.CONNECTION_FAILED,
  "55006": ErrorCodes.LOCKED,
  "25006": ErrorCodes.READ_ONLY,
};

const NETWORK_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "EPIPE", "ETIMEDOUT", "EADDRNOTAVAIL"]);

/** Where the connection went: put in messages and details (never a password). */
export interface PgErrorContext {
  host?: string;
  port?: number;
  user?: string | null;
  database?: string;
  secrets?: ReadonlyArray<string | undefined | null>;
}

function isTlsError(error: { code?: unknown; message?: string; library?: unknown }): boolean {
  const code = typeof error.code === "string" ? error.code : "";
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|DEPTH_ZERO|HOSTNAME|ALTNAME/.test(code) ||
    error.library === "SSL routines" ||
    /does not support SSL|SSL connection|certificate|TLS|self[- ]signed|Hostname\/IP does not match/i.test(error.message ?? "")
  );
}

/** The stable code of a pg (or network, TLS) error. */
export function pgErrorCode(error: unknown): ErrorCode {
  if (typeof error !== "object" || error === null) return ErrorCodes.QUERY_FAILED;
  const e = error as { code?: unknown; message?: string; errno?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const message = e.message ?? "";
  if (/^[0-9A-Z]{5}$/.test(code) && SQLSTATE_CODES[code]) return SQLSTATE_CODES[code] as ErrorCode;
  if (isTlsError(e)) return ErrorCodes.SSL_FAILED;
  if (NETWORK_ERRNOS.has(code)) return ErrorCodes.CONNECTION_FAILED;
  if (/timeout exceeded when trying to connect|connection timeout|timeout expired/i.test(message)) return ErrorCodes.TIMEOUT;
  if (/Connection terminated|connection ended|Client has encountered a connection error|not queryable|ECONNREFUSED/i.test(message)) return ErrorCodes.CONNECTION_FAILED;
  if (/^08/.test(code)) return ErrorCodes.CONNECTION_FAILED;
  if (/^(22|23|42)/.test(code)) return ErrorCodes.QUERY_FAILED;
  return ErrorCodes.QUERY_FAILED;
}

/** SQLSTATEs and socket errors of a session that existed and was lost (57P01/57P02: the server ended it). */
const LOST_CONNECTION_CODES = new Set(["57P01", "57P02", "ECONNRESET", "EPIPE"]);

/**
 * An MdmError for a pg error: stable code, message built from host, port, database and user plus the
 * server's message with secrets redacted, the SQLSTATE in details. The driver error is not kept as
 * `cause` (it carries connection parameters).
 */
export function mapPostgresError(error: unknown, context: string, where: PgErrorContext = {}): MdmError {
  const code = pgErrorCode(error);
  const e = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; message?: string; detail?: string; hint?: string };
  const raw = e.message ?? String(error);
  const secrets = where.secrets ?? [];
  const sqlstate = typeof e.code === "string" ? e.code : undefined;
  const target = [where.user ? `user ${JSON.stringify(where.user)}` : undefined, where.host ? `${where.host}:${where.port ?? 5432}` : undefined, where.database ? `database ${JSON.stringify(where.database)}` : undefined].filter(Boolean).join(", ");
  const lead: Partial<Record<ErrorCode, string>> = {
    [ErrorCodes.CONNECTION_FAILED]: "Cannot connect to PostgreSQL",
    [ErrorCodes.AUTHENTICATION_FAILED]: "PostgreSQL refused the credentials",
    [ErrorCodes.SSL_FAILED]: "TLS with PostgreSQL failed",
    [ErrorCodes.DATABASE_NOT_FOUND]: "PostgreSQL database not found",
    [ErrorCodes.TIMEOUT]: "PostgreSQL timeout",
    [ErrorCodes.DISK_FULL]: "PostgreSQL server out of disk space",
  };
  // A session the server ended (administrator command, crash shutdown) or a socket reset mid-query is a
  // connection lost, not one that could not be made.
  const lost = code === ErrorCodes.CONNECTION_FAILED && (LOST_CONNECTION_CODES.has(sqlstate ?? "") || /Connection terminated unexpectedly/.test(raw));
  const leadText = lost ? "Lost the connection to PostgreSQL" : lead[code];
  const head = leadText ? `${leadText}${target ? ` (${target})` : ""}` : context;
  const message = redactSecrets(`${head}: ${raw}${e.detail ? ` (${e.detail})` : ""}`, secrets);
  const details: Record<string, unknown> = { context };
  if (sqlstate) details.sqlstate = sqlstate;
  if (where.host) details.host = where.host;
  if (where.port) details.port = where.port;
  if (where.database) details.database = where.database;
  return new MdmError(code, message, { details });
}

/** Quote a qualified name `"schema"."table"`. */
export function pgQualified(schema: string, table: string): string {
  return `${quoteIdentifier(pgIdentifier(schema, "schema"))}.${quoteIdentifier(pgIdentifier(table, "table"))}`;
}

// ---------------------------------------------------------------------------------------------
// Statements both implementations run, on any client with pg's `query(config)`

/** What these helpers need of a pg Client or PoolClient. */
export interface PgQueryable {
  query(config: { text: string; values?: unknown[]; rowMode: "array"; types: typeof pgTypes }): Promise<{ rows: unknown[][]; fields: Array<{ name: string; dataTypeID: number }>; rowCount: number | null }>;
}

function run(client: PgQueryable, text: string, params: readonly Value[]) {
  return client.query({ text, values: params.map(pgParam), rowMode: "array", types: pgTypes });
}

/** Rows of a statement typed by OID, coerced to the caller's hints where given. */
export async function pgQuery(client: PgQueryable, sql: string, params: readonly Value[], hints?: ReadonlyArray<ColumnDef | undefined>): Promise<QueryResult> {
  const result = await run(client, sql, params);
  const fields = result.fields ?? [];
  const columns: ColumnDef[] = fields.map((f, i) => {
    const hint = hints?.[i];
    return hint ? { ...hint, name: f.name } : { name: f.name, type: pgLogicalType(f.dataTypeID), nullable: true };
  });
  const rows = (result.rows ?? []) as Value[][];
  if (hints?.some((h) => h !== undefined)) {
    for (const row of rows) for (let c = 0; c < row.length; c++) row[c] = pgCoerce(row[c] as Value, hints[c]);
  }
  return { columns, rows };
}

export async function pgExecute(client: PgQueryable, sql: string, params: readonly Value[]): Promise<{ rowsAffected: number }> {
  const result = await run(client, sql, params);
  return { rowsAffected: result.rowCount ?? 0 };
}

export async function pgListTables(client: PgQueryable, schema: string): Promise<string[]> {
  const result = await run(client, PG_LIST_TABLES_SQL, [schema]);
  return result.rows.map((r) => r[0] as string);
}

/** Columns of a table of a schema, or undefined when it does not exist. A name over 63 bytes is refused, never truncated. */
export async function pgDescribeTable(client: PgQueryable, schema: string, table: string): Promise<ColumnDef[] | undefined> {
  pgIdentifier(table, "table");
  const result = await run(client, PG_DESCRIBE_TABLE_SQL, [schema, table]);
  if (result.rows.length === 0) return undefined;
  return result.rows.map((r) => pgColumnFromCatalog(r[0] as string, Number(r[1]), Number(r[2]), r[3] === true));
}

/** Names of the databases that start with a prefix, prefix removed (no LIKE: `_` in a prefix is no wildcard). */
export async function pgListPrefixedDatabases(client: PgQueryable, prefix: string): Promise<string[]> {
  const result = await run(client, "SELECT datname FROM pg_catalog.pg_database WHERE left(datname, length($1)) = $1 AND datallowconn ORDER BY datname", [prefix]);
  return result.rows.map((r) => (r[0] as string).slice(prefix.length));
}

export async function pgDatabaseExists(client: PgQueryable, database: string): Promise<boolean> {
  const result = await run(client, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [database]);
  return result.rows.length > 0;
}

export function pgCreateDatabaseSql(database: string): string {
  return `CREATE DATABASE ${quoteIdentifier(pgIdentifier(database, "database"))} ENCODING 'UTF8' TEMPLATE template0`;
}

/** Disconnect every other session of a database (before a drop or a rename). */
export async function pgTerminateSessions(client: PgQueryable, database: string): Promise<void> {
  await run(client, "SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
}

/** The database name `{prefix}{dataset}`, refused when it would pass PostgreSQL's 63 bytes. */
export function pgDatasetDatabaseName(prefix: string, datasetName: string): string {
  const name = `${prefix}${datasetName}`;
  if (Buffer.byteLength(name, "utf8") > POSTGRES_IDENTIFIER_MAX_BYTES) {
    throw new MdmError(ErrorCodes.INVALID_NAME, `Dataset name ${JSON.stringify(datasetName)} is too long: ${JSON.stringify(prefix)} + name must fit PostgreSQL's ${POSTGRES_IDENTIFIER_MAX_BYTES} bytes`, {
      details: { name: datasetName },
    });
  }
  return name;
}

/**
 * Connect with a PgSslPlan: the first attempt, then the fallback where libpq's `allow`/`prefer` would
 * take it. Returns the TLS options that worked (to build the pool with).
 */
export async function pgConnectWithPlan<T>(plan: PgSslPlan, attempt: (ssl: PgSslOptions) => Promise<T>): Promise<{ ssl: PgSslOptions; result: T }> {
  try {
    return { ssl: plan.ssl, result: await attempt(plan.ssl) };
  } catch (error) {
    if (!pgShouldFallBack(plan, error) || plan.fallback === undefined) throw error;
    return { ssl: plan.fallback, result: await attempt(plan.fallback) };
  }
}

// ---------------------------------------------------------------------------------------------
// Staging and publish (database per dataset, or schema per dataset)

/** `{prefix}{name}.staging.` (a hash of the name when a 16-character run id would pass 63 bytes). The dot keeps it out of dataset listings. */
export function pgStagingStem(prefix: string, datasetName: string): string {
  const readable = `${prefix}${datasetName}.staging.`;
  if (Buffer.byteLength(readable) + 16 <= POSTGRES_IDENTIFIER_MAX_BYTES) return readable;
  return `${prefix}${createHash("sha256").update(datasetName).digest("hex").slice(0, 16)}.staging.`;
}

/** Staging names of a dataset among the names that start with its stem. */
export function pgStagingNames(stem: string, suffixes: readonly string[]): string[] {
  return suffixes.filter((n) => /^[a-z0-9]{1,16}$/.test(n)).map((n) => stem + n);
}

/**
 * Rename a staging database (or schema) onto the dataset's name in one transaction: an existing
 * dataset is first renamed away (and, for a schema, dropped in the same transaction), so a reader
 * sees the old dataset or the new one, never a part. Other sessions of the databases must be gone
 * (see pgTerminateSessions). A database renamed away is dropped after the commit.
 */
export async function pgPublishByRename(client: PgQueryable, kind: "database" | "schema", staging: string, final: string, replace: boolean, prefix: string): Promise<void> {
  const trash = `${prefix}.trash.${randomBytes(8).toString("hex")}`;
  const keyword = kind === "schema" ? "SCHEMA" : "DATABASE";
  const exists = async () =>
    kind === "schema" ? (await run(client, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [final])).rows.length > 0 : pgDatabaseExists(client, final);
  await run(client, "BEGIN", []);
  let replaced = false;
  try {
    if (await exists()) {
      if (!replace) throw new MdmError(ErrorCodes.DATASET_EXISTS, `${JSON.stringify(final)} already exists`);
      await run(client, `ALTER ${keyword} ${quoteIdentifier(final)} RENAME TO ${quoteIdentifier(trash)}`, []);
      replaced = true;
    }
    await run(client, `ALTER ${keyword} ${quoteIdentifier(staging)} RENAME TO ${quoteIdentifier(final)}`, []);
    if (replaced && kind === "schema") await run(client, `DROP SCHEMA ${quoteIdentifier(trash)} CASCADE`, []);
    await run(client, "COMMIT", []);
  } catch (error) {
    await run(client, "ROLLBACK", []).catch(() => undefined);
    throw error;
  }
  if (replaced && kind === "database") await run(client, `DROP DATABASE IF EXISTS ${quoteIdentifier(trash)}`, []);
}

/**
 * Whether a CREATE met an existing object, also when it lost a race with a concurrent CREATE (then
 * PostgreSQL reports a unique violation of a catalog index instead of 42P04 / 42P06 / 42P07).
 */
export function pgIsDuplicateObject(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code === "42P04" || code === "42P06" || code === "42P07" || code === "42710") return true;
  return code === "23505" && typeof constraint === "string" && constraint.startsWith("pg_");
}

/** Run a CREATE DATABASE / SCHEMA / TABLE, turning "it exists" (or a lost race) into MDM_DATASET_EXISTS or MDM_TABLE_EXISTS. */
export async function pgCreateOnce<T>(kind: "dataset" | "table", name: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!pgIsDuplicateObject(error)) throw error;
    throw kind === "table"
      ? new MdmError(ErrorCodes.TABLE_EXISTS, `Table ${JSON.stringify(name)} already exists`, { details: { table: name } })
      : new MdmError(ErrorCodes.DATASET_EXISTS, `${JSON.stringify(name)} already exists`, { details: { database: name } });
  }
}

/**
 * True when an error means the connection itself is gone, not an SQL error on a healthy session: a
 * socket or protocol error, an SQLSTATE of class 57 (the server ended the session: pg_terminate_backend's
 * 57P01, shutdown) or 08 (connection exception), or an MdmError of code MDM_CONNECTION_FAILED. Looks through
 * the `cause` of our own errors. Such a connection must not go back to the pool.
 */
export function pgConnectionLost(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (isMdmError(current)) {
      if (current.code === ErrorCodes.CONNECTION_FAILED) return true;
      current = (current as { cause?: unknown }).cause;
      continue;
    }
    // A server error (pg's DatabaseError) carries a severity and a SQLSTATE; a socket error ("EPIPE",
    // "ECONNRESET") has no severity.
    const { code, severity } = current as { code?: unknown; severity?: unknown };
    if (typeof severity === "string" && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return /^(57|08)/.test(code);
    return true;
  }
  return false;
}

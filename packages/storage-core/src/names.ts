import { ErrorCodes, MdmError } from "./errors.js";

/** PostgreSQL truncates identifiers at 63 bytes; a dataset name must fit with its database prefix. */
export const POSTGRES_IDENTIFIER_MAX_BYTES = 63;
export const DEFAULT_DATABASE_PREFIX = "mdm_";
/** Longest dataset name: 63 bytes minus the default prefix `mdm_`. */
export const DATASET_NAME_MAX_LENGTH = POSTGRES_IDENTIFIER_MAX_BYTES - DEFAULT_DATABASE_PREFIX.length;
/** Longest table or column name we accept (bytes of UTF-8). Backends may lower it (PostgreSQL: 63). */
export const IDENTIFIER_MAX_BYTES = 1024;

const DATASET_NAME = /^[a-z0-9_-]+$/;

/**
 * Normalise a dataset name as MDM does (trimmed, lower case) and validate it before it becomes a
 * path, a database or a schema name: only `[a-z0-9_-]`, not empty, at most 59 characters, not `-`
 * first (it would read as a command-line flag).
 */
export function normalizeDatasetName(name: unknown, maxLength: number = DATASET_NAME_MAX_LENGTH): string {
  if (typeof name !== "string") {
    throw new MdmError(ErrorCodes.INVALID_NAME, `Dataset name must be a string, got ${typeof name}`);
  }
  const normalized = name.trim().toLowerCase();
  if (normalized.length === 0) {
    throw new MdmError(ErrorCodes.INVALID_NAME, "Dataset name cannot be empty");
  }
  // Test the name before lower-casing too: "\u212A" (KELVIN SIGN) lower-cases to an ASCII "k".
  if (!DATASET_NAME.test(normalized) || !/^[A-Za-z0-9_-]+$/.test(name.trim())) {
    throw new MdmError(
      ErrorCodes.INVALID_NAME,
      `Dataset name ${JSON.stringify(name)} is not allowed: it can only contain letters, digits, underscores and dashes`,
      { details: { name } },
    );
  }
  if (normalized.startsWith("-")) {
    throw new MdmError(ErrorCodes.INVALID_NAME, `Dataset name ${JSON.stringify(name)} cannot start with a dash`, {
      details: { name },
    });
  }
  if (normalized.length > maxLength) {
    throw new MdmError(
      ErrorCodes.INVALID_NAME,
      `Dataset name ${JSON.stringify(name)} is ${normalized.length} characters long; the limit is ${maxLength}`,
      { details: { name } },
    );
  }
  return normalized;
}

/** Whether a text is a dataset name as MDM writes it (already normalised): a directory or file name that can be a dataset's. */
export function isNormalizedDatasetName(text: string): boolean {
  try {
    return normalizeDatasetName(text) === text;
  } catch {
    return false;
  }
}

/**
 * Validate a table or column name. Any character is allowed (names are always quoted) except NUL,
 * lone UTF-16 surrogates, and leading or trailing whitespace-only names; the UTF-8 length is capped.
 */
export function validateIdentifier(
  name: unknown,
  kind: "table" | "column" | "schema" | "database" = "table",
  maxBytes: number = IDENTIFIER_MAX_BYTES,
): string {
  if (typeof name !== "string") {
    throw new MdmError(ErrorCodes.INVALID_NAME, `The ${kind} name must be a string, got ${typeof name}`);
  }
  if (name.length === 0 || name.trim().length === 0) {
    throw new MdmError(ErrorCodes.INVALID_NAME, `The ${kind} name cannot be empty`);
  }
  if (name.includes("\0")) {
    throw new MdmError(ErrorCodes.INVALID_NAME, `The ${kind} name ${JSON.stringify(name)} contains a NUL character`, {
      details: { name },
    });
  }
  if (!isWellFormed(name)) {
    throw new MdmError(ErrorCodes.INVALID_NAME, `The ${kind} name contains an unpaired UTF-16 surrogate`, {
      details: { name },
    });
  }
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > maxBytes) {
    throw new MdmError(
      ErrorCodes.INVALID_NAME,
      `The ${kind} name ${JSON.stringify(name.slice(0, 40))}... is ${bytes} bytes long; the limit is ${maxBytes}`,
      { details: { name } },
    );
  }
  return name;
}

/** Quote an identifier for SQLite, DuckDB and PostgreSQL: double quotes, embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  validateIdentifier(name);
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote a string literal where a parameter cannot be bound (file paths in COPY/ATTACH). */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) {
    throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A string literal cannot contain a NUL character");
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** True when a string has no unpaired UTF-16 surrogate (Node 20 has String.prototype.isWellFormed). */
export function isWellFormed(value: string): boolean {
  const fn = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
  if (fn) return fn.call(value);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}

/** Tables whose name starts with `_` belong to MDM itself (`_metadata`, `_columns`, `_statistics`). */
export function isSystemTable(name: string): boolean {
  return name.startsWith("_");
}

export const METADATA_TABLE = "_metadata";
export const COLUMNS_TABLE = "_columns";
export const STATISTICS_TABLE = "_statistics";

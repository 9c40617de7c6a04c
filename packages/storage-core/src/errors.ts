/**
 * One error class with stable codes. Codes are part of the public contract: they do not change
 * within a major version, and the CLI maps them to exit codes.
 */
export const ErrorCodes = {
  /** A dataset that was asked for does not exist. */
  DATASET_NOT_FOUND: "MDM_DATASET_NOT_FOUND",
  /** A dataset that was to be created already exists. */
  DATASET_EXISTS: "MDM_DATASET_EXISTS",
  /** A table that was asked for does not exist. */
  TABLE_NOT_FOUND: "MDM_TABLE_NOT_FOUND",
  /** A table that was to be created already exists (ifExists: "fail"). */
  TABLE_EXISTS: "MDM_TABLE_EXISTS",
  /** A column that was asked for does not exist. */
  COLUMN_NOT_FOUND: "MDM_COLUMN_NOT_FOUND",
  /** A database (file, PostgreSQL database or schema) that was asked for does not exist. */
  DATABASE_NOT_FOUND: "MDM_DATABASE_NOT_FOUND",
  /** A dataset, table, column or database name that is not allowed (injection, traversal, NUL, length). */
  INVALID_NAME: "MDM_INVALID_NAME",
  /** An argument of the wrong shape or out of range. */
  INVALID_ARGUMENT: "MDM_INVALID_ARGUMENT",
  /** A configuration value that is not allowed. */
  INVALID_CONFIG: "MDM_INVALID_CONFIG",
  /** The server or file could not be reached or opened. */
  CONNECTION_FAILED: "MDM_CONNECTION_FAILED",
  /** The server refused the credentials. */
  AUTHENTICATION_FAILED: "MDM_AUTHENTICATION_FAILED",
  /** TLS was asked for and could not be established or verified. */
  SSL_FAILED: "MDM_SSL_FAILED",
  /** A value the backend cannot hold exactly (for example NaN in SQLite, NUL in PostgreSQL text). */
  UNSUPPORTED_VALUE: "MDM_UNSUPPORTED_VALUE",
  /** A column type the backend cannot represent. */
  UNSUPPORTED_TYPE: "MDM_UNSUPPORTED_TYPE",
  /** An operation this backend does not offer. */
  UNSUPPORTED_OPERATION: "MDM_UNSUPPORTED_OPERATION",
  /** A migration or a check found data that differs. */
  VERIFICATION_FAILED: "MDM_VERIFICATION_FAILED",
  /** Another process or run holds the lock (a migration in progress, a DuckDB file open elsewhere). */
  LOCKED: "MDM_LOCKED",
  /** The backend was closed. */
  CLOSED: "MDM_CLOSED",
  /** The package implementing a backend is not installed. */
  BACKEND_NOT_INSTALLED: "MDM_BACKEND_NOT_INSTALLED",
  /** The backend type is unknown, or it could not start. */
  BACKEND_UNAVAILABLE: "MDM_BACKEND_UNAVAILABLE",
  /** The database was opened read-only and a write was attempted. */
  READ_ONLY: "MDM_READ_ONLY",
  /** No space left on the device or in the tablespace (ENOSPC, EDQUOT, SQLITE_FULL, PostgreSQL 53100). */
  DISK_FULL: "MDM_DISK_FULL",
  /** The source of a migration was written while it was copied: nothing was published, the source is kept. */
  SOURCE_CHANGED: "MDM_SOURCE_CHANGED",
  /** The operating system or the server refused access. */
  PERMISSION_DENIED: "MDM_PERMISSION_DENIED",
  /** The operation was aborted (AbortSignal, SIGINT). */
  ABORTED: "MDM_ABORTED",
  /** A statement failed for another reason (syntax error, constraint...). */
  QUERY_FAILED: "MDM_QUERY_FAILED",
  /** A timeout elapsed (statement, lock, connect). */
  TIMEOUT: "MDM_TIMEOUT",
  /** A bug or an unexpected state. */
  INTERNAL: "MDM_INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const ERROR_BRAND = Symbol.for("@mdm/storage-core:MdmError");

export interface MdmErrorOptions {
  cause?: unknown;
  /** Structured context (dataset, table, column, row, host, ...). Never a password. */
  details?: Record<string, unknown>;
}

export class MdmError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  declare readonly [ERROR_BRAND]: true;

  constructor(code: ErrorCode, message: string, options: MdmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MdmError";
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, ERROR_BRAND, { value: true, enumerable: false });
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** True for an MdmError from any copy of this package (ESM or CJS, or two installs). */
export function isMdmError(value: unknown, code?: ErrorCode): value is MdmError {
  const branded =
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[ERROR_BRAND] === true &&
    typeof (value as { code?: unknown }).code === "string";
  return branded && (code === undefined || (value as MdmError).code === code);
}

/**
 * Remove secrets from a text: every given secret (when at least 1 character long), the
 * `user:password@` part of URLs, and `password=...` / `sslkey=...` parameters.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined | null> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (typeof secret === "string" && secret.length > 0) out = out.split(secret).join("***");
  }
  // Up to the LAST "@" of the URL: a raw password may itself contain "@", ":" or "/".
  out = out.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^\s]*@/gi, "$1:***@");
  // libpq keyword values may be single-quoted with spaces inside ('a b', with \' escapes).
  out = out.replace(/\b(password|passwd|pwd|sslpassword|sslkey)=('(?:[^'\\]|\\.)*'?|[^&\s]*)/gi, "$1=***");
  return out;
}

/**
 * Wrap any thrown value as an MdmError. An MdmError passes through unchanged. The message of a
 * foreign error is redacted of the given secrets; the original stays as `cause` only when it does
 * not carry a secret in its message.
 */
export function toMdmError(
  error: unknown,
  code: ErrorCode,
  context: string,
  options: { secrets?: ReadonlyArray<string | undefined | null>; details?: Record<string, unknown> } = {},
): MdmError {
  if (isMdmError(error)) return error;
  const raw = error instanceof Error ? error.message : String(error);
  const message = redactSecrets(raw, options.secrets);
  const leaked = message !== raw;
  // A full disk is a full disk whatever the caller expected (a raw ENOSPC from fs inside a driver call).
  const stable = isDiskFullErrno(error) ? ErrorCodes.DISK_FULL : code;
  return new MdmError(stable, `${context}: ${message}`, {
    cause: leaked ? undefined : error,
    details: options.details,
  });
}

/** Whether a thrown value is an operating-system "no space" error (`ENOSPC`, or `EDQUOT`: the quota is used up). */
export function isDiskFullErrno(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/**
 * A file-system error (`ENOSPC`, `EACCES`, ...) as an MdmError with a stable code: no space or quota →
 * MDM_DISK_FULL, refused → MDM_PERMISSION_DENIED, missing → MDM_DATABASE_NOT_FOUND, existing →
 * MDM_DATASET_EXISTS, anything else → `fallback`. The message names the action and the path.
 */
export function fileSystemError(error: unknown, path: string, action: string, fallback: ErrorCode = ErrorCodes.INTERNAL): MdmError {
  if (isMdmError(error)) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = `Cannot ${action} ${path}: ${(error as Error | null)?.message ?? String(error)}`;
  const stable: ErrorCode = isDiskFullErrno(error)
    ? ErrorCodes.DISK_FULL
    : code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? ErrorCodes.PERMISSION_DENIED
      : code === "ENOENT"
        ? ErrorCodes.DATABASE_NOT_FOUND
        : code === "EEXIST"
          ? ErrorCodes.DATASET_EXISTS
          : fallback;
  return new MdmError(stable, message, { cause: error, details: { path, ...(code ? { errno: code } : {}) } });
}

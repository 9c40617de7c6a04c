import { ErrorCodes, isMdmError } from "@mdm/storage-core";

/** Exit codes of `mdm`. Part of the contract: scripts test them. */
export const ExitCodes = {
  /** Success. */
  OK: 0,
  /** Any failure without a more specific code. */
  FAILURE: 1,
  /** Bad command line: unknown command or option, missing or malformed argument, invalid name. */
  USAGE: 2,
  /** A dataset, table, file or database that was asked for does not exist. */
  NOT_FOUND: 3,
  /** A dataset or table that was to be created already exists. */
  ALREADY_EXISTS: 4,
  /** A migration's verification found differences (nothing was published). */
  VERIFICATION_FAILED: 5,
  /** The backend could not be used: package not installed, server unreachable, authentication or TLS refused. */
  BACKEND_UNAVAILABLE: 6,
  /** Another process holds the lock (a migration of the same dataset, a DuckDB file open elsewhere). */
  LOCKED: 7,
  /** A value the target backend cannot hold exactly (nothing was written). */
  UNSUPPORTED_VALUE: 8,
  /** No space left on a device or in a tablespace (nothing half-written is left; free space and rerun). */
  DISK_FULL: 9,
  /** mdm.yaml, feature_flags.yaml or a registry entry is invalid (the message names the file and the key). */
  INVALID_CONFIG: 10,
  /** The source dataset was written while it was migrated: nothing was published, the source is kept; rerun. */
  SOURCE_CHANGED: 11,
  /** Interrupted (SIGINT/SIGTERM): staging removed, source and registry untouched. */
  ABORTED: 130,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

const BY_ERROR_CODE: Record<string, ExitCode> = {
  [ErrorCodes.DATASET_NOT_FOUND]: ExitCodes.NOT_FOUND,
  [ErrorCodes.TABLE_NOT_FOUND]: ExitCodes.NOT_FOUND,
  [ErrorCodes.COLUMN_NOT_FOUND]: ExitCodes.NOT_FOUND,
  [ErrorCodes.DATABASE_NOT_FOUND]: ExitCodes.NOT_FOUND,
  [ErrorCodes.DATASET_EXISTS]: ExitCodes.ALREADY_EXISTS,
  [ErrorCodes.TABLE_EXISTS]: ExitCodes.ALREADY_EXISTS,
  [ErrorCodes.VERIFICATION_FAILED]: ExitCodes.VERIFICATION_FAILED,
  [ErrorCodes.BACKEND_UNAVAILABLE]: ExitCodes.BACKEND_UNAVAILABLE,
  [ErrorCodes.BACKEND_NOT_INSTALLED]: ExitCodes.BACKEND_UNAVAILABLE,
  [ErrorCodes.CONNECTION_FAILED]: ExitCodes.BACKEND_UNAVAILABLE,
  [ErrorCodes.AUTHENTICATION_FAILED]: ExitCodes.BACKEND_UNAVAILABLE,
  [ErrorCodes.SSL_FAILED]: ExitCodes.BACKEND_UNAVAILABLE,
  [ErrorCodes.LOCKED]: ExitCodes.LOCKED,
  [ErrorCodes.UNSUPPORTED_VALUE]: ExitCodes.UNSUPPORTED_VALUE,
  [ErrorCodes.UNSUPPORTED_TYPE]: ExitCodes.UNSUPPORTED_VALUE,
  [ErrorCodes.INVALID_NAME]: ExitCodes.USAGE,
  [ErrorCodes.DISK_FULL]: ExitCodes.DISK_FULL,
  [ErrorCodes.INVALID_CONFIG]: ExitCodes.INVALID_CONFIG,
  [ErrorCodes.SOURCE_CHANGED]: ExitCodes.SOURCE_CHANGED,
  [ErrorCodes.ABORTED]: ExitCodes.ABORTED,
};

/** The exit code for an MdmError code (as a migration result carries it). */
export function exitCodeForErrorCode(code: string | undefined): ExitCode {
  return (code === undefined ? undefined : BY_ERROR_CODE[code]) ?? ExitCodes.FAILURE;
}

/** The exit code for an error (an MdmError by its code; anything else is a plain failure). */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCodes.USAGE;
  if (error instanceof CliError) return error.exitCode;
  if (isMdmError(error)) return exitCodeForErrorCode(error.code);
  return ExitCodes.FAILURE;
}

/** A mistake on the command line (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** An error that carries its own exit code (a file that does not exist, a failed comparison). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

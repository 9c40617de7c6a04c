import { ErrorCodes, MdmError, type ErrorCode } from "@mdm/storage-core";

const PATTERNS: Array<[RegExp, ErrorCode]> = [
  [/Could not set lock on file|Conflicting lock is held/i, ErrorCodes.LOCKED],
  [/read-only mode|read only mode|attached in read-only|database is read-only|Cannot execute statement of type .* in read-only/i, ErrorCodes.READ_ONLY],
  [/Table with name .* does not exist|Table .* does not exist/i, ErrorCodes.TABLE_NOT_FOUND],
  [/Referenced column .* not found|Column with name .* does not exist/i, ErrorCodes.COLUMN_NOT_FOUND],
  [/Table with name .* already exists/i, ErrorCodes.TABLE_EXISTS],
  [/is not a valid DuckDB database file|database file .* is corrupt/i, ErrorCodes.CONNECTION_FAILED],
  [/No such file or directory|Cannot open file|does not exist/i, ErrorCodes.DATABASE_NOT_FOUND],
  [/Permission denied/i, ErrorCodes.PERMISSION_DENIED],
  [/No space left on device|disk is full/i, ErrorCodes.DISK_FULL],
  [/Out of Range Error|Conversion Error|Could not convert|overflow/i, ErrorCodes.UNSUPPORTED_VALUE],
  [/INTERRUPT/i, ErrorCodes.ABORTED],
  [/Out of Memory Error/i, ErrorCodes.QUERY_FAILED],
];

/** A DuckDB error as an MdmError with a stable code (the DuckDB message is kept: it holds no secret). */
export function mapDuckdbError(error: unknown, context: string): MdmError {
  const message = error instanceof Error ? error.message : String(error);
  const code = PATTERNS.find(([re]) => re.test(message))?.[1] ?? ErrorCodes.QUERY_FAILED;
  return new MdmError(code, `DuckDB ${context}: ${message}`, { cause: error });
}

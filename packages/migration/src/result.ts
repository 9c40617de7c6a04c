import type { MigrationResult } from "./types.js";

/**
 * The result of a migration of `dataset` before anything happened: not a success, nothing copied. The
 * migrator fills it in as it goes; a caller that could not even start one (its backend did not open) sets
 * `error` and reports it beside the others.
 */
export function pendingMigrationResult(dataset: string, source: MigrationResult["source"], target: MigrationResult["target"]): MigrationResult {
  return {
    dataset,
    success: false,
    source,
    target,
    tablesMigrated: [],
    rowsMigrated: 0,
    dataTables: [],
    dataRows: 0,
    bytes: null,
    durationMs: 0,
    rowsPerSecond: 0,
    verification: null,
    sourceRemoved: false,
    warnings: [],
    error: null,
  };
}

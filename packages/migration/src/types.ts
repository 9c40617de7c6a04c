import type { BackendType, IStorageBackend, Implementation } from "@mdm/storage-core";

/** A backend given as an instance, or as a type (plus implementation) resolved through core's manager. */
export type BackendRef = IStorageBackend | BackendType | { type: BackendType; implementation?: Implementation };

export type VerifyMode = "checksum" | "count" | "none";

export interface MigrationProgress {
  dataset: string;
  /** `registry`: published; the registry entry is being pointed at the target. */
  phase: "preflight" | "copy" | "verify" | "publish" | "registry" | "done";
  table?: string;
  /** Position of the table in the copy order (1-based) and how many there are. */
  tableIndex?: number;
  tableCount?: number;
  rowsDone: number;
  rowsTotal: number;
  /** Rows per second since the table started. */
  rate: number;
  /** Seconds left for this table at the current rate, when known. */
  etaSeconds: number | null;
}

export interface MigrateOptions {
  /** Rows per batch (default 10,000). Memory is bounded by it. */
  batchSize?: number;
  /**
   * checksum (default): row counts, column names and types, order-independent checksums; count: counts, names
   * and types; none. `true` means checksum and `false` none (as Python MDM's `verify=True`).
   */
  verify?: VerifyMode | boolean;
  /** Replace an existing target dataset (atomically, after verification). Default false: refused. */
  overwrite?: boolean;
  /** Drop the source dataset after a verified, published migration. Default false. */
  removeSource?: boolean;
  /** Scan source columns whose values the target may refuse before writing anything (default true). */
  preflightScan?: boolean;
  onProgress?: (event: MigrationProgress) => void;
  /** Told of what a demanding user wants to know (a stale lock taken over, a leftover removed, a kept source). Also in `warnings`. */
  onNotice?: (message: string) => void;
  signal?: AbortSignal;
  /**
   * Abort cleanly on SIGINT/SIGTERM while migrating (staging removed, source and registry untouched),
   * then re-raise the signal. Past the point of no return (the publish) the signal does not stop the
   * run: it completes, is not re-raised, and `interrupted` names it. Default false (the CLI turns it on).
   */
  handleSignals?: boolean;
  /**
   * Each value the target cannot hold becomes the entry of core's coercion table (`COERCIONS`: NaN -> NULL,
   * -0.0 -> 0.0, ...), counted per table and column in `MigrationResult.coerced` and in the target's
   * metadata (`migration_coerced`); verification compares the target with the coerced source. Default false: such a
   * value is refused before anything is written, naming its table, column and row.
   */
  coerceUnsupported?: boolean;
  /**
   * Column types changed on the way (CLI `--cast table.column=type`): each value converted by core's
   * `valueConverter`, the exact conversions only (text to timestamp, 0/1 integers to boolean, text to decimal,
   * ...). A value that does not convert fails the migration naming its table, column and row (nothing is
   * published), or with `coerceUnsupported` becomes NULL, counted as `unconverted`. Verification compares
   * the target with the converted source. The dataset's metadata records each cast (`column_types`).
   */
  casts?: Array<{ table: string; column: string; type: string }>;
  /**
   * A hook that sees every batch on its way to the target; for tests that inject corruption
   * (the checksum must catch it). Never set it in production.
   */
  transformBatch?: (table: string, rows: import("@mdm/storage-core").Value[][]) => import("@mdm/storage-core").Value[][];
}

export interface VerificationCheck {
  table: string;
  check: "row_count" | "columns" | "types" | "checksum";
  source: unknown;
  target: unknown;
  matches: boolean;
  /** Columns whose values differ (checksum mismatches only). */
  columns?: string[];
}

export interface VerificationReport {
  mode: VerifyMode;
  passed: boolean;
  checks: VerificationCheck[];
  differences: string[];
}

export interface MigrationResult {
  dataset: string;
  success: boolean;
  source: { type: BackendType; implementation: Implementation };
  target: { type: BackendType; implementation: Implementation };
  /** Every table copied, MDM's own (`_metadata`, `_columns`, `_statistics`) included, and all their rows. */
  tablesMigrated: string[];
  rowsMigrated: number;
  /** The dataset's own tables among them (not MDM's `_` tables) and their rows: what a summary reports. */
  dataTables: string[];
  dataRows: number;
  /** Size of the target database after the copy (bytes), when the backend reports it. */
  bytes: number | null;
  durationMs: number;
  rowsPerSecond: number;
  verification: VerificationReport | null;
  /** The source was dropped after the publish (`removeSource`). */
  sourceRemoved: boolean;
  /** Notices of the run (also given to `onNotice`): a stale lock taken over, a kept source, a deferred signal. */
  warnings: string[];
  /** Values `coerceUnsupported` changed, per table and column (absent when none was). */
  coerced?: Record<string, import("@mdm/storage-core").CoercedCounts>;
  /** A SIGINT/SIGTERM that arrived past the point of no return: the migration completed anyway. */
  interrupted?: NodeJS.Signals;
  error: { code: string; message: string } | null;
}

export interface MigrateAllOptions extends MigrateOptions {
  /** Datasets migrated at once (default 1). */
  concurrency?: number;
}

export interface MigrationSummary {
  total: number;
  succeeded: number;
  failed: number;
  totalRows: number;
  durationMs: number;
  results: MigrationResult[];
  failures: Array<{ dataset: string; code: string; message: string }>;
}

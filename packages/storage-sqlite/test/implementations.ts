import type { IStorageBackend } from "@mdm/storage-core";
// The legacy package is not a dependency of this one: its source is imported by path, for tests only.
import { LegacySqliteStorageBackend } from "../../storage-sqlite-legacy/src/index.js";
import { SqliteStorageBackend } from "../src/index.js";

/** Both SQLite implementations, built on the same MDM home. */
export const IMPLEMENTATIONS: Array<{ name: "legacy" | "new"; create: (homeDir: string) => IStorageBackend }> = [
  { name: "legacy", create: (homeDir) => new LegacySqliteStorageBackend({ homeDir }) },
  { name: "new", create: (homeDir) => new SqliteStorageBackend({ homeDir }) },
];

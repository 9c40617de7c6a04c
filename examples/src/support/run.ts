/**
 * What every example shares: a temporary MDM home removed at the end, section headings, the load of the
 * machine beside timings, and a manager that reads feature flags from code only (so an MDM_FEATURE_*
 * variable in the caller's shell cannot change the story an example tells).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StorageBackendManager, type ManagerOptions } from "@mdm/storage-core";

/** The examples package directory: backend packages are resolved from its node_modules. */
export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The caller's environment without MDM_FEATURE_* and MDM_HOME_DIR. */
export function envWithoutFlags(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MDM_FEATURE_") && key !== "MDM_HOME_DIR"));
}

export function newManager(homeDir: string, options: Omit<ManagerOptions, "homeDir"> = {}): StorageBackendManager {
  return new StorageBackendManager({ homeDir, env: envWithoutFlags(), resolveFrom: [EXAMPLES_DIR], ...options });
}

/** Runs `fn` with a fresh temporary MDM home, then removes it (also when `fn` fails). */
export async function withTempHome<T>(prefix: string, fn: (home: string) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), `${prefix}-`));
  console.log(`MDM home: ${home}`);
  try {
    return await fn(home);
  } finally {
    rmSync(home, { recursive: true, force: true });
    console.log(`Removed the temporary MDM home ${home}`);
  }
}

export function heading(title: string): void {
  console.log(`\n== ${title}`);
}

export function load(): string {
  return `load average ${loadavg().map((n) => n.toFixed(2)).join(" ")} on 1/5/15 min`;
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

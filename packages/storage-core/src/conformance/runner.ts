import type { IStorageBackend } from "../interface.js";
import { conformanceChecks, type ConformanceCheck } from "./checks/index.js";

/** What `createBackend` returns: a fresh, isolated backend and how to remove what it made. */
export interface ConformanceTarget {
  backend: IStorageBackend;
  /** Called after the suite closed the backend (remove the temp home, drop the test database). */
  cleanup?: () => Promise<void> | void;
}

export type CreateConformanceBackend = () => Promise<ConformanceTarget> | ConformanceTarget;

/** An opt-out: the title of a check and why it does not apply. A skip without a reason is an error. */
export interface ConformanceSkip {
  test: string;
  reason: string;
}

export interface ConformanceOptions {
  /** Shown in the describe block (`sqlite (new)`). */
  name: string;
  /** A fresh, isolated backend per check. */
  createBackend: CreateConformanceBackend;
  skip?: readonly ConformanceSkip[];
  /** Per-check timeout in milliseconds for the vitest wrapper (default 120,000). */
  timeout?: number;
}

export interface CheckResult {
  group: string;
  title: string;
  status: "passed" | "failed" | "skipped";
  /** The failure message, or the skip reason. */
  message?: string;
  durationMs: number;
}

export interface ConformanceReport {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  results: CheckResult[];
}

/**
 * Validate skip entries against the checks: every entry needs a non-empty reason and must name a
 * check that exists, once. Returns title → reason. Throws otherwise (the run must not start).
 */
export function resolveSkips(skip: readonly ConformanceSkip[] | undefined, checks: readonly ConformanceCheck[] = conformanceChecks): Map<string, string> {
  const out = new Map<string, string>();
  if (skip === undefined) return out;
  if (!Array.isArray(skip)) throw new TypeError("skip must be an array of { test, reason }");
  const titles = new Set(checks.map((c) => c.title));
  for (const entry of skip) {
    const test = (entry as Partial<ConformanceSkip> | null)?.test;
    const reason = (entry as Partial<ConformanceSkip> | null)?.reason;
    if (typeof test !== "string" || test.trim() === "") throw new TypeError(`A skip entry needs the title of a test, got ${JSON.stringify(entry)}`);
    if (typeof reason !== "string" || reason.trim() === "") throw new TypeError(`The skip of ${JSON.stringify(test)} has no reason: every skip must say why`);
    if (!titles.has(test)) throw new TypeError(`The skip of ${JSON.stringify(test)} names no test of the conformance suite (titles are listed by conformanceCheckTitles())`);
    if (out.has(test)) throw new TypeError(`${JSON.stringify(test)} is skipped twice`);
    out.set(test, reason.trim());
  }
  return out;
}

/** The titles of every check (what skip entries may name). */
export function conformanceCheckTitles(): string[] {
  return conformanceChecks.map((c) => c.title);
}

function validateOptions(options: Pick<ConformanceOptions, "createBackend">): void {
  if (typeof options?.createBackend !== "function") throw new TypeError("createBackend must be a function returning { backend, cleanup }");
}

/**
 * Create a backend, run `fn` on it, then close it and call its cleanup, whatever happened. The first
 * failure (of fn, then close, then cleanup) is thrown.
 */
export async function withConformanceBackend<T>(createBackend: CreateConformanceBackend, fn: (backend: IStorageBackend) => Promise<T>): Promise<T> {
  const target = await createBackend();
  if (!target || typeof target !== "object" || !target.backend) throw new TypeError("createBackend must return { backend, cleanup }");
  const failures: unknown[] = [];
  let result: T | undefined;
  try {
    result = await fn(target.backend);
  } catch (error) {
    failures.push(error);
  }
  try {
    await target.backend.close();
  } catch (error) {
    failures.push(error);
  }
  try {
    await target.cleanup?.();
  } catch (error) {
    failures.push(error);
  }
  if (failures.length > 0) throw failures[0];
  return result as T;
}

/** Run one check on a fresh backend; never throws, returns passed or failed with the message. */
export async function runCheck(check: ConformanceCheck, createBackend: CreateConformanceBackend): Promise<CheckResult> {
  const started = performance.now();
  try {
    await withConformanceBackend(createBackend, (backend) => check.run(backend));
    return { group: check.group, title: check.title, status: "passed", durationMs: performance.now() - started };
  } catch (error) {
    const message = error instanceof Error ? `${error.name === "ConformanceFailure" ? "" : `${error.name}: `}${error.message}` : String(error);
    return { group: check.group, title: check.title, status: "failed", message, durationMs: performance.now() - started };
  }
}

/**
 * Run the whole suite (or the checks `filter` keeps) without vitest, one fresh backend per check, in
 * order. For tools such as a validator; test files use `defineConformanceSuite`.
 */
export async function runConformanceChecks(
  options: Omit<ConformanceOptions, "timeout"> & { filter?: (check: ConformanceCheck) => boolean },
): Promise<ConformanceReport> {
  validateOptions(options);
  const skips = resolveSkips(options.skip);
  const results: CheckResult[] = [];
  for (const check of conformanceChecks) {
    if (options.filter && !options.filter(check)) continue;
    const reason = skips.get(check.title);
    if (reason !== undefined) {
      results.push({ group: check.group, title: check.title, status: "skipped", message: reason, durationMs: 0 });
      continue;
    }
    results.push(await runCheck(check, options.createBackend));
  }
  return {
    name: options.name,
    passed: results.filter((r) => r.status === "passed").length,
    failed: results.filter((r) => r.status === "failed").length,
    skipped: results.filter((r) => r.status === "skipped").length,
    results,
  };
}

export { validateOptions as validateConformanceOptions };

import { describe, it } from "vitest";
import { conformanceChecks, resolveSkips, validateConformanceOptions, withConformanceBackend, type ConformanceOptions } from "./checks-entry.js";

const DEFAULT_TIMEOUT = 120_000;

/**
 * Register the conformance suite of a backend as vitest describe/it blocks. Call it at the top level
 * of a test file:
 *
 * ```ts
 * defineConformanceSuite({
 *   name: "sqlite (new)",
 *   createBackend: async () => ({ backend, cleanup: async () => rm(home, { recursive: true }) }),
 *   skip: [{ test: "<title>", reason: "<why>" }],
 * });
 * ```
 *
 * Each check gets a fresh backend from `createBackend`, which the suite closes before calling
 * `cleanup`. A skip entry without a reason, or naming no check, throws here.
 */
export function defineConformanceSuite(options: ConformanceOptions): void {
  if (typeof options?.name !== "string" || options.name.trim() === "") throw new TypeError("defineConformanceSuite needs a name");
  validateConformanceOptions(options);
  const skips = resolveSkips(options.skip);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const groups = [...new Set(conformanceChecks.map((c) => c.group))];
  describe(`conformance: ${options.name}`, () => {
    for (const group of groups) {
      describe(group, () => {
        for (const check of conformanceChecks.filter((c) => c.group === group)) {
          const reason = skips.get(check.title);
          if (reason !== undefined) {
            it.skip(`${check.title} [skipped: ${reason}]`, () => undefined);
            continue;
          }
          it(check.title, () => withConformanceBackend(options.createBackend, (backend) => check.run(backend)), timeout);
        }
      });
    }
  });
}

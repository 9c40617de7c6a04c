import { describe, expect, it } from "vitest";
import { compareLegacyAndNew } from "../src/comparison-reports.js";
import { postgresUnavailable } from "../src/support/postgres.js";

const noServer = await postgresUnavailable();
if (noServer) console.warn(`Skipping the PostgreSQL comparison: ${noServer}`);

describe("StorageComparisonTester, legacy vs new, on the real engines", () => {
  it.each(["sqlite", "duckdb", "postgresql"] as const)("%s: 100% success rate", async (type) => {
    if (type === "postgresql" && noServer) return;
    const summary = await compareLegacyAndNew(type, { largeRows: 20_000, repeats: 2 });
    expect(summary.failedTests).toEqual([]);
    expect(summary.successRate).toBe(100);
    expect(summary.passed).toBe(summary.totalTests - summary.skipped);
    expect(summary.baseline).toBe(`${type} (legacy)`);
    expect(summary.candidate).toBe(`${type} (new)`);
  });
});

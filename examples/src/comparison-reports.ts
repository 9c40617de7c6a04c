/**
 * Runs the StorageComparisonTester, legacy vs new, for SQLite, DuckDB and PostgreSQL, and writes the
 * Markdown reports committed in packages/testing/docs/ (`pnpm --filter examples comparison-reports`).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendType } from "@mdm/storage-core";
import { StorageComparisonTester, formatConsoleReport, formatMarkdownReport, type ComparisonSummary } from "@mdm/testing";
import { configWithPostgres, dropPrefix, postgresUnavailable } from "./support/postgres.js";

export async function compareLegacyAndNew(type: BackendType, options: { largeRows?: number; repeats?: number } = {}): Promise<ComparisonSummary> {
  const prefix = `mdmcmp${randomBytes(3).toString("hex")}_`;
  try {
    return await new StorageComparisonTester({
      backendType: type,
      config: configWithPostgres({ database_prefix: prefix }),
      largeRows: options.largeRows ?? 100_000,
      repeats: options.repeats ?? 3,
    }).runAllTests();
  } finally {
    if (type === "postgresql") await dropPrefix(prefix).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const out = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..", "packages", "testing", "docs");
  mkdirSync(out, { recursive: true });
  const skip = await postgresUnavailable();
  for (const type of ["sqlite", "duckdb", "postgresql"] as const) {
    if (type === "postgresql" && skip) {
      console.log(`postgresql skipped: ${skip}`);
      continue;
    }
    const summary = await compareLegacyAndNew(type);
    console.log(formatConsoleReport(summary));
    writeFileSync(
      join(out, `comparison-${type}.md`),
      formatMarkdownReport(summary, { title: `Comparison report: ${type}, legacy vs new`, generatedBy: "pnpm --filter examples comparison-reports" }),
    );
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await main();

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCodes, MdmError, type SelectPlan, type Value } from "@mdm/storage-core";
import {
  MemoryStorageBackend,
  SCENARIOS,
  StorageComparisonTester,
  formatConsoleReport,
  formatJsonReport,
  formatMarkdownReport,
  type MemorySession,
  type Scenario,
} from "../src/index.js";

const FAST = { largeRows: 5_000, repeats: 2, warmup: 0 };

/** Alters one value on its way out: the text "test_7" reads back as "test_7x". */
class AlteringBackend extends MemoryStorageBackend {
  protected override async *_streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    for await (const batch of super._streamSelect(session, plan, signal)) yield batch.map((row) => row.map((v) => (v === "test_7" ? "test_7x" : v)));
  }
}

/** Drops one row of the table "batches" when reading it. */
class DroppingBackend extends MemoryStorageBackend {
  protected override async *_streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    for await (const batch of super._streamSelect(session, plan, signal)) yield plan.table === "batches" ? batch.filter((row) => row[0] !== 4242n) : batch;
  }
}

/** Correct, but every bulk insert waits 100 ms (far above the noise of a shared machine). */
class SlowBackend extends MemoryStorageBackend {
  static readonly DELAY_MS = 100;
  protected override async _insertRows(session: MemorySession, table: string, columns: Parameters<MemoryStorageBackend["_insertRows"]>[2], rows: Value[][]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SlowBackend.DELAY_MS));
    return super._insertRows(session, table, columns, rows);
  }
}

function failedNames(summary: Awaited<ReturnType<StorageComparisonTester["runAllTests"]>>): string[] {
  return summary.failedTests.map((f) => f.test);
}

describe("StorageComparisonTester", () => {
  it("reports 100% for two correct implementations, skipping on both sides what neither can run", async () => {
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new MemoryStorageBackend(), ...FAST }).runAllTests();
    expect(summary.failedTests).toEqual([]);
    expect(summary.successRate).toBe(100);
    expect(summary.totalTests).toBe(SCENARIOS.length);
    // The memory backends run no SQL: the query test is skipped, not passed.
    expect(summary.results.find((r) => r.test === "Query execution")?.skipped).toMatch(/SQL/);
    expect(summary.passed + summary.failed + summary.skipped).toBe(summary.totalTests);
    const perf = summary.results.filter((r) => r.kind === "performance");
    for (const r of perf) {
      expect(r.baseline.runsMs).toHaveLength(2);
      expect(r.candidate.runsMs).toHaveLength(2);
    }
  });

  it("reports exactly the test whose result a candidate alters by one value", async () => {
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new AlteringBackend(), ...FAST }).runAllTests();
    expect(failedNames(summary)).toEqual(["Table operations"]);
    expect(summary.failedTests[0]?.reason).toContain("test_7x");
  });

  it("reports exactly the test where a candidate drops a row", async () => {
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new DroppingBackend(), ...FAST }).runAllTests();
    expect(failedNames(summary)).toEqual(["Batch processing (50,000 rows in 5,000-row batches)"]);
  });

  it("measures a candidate slower by a known delay: no failure, and the slowdown in the timings", async () => {
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new SlowBackend(), ...FAST }).runAllTests();
    expect(summary.failedTests).toEqual([]);
    // Batch processing makes 10 bulk inserts: the candidate sleeps at least a second. Only this lower
    // bound is certain; the gap to the baseline shrinks when a loaded machine slows the baseline down.
    const batch = summary.results.find((r) => r.test.startsWith("Batch processing"));
    expect(batch?.candidate.timeMs ?? 0).toBeGreaterThanOrEqual(10 * SlowBackend.DELAY_MS * 0.9);
    expect(batch?.speedup).toBeLessThan(1);
    expect(summary.performanceRatio).toBeGreaterThan(1);
  });

  it("counts an exception on both sides as a failure unless it is the error code the test expects", async () => {
    const raiseSame: Scenario = {
      name: "both raise the same unexpected error",
      kind: "functional",
      run: async () => {
        throw new MdmError(ErrorCodes.QUERY_FAILED, "same on both sides");
      },
    };
    const expected: Scenario = {
      name: "both give the expected code",
      kind: "functional",
      expected: { code: ErrorCodes.DATASET_NOT_FOUND },
      run: async (ctx) => {
        try {
          await ctx.backend.loadData(ctx.dataset("absent"));
          return { code: "no error" };
        } catch (error) {
          return { code: (error as MdmError).code };
        }
      },
    };
    const wrongCode: Scenario = { ...expected, name: "both give the same wrong code", expected: { code: ErrorCodes.TABLE_NOT_FOUND } };
    let calls = 0;
    const oneSide: Scenario = {
      name: "only the candidate raises",
      kind: "functional",
      run: async () => {
        calls++;
        if (calls === 2) throw new Error("candidate only");
        return 1;
      },
    };
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new MemoryStorageBackend(), scenarios: [raiseSame, expected, wrongCode, oneSide] }).runAllTests();
    expect(summary.results.map((r) => [r.test, r.passed])).toEqual([
      ["both raise the same unexpected error", false],
      ["both give the expected code", true],
      ["both give the same wrong code", false],
      ["only the candidate raises", false],
    ]);
    expect(summary.failedTests[0]?.reason).toMatch(/baseline raised MDM_QUERY_FAILED.*candidate raised MDM_QUERY_FAILED/);
    expect(summary.successRate).toBe(25);
  });

  it("writes console, JSON and Markdown reports", async () => {
    const summary = await new StorageComparisonTester({ baseline: new MemoryStorageBackend(), candidate: new AlteringBackend(), ...FAST }).runAllTests();
    const text = formatConsoleReport(summary);
    expect(text).toContain("Success rate");
    expect(text).toContain("Table operations");
    const json = JSON.parse(formatJsonReport(summary));
    expect(json.failed).toBe(1);
    expect(json.results).toHaveLength(summary.totalTests);
    const md = formatMarkdownReport(summary, { generatedBy: "vitest" });
    expect(md).toMatch(/\| Table operations \| functional \|.*\| FAIL \|/);
    expect(md).toContain("## Failed tests");
    const dir = mkdtempSync(join(tmpdir(), "mdm-report-"));
    try {
      const file = join(dir, "r.md");
      (await import("node:fs")).writeFileSync(file, md);
      expect(readFileSync(file, "utf8")).toBe(md);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a constructor without sides or with an unknown type", () => {
    expect(() => new StorageComparisonTester({})).toThrow(MdmError);
    expect(() => new StorageComparisonTester("mysql" as never)).toThrow(/Unknown backend type/);
  });
});

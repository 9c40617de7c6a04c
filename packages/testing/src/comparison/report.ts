import Table from "cli-table3";
import pc from "picocolors";
import type { ComparisonResult, ComparisonSummary } from "./tester.js";

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

function timeCell(result: ComparisonResult, side: "baseline" | "candidate"): string {
  const outcome = result[side];
  if (result.skipped) return "-";
  if (outcome.error) return outcome.error.code;
  return outcome.runsMs.length > 1 ? `${ms(outcome.timeMs)} ±${outcome.spreadPct.toFixed(0)}%` : ms(outcome.timeMs);
}

function speedupText(result: ComparisonResult): string {
  return result.speedup === null ? "-" : `${result.speedup.toFixed(2)}x`;
}

function status(result: ComparisonResult): string {
  return result.skipped ? "SKIP" : result.passed ? "PASS" : "FAIL";
}

/** A terminal report: summary lines and a table with the speed-up per test (colours when the terminal has them). */
export function formatConsoleReport(summary: ComparisonSummary): string {
  const rate = summary.successRate;
  const rateText = `${rate.toFixed(1)}%`;
  const lines = [
    pc.bold(`Storage comparison: ${summary.baseline} (baseline) vs ${summary.candidate} (candidate)`),
    `Tests: ${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ""} of ${summary.totalTests}`,
    `Success rate: ${rate === 100 ? pc.green(rateText) : rate >= 90 ? pc.yellow(rateText) : pc.red(rateText)}`,
    `Time: baseline ${ms(summary.baselineTime)}, candidate ${ms(summary.candidateTime)}, ratio candidate/baseline ${summary.performanceRatio.toFixed(2)}`,
  ];
  const table = new Table({ head: ["Test", "Baseline", "Candidate", "Speed-up", "Status"], style: { head: [], border: [] } });
  for (const r of summary.results) {
    const s = status(r);
    const colour = s === "PASS" ? pc.green : s === "FAIL" ? pc.red : pc.dim;
    const speed = r.speedup === null ? "-" : r.speedup >= 1 ? pc.green(speedupText(r)) : pc.yellow(speedupText(r));
    table.push([r.test, timeCell(r, "baseline"), timeCell(r, "candidate"), speed, colour(s)]);
  }
  lines.push(table.toString());
  if (summary.failedTests.length > 0) {
    lines.push(pc.red("Failed tests:"));
    for (const f of summary.failedTests) lines.push(`  ${f.test}: ${f.reason}`);
  }
  return lines.join("\n");
}

/** The summary as JSON (bigints as strings), for CI artifacts. */
export function formatJsonReport(summary: ComparisonSummary): string {
  return JSON.stringify(summary, (_key, value) => (typeof value === "bigint" ? value.toString() : value), 2);
}

function md(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The summary as Markdown, for CI artifacts and docs. */
export function formatMarkdownReport(summary: ComparisonSummary, options: { title?: string; generatedBy?: string } = {}): string {
  const lines = [
    `# ${options.title ?? `Storage comparison: ${summary.baseline} vs ${summary.candidate}`}`,
    "",
    `- Baseline: ${summary.baseline}`,
    `- Candidate: ${summary.candidate}`,
    `- Tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped (${summary.totalTests} in all)`,
    `- Success rate: ${summary.successRate.toFixed(1)}%`,
    `- Total time: baseline ${ms(summary.baselineTime)}, candidate ${ms(summary.candidateTime)}; performance ratio (candidate / baseline) ${summary.performanceRatio.toFixed(2)}`,
    ...(options.generatedBy ? [`- Produced by: \`${options.generatedBy}\``] : []),
    "",
    "| Test | Kind | Baseline | Candidate | Speed-up | Status |",
    "|---|---|---|---|---|---|",
    ...summary.results.map((r) => `| ${md(r.test)} | ${r.kind} | ${timeCell(r, "baseline")} | ${timeCell(r, "candidate")} | ${speedupText(r)} | ${status(r)} |`),
  ];
  if (summary.failedTests.length > 0) {
    lines.push("", "## Failed tests", "", ...summary.failedTests.map((f) => `- **${md(f.test)}**: ${md(f.reason)}`));
  }
  lines.push("", "Times are medians of the timed runs (performance tests: after a warm-up; ± is half the range over the median).", "");
  return lines.join("\n");
}

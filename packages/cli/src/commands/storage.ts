import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BACKEND_TYPES, type BackendType, type IStorageBackend } from "@mdm/storage-core";
import { parseBackendSpec, type CliContext } from "../context.js";
import { CliError, ExitCodes, UsageError, type ExitCode } from "../exit-codes.js";
import { StorageValidator } from "@mdm/migration";
import { colour, formatDuration, print, printJson, printJsonText } from "../output.js";

interface ComparisonModule {
  StorageComparisonTester: new (options: Record<string, unknown>) => { runAllTests(): Promise<{ failed: number } & Record<string, unknown>> };
  formatConsoleReport(summary: unknown): string;
  formatJsonReport(summary: unknown): string;
  formatMarkdownReport(summary: unknown, options?: { generatedBy?: string }): string;
}

/** The comparison tester of @mdm/testing (loaded only for this command). */
async function comparisonModule(): Promise<ComparisonModule> {
  const mod = (await import("@mdm/testing/comparison")) as unknown as Partial<ComparisonModule>;
  if (typeof mod.StorageComparisonTester !== "function" || typeof mod.formatConsoleReport !== "function") {
    throw new CliError("The installed @mdm/testing has no StorageComparisonTester; upgrade @mdm/testing", ExitCodes.BACKEND_UNAVAILABLE);
  }
  return mod as ComparisonModule;
}

export async function compareCommand(ctx: CliContext, rawType: string, options: { rows?: string; json?: string | boolean; markdown?: string }): Promise<ExitCode> {
  const type = rawType.trim().toLowerCase();
  if (!(BACKEND_TYPES as readonly string[]).includes(type)) throw new UsageError(`<backend> must be one of ${BACKEND_TYPES.join(", ")}, got ${JSON.stringify(rawType)}`);
  let rows: number | undefined;
  if (options.rows !== undefined) {
    if (!/^[1-9]\d*$/.test(options.rows.trim())) throw new UsageError(`--rows must be a positive integer, got ${JSON.stringify(options.rows)}`);
    rows = Number(options.rows);
  }
  const mod = await comparisonModule();
  // Both sides live in a temporary MDM home (PostgreSQL: uniquely named datasets the tester drops), never in the user's.
  const home = mkdtempSync(join(tmpdir(), "mdm-compare-"));
  const sides: IStorageBackend[] = [];
  try {
    for (const implementation of ["legacy", "new"] as const) {
      const factory = await ctx.factory(type as BackendType, implementation);
      const backend = factory.create({ homeDir: join(home, implementation), config: ctx.config });
      sides.push(backend);
      await backend.init();
    }
    return await runComparison(mod, sides, type, rows, options);
  } finally {
    for (const s of sides) await s.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}

async function runComparison(
  { StorageComparisonTester, formatConsoleReport, formatJsonReport, formatMarkdownReport }: ComparisonModule,
  sides: IStorageBackend[],
  type: string,
  rows: number | undefined,
  options: { json?: string | boolean; markdown?: string },
): Promise<ExitCode> {
  const tester = new StorageComparisonTester({
    baseline: sides[0],
    candidate: sides[1],
    largeRows: rows,
    onResult: (r: { test: string; passed: boolean; skipped?: string }) => process.stderr.write(`  ${r.skipped ? "SKIP" : r.passed ? "PASS" : "FAIL"} ${r.test}\n`),
  });
  const summary = await tester.runAllTests();
  // `--json` alone: the JSON report is stdout, as every command's --json; the console report goes to stderr.
  const jsonToStdout = options.json === true;
  const say = (text: string) => (jsonToStdout ? process.stderr.write(`${text}\n`) : print(text));
  say(formatConsoleReport(summary));
  if (jsonToStdout) printJsonText(formatJsonReport(summary));
  else if (typeof options.json === "string") {
    writeFileSync(resolve(options.json), `${formatJsonReport(summary)}\n`);
    say(`JSON report: ${resolve(options.json)}`);
  }
  if (options.markdown) {
    writeFileSync(resolve(options.markdown), formatMarkdownReport(summary, { generatedBy: `mdm storage compare ${type}${rows ? ` --rows ${rows}` : ""}` }));
    say(`Markdown report: ${resolve(options.markdown)}`);
  }
  return summary.failed > 0 ? ExitCodes.FAILURE : ExitCodes.OK;
}

/**
 * `mdm storage validate`: @mdm/migration's StorageValidator on fresh backends of that type and implementation
 * in a temporary home (PostgreSQL: a temporary database prefix), never on the user's datasets.
 * `--json` prints its report: `{ passed: string[], failed: [{ check, error }], warnings: string[], durationMs, backend }`.
 */
export async function validateCommand(ctx: CliContext, rawSpec: string, options: { json?: boolean; rows?: string }): Promise<ExitCode> {
  const spec = parseBackendSpec(rawSpec, "<backend>");
  let performanceRows: number | undefined;
  if (options.rows !== undefined) {
    if (!/^[1-9]\d*$/.test(options.rows.trim())) throw new UsageError(`--rows must be a positive integer, got ${JSON.stringify(options.rows)}`);
    performanceRows = Number(options.rows);
  }
  const implementation = ctx.implementationFor(spec);
  // Registers the backend packages with the manager the validator resolves them through.
  await ctx.factory(spec.type, implementation);
  const validator = new StorageValidator({ type: spec.type, implementation }, { manager: ctx.manager, performanceRows });
  const report = await validator.validateAll();
  if (options.json) printJson(report);
  else {
    print(`Validation of ${report.backend}`);
    for (const p of report.passed) print(`  ${colour.green("PASS")} ${p}`);
    for (const w of report.warnings) print(`  ${colour.yellow("WARN")} ${w}`);
    for (const f of report.failed) print(`  ${colour.red("FAIL")} ${f.check}: ${f.error}`);
    print(`${report.passed.length} passed, ${report.failed.length} failed, ${report.warnings.length} warnings in ${formatDuration(report.durationMs)}`);
  }
  return report.failed.length > 0 ? ExitCodes.FAILURE : ExitCodes.OK;
}

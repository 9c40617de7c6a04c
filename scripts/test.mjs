#!/usr/bin/env node
// `pnpm test`: build every package, check what would be published (publint, attw), run every package's
// tests one package at a time (they share one PostgreSQL server and two cores), then print one line with
// the totals read from each package's vitest JSON report; then the publishing checks (README template,
// changesets, downstream install from the packed tarballs).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const packages = [...readdirSync(join(root, "packages")).sort().map((d) => join("packages", d)), "examples"];
const report = (dir) => join(root, dir, ".vitest-results.json");
for (const dir of packages) rmSync(report(dir), { force: true });

const run = (args) => execFileSync("pnpm", args, { stdio: "inherit", cwd: root });
let failure;
try {
  run(["turbo", "run", "build", "lint:package"]);
  run(["turbo", "run", "test", "--concurrency=1", "--continue"]);
} catch (error) {
  failure = error;
}

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of packages) {
  if (!existsSync(report(dir))) {
    missing.push(dir);
    continue;
  }
  const r = JSON.parse(readFileSync(report(dir), "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  console.log(`${dir}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
}
if (missing.length > 0) console.log(`no test report from: ${missing.join(", ")}`);
const totals = `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
console.log(totals);
// .ci/run prints it again as its last line.
writeFileSync(join(root, ".test-totals"), `${totals}\n`);

// Publishing checks, each printing its own PASS/FAIL lines: the README template, the release configuration
// (changesets in a throwaway clone), and the downstream test (packed tarballs installed with npm and pnpm in
// a fresh project outside the workspace; the packages were built above).
const publishing = [
  ["scripts/readme-lint.mjs"],
  ["scripts/changesets-test.mjs"],
  ["scripts/downstream-test.mjs", "--no-build"],
];
const failedChecks = [];
for (const [script, ...args] of publishing) {
  try {
    execFileSync(process.execPath, [join(root, script), ...args], { stdio: "inherit", cwd: root });
  } catch {
    failedChecks.push(script);
  }
}
if (failedChecks.length > 0) console.log(`Publishing checks failed: ${failedChecks.join(", ")}`);
if (failure || failed > 0 || failedChecks.length > 0) process.exit(1);

#!/usr/bin/env node
// Every package README follows one template: a level-2 heading (`## ...`) starting with each of these words,
// each followed by some text. Type mapping is asked of the backend packages only. Extra sections are welcome.
// Prints one PASS/FAIL line per README and exits 1 when a section is missing or empty.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const TEMPLATE = [
  { section: "Install", heading: /^install/i },
  { section: "Usage", heading: /^usage/i },
  { section: "Options (with defaults)", heading: /^options/i },
  { section: "Type mapping", heading: /^type mapping/i, backendsOnly: true },
  { section: "Capabilities", heading: /^capabilities/i },
  { section: "Error codes", heading: /^error codes/i },
  { section: "Conformance", heading: /conformance/i },
  { section: "Upgrading from legacy to new", heading: /^upgrad(e|ing)/i },
];

const isBackend = (dir) => dir.startsWith("storage-") && dir !== "storage-core";

/** The level-2 sections of a Markdown text (fenced code ignored): [{ title, body }]. */
export function sections(markdown) {
  const result = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^## +(.+?)\s*$/.exec(line);
    if (heading) result.push({ title: heading[1], body: "" });
    else if (result.length > 0 && !/^#{1,2} /.test(line)) result[result.length - 1].body += `${line}\n`;
  }
  return result;
}

/** Template sections missing (or empty) in the README of packages/<dir>. */
export function missingSections(dir, markdown) {
  const found = sections(markdown);
  return TEMPLATE.filter((t) => !t.backendsOnly || isBackend(dir))
    .filter((t) => !found.some((s) => t.heading.test(s.title.replace(/[`*]/g, "")) && s.body.trim().length > 0))
    .map((t) => t.section);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packages = join(new URL("..", import.meta.url).pathname, "packages");
  let failed = 0;
  const dirs = readdirSync(packages).filter((d) => existsSync(join(packages, d, "package.json"))).sort();
  for (const dir of dirs) {
    const file = join(packages, dir, "README.md");
    const missing = existsSync(file) ? missingSections(dir, readFileSync(file, "utf8")) : ["README.md itself"];
    if (missing.length > 0) failed++;
    console.log(`readme: ${missing.length ? "FAIL" : "PASS"} packages/${dir}/README.md${missing.length ? ` lacks: ${missing.join(", ")}` : ""}`);
  }
  console.log(`READMEs: ${dirs.length - failed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

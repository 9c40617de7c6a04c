#!/usr/bin/env node
// The downstream test: live what a user of the published packages lives. `pnpm pack` every package (which
// turns `workspace:` ranges into real ones), create a fresh project in a temp directory outside the workspace,
// install only @mdm/storage-core, @mdm/storage-sqlite, @mdm/storage-duckdb, @mdm/migration and @mdm/testing
// (without vitest, its optional peer) from the tarballs, once with npm and once with pnpm (with the build approval the READMEs document for better-sqlite3),
// and there: migrate a SQLite dataset to DuckDB with checksum verification from an ES module and from a
// CommonJS module, type-check a TypeScript file against the published declarations (node16 resolution, ESM
// and CJS), ask the manager for postgresql (MDM_BACKEND_NOT_INSTALLED naming the package), and check that
// one copy of core is installed and loaded. The fixtures are in scripts/downstream/.
//
// Network: the npm registry only (better-sqlite3 is built from source, never downloaded from GitHub; npm's
// cache and pnpm's store make the second run fast). Options: --no-build (the packages are built already, as
// in `pnpm test`), --keep (leave the temp directory for inspection), --only=npm|pnpm.
import { spawn, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = realpathSync(new URL("..", import.meta.url).pathname);
const fixtures = join(root, "scripts", "downstream");
const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const managers = only ? [only] : ["npm", "pnpm"];
const INSTALLED = ["@mdm/storage-core", "@mdm/storage-sqlite", "@mdm/storage-duckdb", "@mdm/migration", "@mdm/testing"];
const started = Date.now();
const seconds = (from) => `${((Date.now() - from) / 1000).toFixed(1)}s`;
const results = [];
const record = (name, ok, detail = "") => {
  results.push({ name, ok });
  console.log(`downstream: ${ok ? "PASS" : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};

/** Run a command; resolve with its output, never reject (the caller decides what failure means). */
function exec(cmd, argv, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { ...options, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (error) => resolve({ code: -1, output: `${output}${error.message}` }));
    child.on("close", (code) => resolve({ code, output }));
  });
}

const indent = (text, prefix) => text.trimEnd().split("\n").map((line) => `  ${prefix} ${line}`).join("\n");

const work = mkdtempSync(join(tmpdir(), "mdm-downstream-"));
if (`${realpathSync(work)}/`.startsWith(`${root}/`)) throw new Error(`the temp directory ${work} is inside the workspace`);
console.log(`downstream: working in ${work}`);

try {
  if (!args.includes("--no-build")) execFileSync("pnpm", ["turbo", "run", "build"], { cwd: root, stdio: "inherit" });

  // 1. Pack every published package.
  const t0 = Date.now();
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  const packageDirs = readdirSync(join(root, "packages"))
    .map((d) => join(root, "packages", d))
    .filter((d) => existsSync(join(d, "package.json")) && !JSON.parse(readFileSync(join(d, "package.json"), "utf8")).private);
  const packs = await Promise.all(packageDirs.map((dir) => exec("pnpm", ["pack", "--pack-destination", tarballs], { cwd: dir })));
  const failedPacks = packs.map((p, i) => (p.code === 0 ? null : `${relative(root, packageDirs[i])}: ${p.output}`)).filter(Boolean);
  const tarballOf = {};
  for (const file of readdirSync(tarballs)) {
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", join(tarballs, file), "package/package.json"], { encoding: "utf8" }));
    tarballOf[manifest.name] = { file: join(tarballs, file), manifest };
  }
  const workspaceRanges = Object.values(tarballOf)
    .filter(({ manifest }) => JSON.stringify(manifest).includes("workspace:"))
    .map(({ manifest }) => manifest.name);
  const notBuilt = Object.values(tarballOf).filter(({ file }) => !execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).includes("package/dist/index.cjs"));
  record(`pnpm pack of ${packageDirs.length} packages, no workspace: range left, dist included`, failedPacks.length === 0 && workspaceRanges.length === 0 && notBuilt.length === 0 && Object.keys(tarballOf).length === packageDirs.length, failedPacks.join("\n") || workspaceRanges.join(", ") || notBuilt.map((t) => t.file).join(", ") || seconds(t0));
  for (const name of INSTALLED) if (!tarballOf[name]) throw new Error(`no tarball for ${name}`);

  // 2. One fresh project per package manager, installed in parallel (npm compiles better-sqlite3 meanwhile).
  const typeRoots = [join(root, "node_modules", "@types")]; // @types/node, as any TypeScript user of Node has
  const projects = managers.map((pm) => {
    const dir = join(work, `project-${pm}`);
    mkdirSync(dir);
    cpSync(fixtures, dir, { recursive: true });
    const tsconfig = JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8"));
    tsconfig.compilerOptions.typeRoots = typeRoots;
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    const manifest = { name: `mdm-downstream-${pm}`, version: "0.0.0", private: true, description: "downstream test project" };
    // pnpm 10 runs no dependency build script unless approved: the setting the backend READMEs document.
    if (pm === "pnpm") manifest.pnpm = { onlyBuiltDependencies: ["better-sqlite3"] };
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    return { pm, dir };
  });
  const files = INSTALLED.map((name) => tarballOf[name].file);
  // Build better-sqlite3 from source (prebuild-install would fetch a binary from GitHub, not the registry).
  const installEnv = { npm_config_build_from_source: "true", npm_config_update_notifier: "false" };
  // node-gyp takes Node's headers from this installation when it has them (else it would fetch them from nodejs.org).
  const nodePrefix = join(process.execPath, "..", "..");
  if (!process.env.npm_config_nodedir && existsSync(join(nodePrefix, "include", "node", "node_api.h"))) installEnv.npm_config_nodedir = nodePrefix;
  const installs = await Promise.all(
    projects.map(async ({ pm, dir }) => {
      const t = Date.now();
      const argv = pm === "npm" ? ["install", "--no-audit", "--no-fund", "--prefer-offline", ...files] : ["add", "--prefer-offline", ...files];
      const r = await exec(pm, argv, { cwd: dir, env: installEnv });
      return { ...r, time: seconds(t) };
    }),
  );
  for (const [i, { pm, dir }] of projects.entries()) {
    const { code, output, time } = installs[i];
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const deps = Object.keys(manifest.dependencies ?? {}).sort();
    const mdmInstalled = ["@mdm"].flatMap((scope) => (existsSync(join(dir, "node_modules", scope)) ? readdirSync(join(dir, "node_modules", scope)).map((n) => `${scope}/${n}`) : [])).sort();
    const ok = code === 0 && JSON.stringify(deps) === JSON.stringify([...INSTALLED].sort()) && JSON.stringify(mdmInstalled) === JSON.stringify([...INSTALLED].sort());
    record(`${pm} install of ${INSTALLED.join(", ")} from the tarballs`, ok, ok ? time : `exit ${code}, dependencies ${deps.join(",")}, node_modules/@mdm: ${mdmInstalled.join(",")}\n${indent(output, `[${pm}]`)}`);
    if (!ok) projects[i].broken = true;
  }

  // 3. In each project: ESM and CJS scenarios, then the type check.
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  for (const { pm, dir, broken } of projects) {
    if (broken) continue;
    for (const [label, argv] of [
      ["ESM (app.mjs)", ["app.mjs"]],
      ["CommonJS (app.cjs)", ["app.cjs"]],
      ["TypeScript check of check.mts + check.cts (node16, published .d.ts/.d.cts)", [tsc, "-p", "tsconfig.json"]],
    ]) {
      const t = Date.now();
      const { code, output } = await exec(process.execPath, argv, { cwd: dir });
      if (output.trim()) console.log(indent(output, `[${pm}]`));
      record(`${pm}: ${label}`, code === 0, code === 0 ? seconds(t) : `exit ${code}`);
    }
  }
} catch (error) {
  record("downstream test ran to the end", false, error instanceof Error ? error.message : String(error));
} finally {
  if (args.includes("--keep")) console.log(`downstream: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok).length;
console.log(`Downstream: ${results.length - failed} passed, ${failed} failed (${seconds(started)})`);
process.exit(failed > 0 ? 1 : 0);

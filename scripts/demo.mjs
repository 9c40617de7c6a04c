#!/usr/bin/env node
// `pnpm demo`: the main job on the embedded default, with the built `mdm` on a temporary MDM home.
// Builds the CLI and what it depends on (turbo; cached after the first time), registers the shipped
// example dataset (data/example-dataset: train.csv and test.csv, target `churned`, id column `id`) into
// SQLite, migrates it to DuckDB with checksum verification (progress and summary), shows where it now
// lives, and removes the temporary home. Needs no server.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const mdmBin = join(root, "packages", "cli", "dist", "bin.js");
const dataset = join(root, "data", "example-dataset");

function step(title) {
  console.log(`\n\x1b[1m== ${title}\x1b[0m`);
}

step("Building @mdm/cli and its dependencies");
const build = spawnSync("pnpm", ["exec", "turbo", "run", "build", "--filter=@mdm/cli...", "--output-logs=errors-only"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const home = mkdtempSync(join(tmpdir(), "mdm-demo-"));
const env = { ...process.env, MDM_HOME_DIR: home, MDM_DATABASE_DEFAULT_BACKEND: "sqlite" };
// The demo must not pick up the caller's feature-flag environment.
for (const key of Object.keys(env)) if (key.startsWith("MDM_FEATURE_")) delete env[key];

function mdm(...args) {
  console.log(`\n$ mdm ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [mdmBin, ...args], { env, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`mdm ${args[0]} failed with exit code ${r.status ?? r.signal}`);
    rmSync(home, { recursive: true, force: true });
    process.exit(r.status ?? 1);
  }
}

try {
  step(`Temporary MDM home: ${home}`);
  mdm("dataset", "register", "churn", dataset, "--backend", "sqlite", "--target", "churned", "--id-columns", "id");
  mdm("dataset", "info", "churn");
  step("Migrating to DuckDB (staged, verified by checksums, published atomically)");
  mdm("migrate", "churn", "--to", "duckdb", "--verify", "checksum", "--remove-source");
  mdm("dataset", "list");
} finally {
  rmSync(home, { recursive: true, force: true });
}
console.log(`\nDone; removed ${home}.`);

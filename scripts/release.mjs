#!/usr/bin/env node
// Build, check (publint, attw, tests) and publish every public @mdm/* package with provenance.
// `--dry-run` does everything except the upload.
import { execFileSync } from "node:child_process";

const dryRun = process.argv.includes("--dry-run");
const run = (cmd, args) => {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { stdio: "inherit" });
};

run("pnpm", ["turbo", "run", "build"]);
run("pnpm", ["turbo", "run", "lint:package"]);
if (!process.argv.includes("--skip-tests")) run("pnpm", ["turbo", "run", "test", "--concurrency=1"]);
const publish = ["-r", "publish", "--access", "public", "--no-git-checks"];
if (dryRun) publish.push("--dry-run");
else publish.push("--provenance");
run("pnpm", publish);

#!/usr/bin/env node
// `pnpm release`: build, check (publint, attw, README template, tests) and publish every public @mdm/* package
// with provenance. Options:
//   --dry-run     everything, then `pnpm publish -r --dry-run`: nothing is uploaded and no registry token is
//                 needed (CI runs this);
//   --skip-tests  leave out `pnpm test` (only when it has just run, as in CI).
// A real publish refuses to start while changesets are pending (run `pnpm version-packages` and commit first).
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const unknown = args.filter((a) => !["--dry-run", "--skip-tests"].includes(a));
if (unknown.length > 0) {
  console.error(`release: unknown option ${unknown.join(" ")} (use --dry-run, --skip-tests)`);
  process.exit(2);
}
const dryRun = args.includes("--dry-run");
const run = (cmd, argv) => {
  console.log(`$ ${cmd} ${argv.join(" ")}`);
  execFileSync(cmd, argv, { stdio: "inherit", cwd: root });
};

const pending = readdirSync(join(root, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md");
if (pending.length > 0) {
  const message = `release: ${pending.length} changeset(s) not yet applied (${pending.join(", ")}): run \`pnpm version-packages\` and commit`;
  if (!dryRun) {
    console.error(message);
    process.exit(1);
  }
  console.log(`${message} (dry run: continuing)`);
}

try {
  run("pnpm", ["turbo", "run", "build"]);
  run("pnpm", ["turbo", "run", "lint:package"]); // publint --strict, attw --pack (node16 profile)
  run("node", ["scripts/readme-lint.mjs"]);
  if (!args.includes("--skip-tests")) run("pnpm", ["test"]); // package tests, changesets, downstream install
  const publish = ["-r", "publish", "--access", "public", "--no-git-checks"];
  publish.push(dryRun ? "--dry-run" : "--provenance");
  run("pnpm", publish);
} catch (error) {
  console.error(`release: failed${dryRun ? " (dry run)" : ""}: ${error.message.split("\n")[0]}`);
  process.exit(1);
}
console.log(dryRun ? "release: dry run passed, nothing was published" : "release: published");

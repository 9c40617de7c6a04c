#!/usr/bin/env node
// Proves the release configuration (.changeset/config.json) does what RELEASING.md says, in a throwaway clone
// of the committed repository (the real one is never touched):
//   1. a patch changeset for one backend (@mdm/storage-duckdb) bumps every @mdm/* package to the same patch
//      version (one fixed group), leaves the private `examples` package alone, keeps `workspace:` ranges,
//      and `changeset version` writes a CHANGELOG.md per package, with the note in the backend's;
//   2. a minor changeset for @mdm/storage-core should bump everything to the next minor and nothing to a
//      major; it does not yet (peer-dependent major cascade, a known problem in RELEASING.md: reported, not
//      counted as a failure).
// `changeset status` must accept each changeset first. Prints one PASS/FAIL line per check.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = realpathSync(new URL("..", import.meta.url).pathname);
const changesetBin = join(root, "node_modules", "@changesets", "cli", "bin.js");
const started = Date.now();
const results = [];
let knownProblem = null; // set while a scenario documented as a known problem in RELEASING.md runs
const record = (name, ok, detail = "") => {
  if (knownProblem && !ok) {
    console.log(`changesets: KNOWN ${name}${detail ? ` (${detail})` : ""} -- ${knownProblem}`);
    return;
  }
  results.push(ok);
  console.log(`changesets: ${ok ? "PASS" : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};

const manifests = (repo) =>
  Object.fromEntries(
    [...readdirSync(join(repo, "packages")).map((d) => join("packages", d)), "examples"]
      .filter((dir) => existsSync(join(repo, dir, "package.json")))
      .map((dir) => {
        const manifest = JSON.parse(readFileSync(join(repo, dir, "package.json"), "utf8"));
        return [manifest.name, { dir: join(repo, dir), manifest }];
      }),
  );
const nextVersion = (version, bump) => {
  const [major, minor, patch] = version.split(".").map(Number);
  return bump === "minor" ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
};

function scenario(label, bumped, bump, note) {
  const work = mkdtempSync(join(tmpdir(), "mdm-changesets-"));
  try {
    const repo = join(work, "repo");
    execFileSync("git", ["clone", "--quiet", "--no-hardlinks", root, repo]);
    // The release configuration as it is in the working tree (committed or not); packages as committed.
    cpSync(join(root, ".changeset", "config.json"), join(repo, ".changeset", "config.json"));
    const git = (...args) => execFileSync("git", ["-c", "user.name=changesets-test", "-c", "user.email=changesets-test@localhost", ...args], { cwd: repo, encoding: "utf8" });
    const changeset = (...args) => execFileSync(process.execPath, [changesetBin, ...args], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const before = manifests(repo);
    const published = Object.keys(before).filter((name) => !before[name].manifest.private);

    // The change and its changeset, committed on a branch as a pull request would be.
    git("checkout", "--quiet", "-b", "change");
    writeFileSync(join(before[bumped].dir, "src", "changeset-test-note.ts"), `// ${note}\nexport {};\n`);
    writeFileSync(join(repo, ".changeset", "changeset-test.md"), `---\n"${bumped}": ${bump}\n---\n\n${note}\n`);
    git("add", "-A");
    git("commit", "--quiet", "-m", note);

    const statusFile = join(work, "status.json");
    changeset("status", `--output=${statusFile}`);
    const status = JSON.parse(readFileSync(statusFile, "utf8"));
    const expected = nextVersion(before[bumped].manifest.version, bump);
    const planned = Object.fromEntries(status.releases.filter((r) => r.type !== "none").map((r) => [r.name, r.newVersion]));
    record(
      `${label}: changeset status plans ${published.length} packages at ${expected}`,
      published.every((name) => planned[name] === expected) && Object.keys(planned).length === published.length,
      JSON.stringify(planned),
    );

    changeset("version");
    const after = manifests(repo);
    const wrong = published.filter((name) => after[name].manifest.version !== expected);
    record(`${label}: changeset version bumps every @mdm/* package to ${expected} (fixed group)`, wrong.length === 0, wrong.map((n) => `${n}@${after[n].manifest.version}`).join(", "));
    const majors = published.filter((name) => Number(after[name].manifest.version.split(".")[0]) > Number(before[name].manifest.version.split(".")[0]));
    record(`${label}: no package bumped to a new major`, majors.length === 0, majors.join(", "));
    record(`${label}: the private examples package is not versioned`, after.examples?.manifest.version === before.examples?.manifest.version, after.examples?.manifest.version);
    const ranges = published.flatMap((name) =>
      ["dependencies", "peerDependencies", "devDependencies"].flatMap((field) =>
        Object.entries(after[name].manifest[field] ?? {})
          .filter(([dep, range]) => dep.startsWith("@mdm/") && !range.startsWith("workspace:"))
          .map(([dep, range]) => `${name} ${field} ${dep}@${range}`),
      ),
    );
    record(`${label}: internal ranges stay workspace: (pnpm pack turns them into ^${expected})`, ranges.length === 0, ranges.join(", "));
    const changelogs = published.map((name) => {
      const file = join(after[name].dir, "CHANGELOG.md");
      return { name, text: existsSync(file) ? readFileSync(file, "utf8") : "" };
    });
    const missing = changelogs.filter((c) => !c.text.includes(`## ${expected}`)).map((c) => c.name);
    const noted = changelogs.find((c) => c.name === bumped)?.text.includes(note);
    record(`${label}: a CHANGELOG.md with "## ${expected}" in every package, the note in ${bumped}'s`, missing.length === 0 && noted === true, missing.length ? `missing in ${missing.join(", ")}` : "");
    record(`${label}: the changeset was consumed`, !existsSync(join(repo, ".changeset", "changeset-test.md")));
  } catch (error) {
    record(`${label}: ran to the end`, false, `${error.message}${error.stderr ? `\n${error.stderr}` : ""}${error.stdout ? `\n${error.stdout}` : ""}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

scenario("patch of one backend", "@mdm/storage-duckdb", "patch", "DuckDB: a fix that users should read about.");
// Known problem (RELEASING.md, "Known problem: a minor release becomes 1.0.0"): any minor changeset in the
// fixed group takes core out of its dependents' ^0.1.0 peer range, and changesets then bumps them to a major.
// Its failing checks print KNOWN and do not fail the run; a PASS here means it is fixed.
knownProblem = "see RELEASING.md: a minor in the fixed group becomes 1.0.0 while peers are ^0.x";
scenario("minor of core", "@mdm/storage-core", "minor", "Core: a new option (0.x minor: may break).");
knownProblem = null;

const failed = results.filter((ok) => !ok).length;
console.log(`Changesets: ${results.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)}s)`);
process.exit(failed > 0 ? 1 : 0);

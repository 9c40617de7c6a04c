#!/usr/bin/env node
// Benchmark (not a test): generate a CSV larger than 1 GB, register it with the built `mdm`, and print the
// peak resident set size of the mdm process and the rows per second. Target: peak RSS under 300 MB.
//
//   node packages/cli/bench/register-large-csv.mjs [--size-mb 1100] [--backend sqlite] [--new]
//
// --new sets MDM_FEATURE_USE_NEW_STORAGE=true (the new implementation of the backend); default is what the
// flags choose (legacy). The peak RSS comes from /usr/bin/time -v when present, and from
// process.resourceUsage().maxRSS printed by mdm itself (MDM_PRINT_MAX_RSS=1) in any case.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizeMb = Number(opt("size-mb", "1100"));
const backend = opt("backend", "sqlite");
const useNew = args.includes("--new");
const bin = new URL("../dist/bin.js", import.meta.url).pathname;
if (!existsSync(bin)) {
  console.error(`${bin} is missing: run pnpm --filter @mdm/cli build first`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "mdm-bench-register-"));
const file = join(dir, "large.csv");
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

async function generate() {
  const out = createWriteStream(file);
  out.write("id,zip_code,amount,ratio,signup_date,last_seen,active,segment,note\n");
  const segments = ["basic", "plus", "pro", "enterprise"];
  let rows = 0;
  let bytes = 0;
  const target = sizeMb * 1024 * 1024;
  while (bytes < target) {
    let chunk = "";
    for (let k = 0; k < 5000; k++, rows++) {
      const i = rows;
      const zip = String((i * 7919) % 100000).padStart(5, "0");
      const day = 1 + (i % 28);
      const month = 1 + (i % 12);
      const line = `${i},${zip},${(i % 100000) / 100},${((i * 37) % 20001 - 10000) / 1000},2020-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")},2024-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")} ${String(i % 24).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}:${String((i * 7) % 60).padStart(2, "0")}.${String(i % 1000000).padStart(6, "0")},${i % 3 === 0 ? "true" : "false"},${segments[i % 4]},${i % 11 === 0 ? "" : `"customer note ${i}, with a comma"`}\n`;
      chunk += line;
    }
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return rows;
}

try {
  console.log(`node ${process.version}, ${cpus().length} CPUs, load average before: ${load()}`);
  const started = performance.now();
  const rows = await generate();
  const size = statSync(file).size;
  console.log(`generated ${file}: ${(size / 1024 / 1024).toFixed(0)} MB, ${rows.toLocaleString("en-US")} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const env = { ...process.env, MDM_HOME_DIR: join(dir, "home"), MDM_PRINT_MAX_RSS: "1", NO_COLOR: "1" };
  if (useNew) env.MDM_FEATURE_USE_NEW_STORAGE = "true";
  const timeBin = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
  const command = [process.execPath, bin, "dataset", "register", "large", file, "--backend", backend];
  console.log(`$ ${timeBin ? "/usr/bin/time -v " : ""}mdm ${command.slice(2).join(" ")}${useNew ? "   (MDM_FEATURE_USE_NEW_STORAGE=true)" : ""}`);
  const t0 = performance.now();
  const child = spawn(timeBin ?? command[0], timeBin ? ["-v", ...command] : command.slice(1), { env, stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const [code] = await once(child, "close");
  const seconds = (performance.now() - t0) / 1000;
  const selfRss = /max_rss_kb=(\d+)/.exec(stderr)?.[1];
  const timeRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  const progress = stderr.split("\n").filter((l) => /^(data: done|Registered|mdm: error)/.test(l));
  for (const line of progress) console.log(`  ${line}`);
  if (code !== 0) {
    console.error(stderr.slice(-2000));
    process.exitCode = 1;
  }
  const peakKb = Number(timeRss ?? selfRss);
  console.log(`exit code ${code}; wall ${seconds.toFixed(1)} s; ${Math.round(rows / seconds).toLocaleString("en-US")} rows/s (both passes, end to end)`);
  console.log(`peak RSS: ${(peakKb / 1024).toFixed(0)} MB${timeRss ? " (/usr/bin/time -v)" : ""}${selfRss ? `; mdm's own maxRSS: ${(Number(selfRss) / 1024).toFixed(0)} MB` : ""}; target < 300 MB: ${peakKb / 1024 < 300 ? "met" : "NOT met"}`);
  console.log(`load average after: ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

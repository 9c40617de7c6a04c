#!/usr/bin/env node
import { main } from "./cli.js";

main().then(
  (code) => {
    if (process.env.MDM_PRINT_MAX_RSS === "1") {
      // Peak resident set size of this process, for the benchmark script (kilobytes, as Linux reports it).
      process.stderr.write(`mdm: max_rss_kb=${process.resourceUsage().maxRSS}\n`);
    }
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`mdm: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
import { main } from "./cli.js";

let settled = false;
// Node exits when nothing is left to wait for; if the command had not finished by then, an operation
// never completed (a promise that never settles): say so instead of exiting 0 without a word.
process.on("beforeExit", () => {
  if (settled) return;
  settled = true;
  process.stderr.write("mdm: error: the command stopped before it finished (an operation never completed); this is a bug\n");
  process.exitCode = 1;
});

// A reader that stops early (`mdm dataset list | head -1`) closes the pipe: the rest of the output has
// nowhere to go. It is dropped without a word and the command finishes (a migration is not cut short);
// the exit status stays the command's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") return;
    throw error;
  });
}

main().then(
  (code) => {
    settled = true;
    if (process.env.MDM_PRINT_MAX_RSS === "1") {
      // Peak resident set size of this process, for the benchmark script (kilobytes, as Linux reports it).
      process.stderr.write(`mdm: max_rss_kb=${process.resourceUsage().maxRSS}\n`);
    }
    process.exitCode = code;
  },
  (error: unknown) => {
    settled = true;
    process.stderr.write(`mdm: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

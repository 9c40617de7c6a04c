/**
 * Runs an example as users do (`tsx src/<name>.ts` through the package's tsx bin, from the examples
 * directory) in a child process, and returns its exit code and output.
 */
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ExampleRun {
  code: number;
  stdout: string;
  stderr: string;
  lines: string[];
}

export function runExample(name: string, env: NodeJS.ProcessEnv = process.env): Promise<ExampleRun> {
  return new Promise((resolve) => {
    execFile(
      join(EXAMPLES_DIR, "node_modules", ".bin", "tsx"),
      [join("src", `${name}.ts`)],
      { cwd: EXAMPLES_DIR, env, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, lines: stdout.split("\n") });
      },
    );
  });
}

/** The first line matching `pattern`, or a failure that shows the whole output. */
export function line(run: ExampleRun, pattern: RegExp): RegExpMatchArray {
  for (const l of run.lines) {
    const m = l.match(pattern);
    if (m) return m;
  }
  throw new Error(`no line matches ${pattern}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`);
}

/** Every line matching `pattern`. */
export function lines(run: ExampleRun, pattern: RegExp): RegExpMatchArray[] {
  return run.lines.map((l) => l.match(pattern)).filter((m): m is RegExpMatchArray => m !== null);
}

/** Fails with the output when the example did not exit 0. */
export function expectSuccess(run: ExampleRun): void {
  if (run.code !== 0) throw new Error(`exit code ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`);
}

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./migrate-child.mjs", import.meta.url));

export interface GatedEvent {
  phase: string;
  table?: string;
  rowsDone?: number;
}

export interface ChildResult {
  success: boolean;
  error: { code: string; message: string } | null;
  sourceRemoved: boolean;
  interrupted: string | null;
  warnings: string[];
}

export interface GatedRun {
  /** The child's final result line (absent when it was killed). */
  result?: ChildResult;
  events: GatedEvent[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Run `migrate-child.mjs` and hand each progress event to `onEvent` while the child waits for it: the
 * child goes on when `onEvent` resolves (or stays killed if it killed the child).
 */
export function runGated(home: string, dataset: string, options: Record<string, unknown>, onEvent: (event: GatedEvent, child: ChildProcess) => Promise<void> | void): Promise<GatedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, home, dataset, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] });
    const run: GatedRun = { events: [], exitCode: null, signal: null, stderr: "" };
    let buffer = "";
    let queue = Promise.resolve();
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const parsed = JSON.parse(line) as GatedEvent & { result?: ChildResult };
        if (parsed.result !== undefined) {
          run.result = parsed.result;
          continue;
        }
        run.events.push(parsed);
        queue = queue.then(async () => {
          await onEvent(parsed, child);
          if (child.exitCode === null && child.signalCode === null) child.stdin.write("\n");
        });
        queue.catch((error) => {
          child.kill("SIGKILL");
          reject(error);
        });
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.on("error", reject);
    child.stdin.on("error", () => undefined); // a write after the child ended
    child.on("exit", (code, signal) => {
      run.exitCode = code;
      run.signal = signal;
      queue.then(() => resolve(run), reject);
    });
  });
}

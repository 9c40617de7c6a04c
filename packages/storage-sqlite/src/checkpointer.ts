import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * The worker's code: one message per checkpoint. It opens its own connection to the file (which must
 * exist: a dropped dataset is never created again), runs a PASSIVE checkpoint, closes and answers.
 * PASSIVE takes neither the write lock nor waits for readers: the main thread's writes and reads go on.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
parentPort.on("message", ({ id, path }) => {
  let db;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ id });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.code) || error) });
  } finally {
    try { if (db) db.close(); } catch {}
  }
});
`;

/**
 * WAL checkpoints off the main thread. A write commits into the WAL, where every reader sees it, and
 * returns; copying its pages into the database file (and the fsync) then happens in a worker thread
 * while the caller goes on. SQLite's documentation suggests exactly this for writers that must not
 * stall: turn automatic checkpoints off (`wal_autocheckpoint = 0`) and run them from another thread.
 * The work is the same; it is no longer in the write's time, and on a machine with two cores it runs
 * beside the next write or read.
 *
 * One worker per process, started at the first checkpoint and kept from holding the process open while
 * it has nothing to do. Checkpoints of one file never overlap: one asked while another runs is run
 * once after it. A file is closed, dropped or renamed only after `settle(path)`.
 */
export class BackgroundCheckpointer {
  private worker: Worker | undefined;
  private failed = false;
  private nextId = 0;
  /** Per question to the worker, what to call with its answer: undefined when the checkpoint ran. */
  private readonly answers = new Map<number, (failure: Error | undefined) => void>();
  /** The checkpoint running per file, and the files whose checkpoint must run again after it. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Checkpoints that ended, and the last one that failed (the final checkpoint at close reports it). */
  completed = 0;
  lastError: Error | undefined;

  /** Checkpoint `path` in the background; false when no worker can run (the caller checkpoints itself). */
  schedule(path: string): boolean {
    if (this.failed) return false;
    if (this.running.has(path)) {
      this.again.add(path);
      return true;
    }
    const run = (async () => {
      do {
        this.again.delete(path);
        const failure = await this.ask(path);
        if (failure) this.lastError = failure;
        this.completed++;
      } while (this.again.has(path) && !this.failed);
    })().finally(() => {
      this.running.delete(path);
      if (this.running.size === 0) this.worker?.unref();
    });
    this.running.set(path, run);
    return !this.failed;
  }

  /** Wait until no checkpoint of `path` runs or is due. */
  async settle(path: string): Promise<void> {
    for (let run = this.running.get(path); run; run = this.running.get(path)) await run;
  }

  private ask(path: string): Promise<Error | undefined> {
    const worker = this.start();
    if (!worker) return Promise.resolve(new Error("no checkpoint worker"));
    worker.ref(); // an answer is awaited: the process stays up for it
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.answers.set(id, resolve);
      worker.postMessage({ id, path });
    });
  }

  private start(): Worker | undefined {
    if (this.worker || this.failed) return this.worker;
    try {
      const require = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver: require.resolve("better-sqlite3") } });
      worker.on("message", (message: { id: number; error?: string }) => {
        const answer = this.answers.get(message.id);
        this.answers.delete(message.id);
        answer?.(message.error === undefined ? undefined : new Error(`Background WAL checkpoint failed: ${message.error}`));
      });
      // A worker that dies answers every question with its error; later writes checkpoint in line.
      const fail = (error: unknown) => {
        this.failed = true;
        this.worker = undefined;
        for (const answer of this.answers.values()) answer(error instanceof Error ? error : new Error(String(error)));
        this.answers.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => fail(new Error(`The checkpoint worker exited with code ${code}`)));
      worker.unref();
      this.worker = worker;
    } catch (error) {
      this.failed = true;
      this.lastError = error as Error;
    }
    return this.worker;
  }
}

/** The process's checkpointer, shared by every new SQLite backend. */
export const backgroundCheckpointer = new BackgroundCheckpointer();

/** The size in bytes of a database's WAL file (0 when there is none; no exception thrown and caught for that). */
export function walBytes(path: string): number {
  return statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}

import { DuckDBInstance } from "@duckdb/node-api";
import { ErrorCodes, MdmError } from "@mdm/storage-core";

/**
 * One DuckDB instance per database file in this process, with one configuration. DuckDB keeps a
 * file lock per instance and refuses a second instance of the same file with another
 * configuration; this cache shares the instance between every backend of the process (legacy
 * and new alike) and refuses a conflicting configuration with MDM_INVALID_CONFIG before DuckDB
 * is asked. The registry lives on globalThis so that the ESM and CJS builds share it.
 */
interface CachedInstance {
  key: string;
  options: Record<string, string>;
  opening: Promise<DuckDBInstance>;
  refs: number;
}

const REGISTRY = Symbol.for("@mdm/storage-duckdb:instances");
type Registry = Map<string, CachedInstance>;

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let map = holder[REGISTRY];
  if (!map) {
    map = new Map();
    holder[REGISTRY] = map;
  }
  return map;
}

function keyOf(options: Record<string, string>): string {
  return JSON.stringify(Object.keys(options).sort().map((k) => [k, options[k]]));
}

/** A counted reference to a shared instance. */
export interface InstanceLease {
  readonly path: string;
  readonly instance: DuckDBInstance;
  readonly readOnly: boolean;
  /** Drop the reference; the last one checkpoints (when writable) and closes the instance. */
  release(): Promise<void>;
}

function describeOptions(options: Record<string, string>): string {
  return ["memory_limit", "threads", "temp_directory", "access_mode"]
    .filter((k) => options[k] !== undefined)
    .map((k) => `${k}=${options[k]}`)
    .join(", ") || "defaults";
}

const LOCK_CONFLICT = /Could not set lock on file|Conflicting lock is held/i;

/**
 * Open a file's instance; while another process holds the file (DuckDB lets one process write, or several
 * read), try again every 100 ms for up to `waitMs`, then fail with MDM_LOCKED naming the holder's pid.
 */
async function createWaiting(path: string, options: Record<string, string>, waitMs: number): Promise<DuckDBInstance> {
  const deadline = Date.now() + Math.max(0, waitMs);
  for (;;) {
    try {
      return await DuckDBInstance.create(path, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!LOCK_CONFLICT.test(message)) throw error;
      if (Date.now() >= deadline) {
        const holder = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
        const who = holder ? `process ${holder[2]} (${holder[1]})` : "another process";
        const wanted = options.access_mode === "READ_ONLY" ? "for reading" : "for writing";
        throw new MdmError(
          ErrorCodes.LOCKED,
          `The DuckDB file ${path} is locked by ${who}; it could not be opened ${wanted} within ${Math.round(waitMs / 1000)} s (DuckDB lets one process write a file, or several read it). Try again when that process is done.`,
          { cause: error, details: { path, pid: holder ? Number(holder[2]) : undefined } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * A lease of the process's instance of a file. `waitMs`: how long to wait for another process that
 * holds the file (default 0: fail at once with MDM_LOCKED).
 */
export async function acquireInstance(path: string, options: Record<string, string>, waitMs = 0): Promise<InstanceLease> {
  const readOnly = options.access_mode === "READ_ONLY";
  if (path === ":memory:") {
    const instance = await DuckDBInstance.create(path, options);
    return { path, instance, readOnly, release: async () => instance.closeSync() };
  }
  const map = registry();
  const key = keyOf(options);
  let entry = map.get(path);
  if (entry && entry.key !== key) {
    throw new MdmError(
      ErrorCodes.INVALID_CONFIG,
      `The DuckDB file ${path} is already open in this process with other settings (${describeOptions(entry.options)}; asked: ${describeOptions(options)}). Close the other backend first or use the same duckdb settings.`,
      { details: { path } },
    );
  }
  if (!entry) {
    const created: CachedInstance = { key, options, opening: createWaiting(path, options, waitMs), refs: 0 };
    entry = created;
    map.set(path, created);
    created.opening.catch(() => {
      if (map.get(path) === created) map.delete(path);
    });
  }
  entry.refs += 1;
  let instance: DuckDBInstance;
  try {
    instance = await entry.opening;
  } catch (error) {
    entry.refs -= 1;
    throw error;
  }
  const held = entry;
  let released = false;
  return {
    path,
    instance,
    readOnly,
    release: async () => {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs > 0) return;
      if (map.get(path) === held) map.delete(path);
      try {
        if (!readOnly) {
          // Fold the WAL into the file so the database is one self-contained file (staging publish needs it).
          const connection = await instance.connect();
          try {
            await connection.run("CHECKPOINT");
          } finally {
            connection.closeSync();
          }
        }
      } finally {
        instance.closeSync();
      }
    },
  };
}

/** How many instances this process holds open (for tests). */
export function openInstanceCount(): number {
  return registry().size;
}

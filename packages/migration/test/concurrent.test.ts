import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type BackendType, type Implementation } from "@mdm/storage-core";
import { adminClient, environment, pgConfig, postgresAvailable, type Env } from "./support/backends.js";
import { ALL_TYPES, allTypesRow, rows } from "./support/dataset.js";
import { runGated, type GatedEvent } from "./support/gated.js";

const WRITER = fileURLToPath(new URL("./support/writer-child.mjs", import.meta.url));
const TRAIN = 6000;

interface WriterOutcome {
  committed: boolean;
  code?: string;
  message?: string;
}

/** Start the writer process; resolves with what it says once it ends. */
function startWriter(options: Record<string, unknown>): Promise<WriterOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", () => {
      try {
        resolve(JSON.parse(out.trim()) as WriterOutcome);
      } catch {
        reject(new Error(`writer printed ${JSON.stringify(out)}; stderr: ${err}`));
      }
    });
  });
}

/** Rows of `train` as the dataset's own backend counts them. */
async function trainRows(env: Env, type: BackendType): Promise<number> {
  const backend = env.make(type, "new");
  try {
    return (await backend.getTableInfo("train", await backend.getDatasetEngine("big"))).rowCount;
  } finally {
    await backend.close();
  }
}

/** Is a session waiting for a lock on a table of the database? */
async function someoneWaits(database: string): Promise<boolean> {
  const client = await adminClient();
  try {
    const { rows: found } = await client.query("SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE NOT l.granted AND d.datname = $1", [database]);
    return found.length > 0;
  } finally {
    await client.end();
  }
}

type Case = { source: `${BackendType}:${Implementation}`; target: `${BackendType}:${Implementation}`; removeSource: boolean };

const cases: Case[] = [
  { source: "sqlite:legacy", target: "duckdb:legacy", removeSource: false },
  { source: "sqlite:new", target: "duckdb:new", removeSource: true },
  { source: "duckdb:legacy", target: "sqlite:legacy", removeSource: false },
  { source: "duckdb:new", target: "sqlite:new", removeSource: true },
  { source: "postgresql:legacy", target: "sqlite:legacy", removeSource: false },
  { source: "postgresql:new", target: "duckdb:new", removeSource: true },
];

describe("a writer committing rows to the source while it is migrated", () => {
  let env: Env | undefined;
  afterEach(async () => {
    await env?.cleanup();
    env = undefined;
  });

  it.each(cases)("$source -> $target (removeSource $removeSource): every committed row is in the published dataset", async ({ source, target, removeSource }) => {
    const [sourceType] = source.split(":") as [BackendType];
    const [targetType] = target.split(":") as [BackendType];
    if ((sourceType === "postgresql" || targetType === "postgresql") && !postgresAvailable) return;
    env = environment();
    const pg = pgConfig({ database_prefix: env.prefix });
    const made = env.make(sourceType, "new");
    await made.createDataset("big");
    const engine = await made.getDatasetEngine("big");
    await made.writeBatches("train", ALL_TYPES, rows(TRAIN, allTypesRow, 5000), { engine });
    await made.writeBatches("test", ALL_TYPES, rows(2000, (i) => allTypesRow(i + TRAIN)), { engine });
    const registry = new DatasetRegistry(new MdmHome(env.home));
    const location = made.getDatabasePath("big");
    registry.write({ name: "big", database: sourceType === "postgresql" ? { backend: sourceType, database: location } : { backend: sourceType, path: location } });
    await made.close();

    const writer = { type: sourceType, home: env.home, dataset: "big", pg };
    const attempts: Array<{ at: string; outcome: WriterOutcome }> = [];
    let waiting: Promise<WriterOutcome> | undefined;
    const moments = new Set(["preflight", "copy:train", "verify", "registry"]);
    const run = await runGated(env.home, "big", { source, target, pg, removeSource, everyCopyRows: 2000 }, async (event: GatedEvent) => {
      const at = event.phase === "copy" ? `copy:${event.table}` : event.phase;
      if (!moments.delete(at)) return; // the first event of each moment
      attempts.push({ at, outcome: await startWriter(writer) });
      // A writer that waits for the lock as long as it takes, queued when the run is about to end.
      const patient = sourceType === "postgresql" || (sourceType === "sqlite" && removeSource);
      if (at === "registry" && patient) {
        waiting = startWriter({ ...writer, timeoutMs: sourceType === "sqlite" ? 30_000 : 0 });
        if (sourceType === "postgresql") {
          const deadline = Date.now() + 10_000;
          while (!(await someoneWaits(`${env?.prefix}big`))) {
            if (Date.now() > deadline) throw new Error("the patient writer never queued for the lock");
            await new Promise((r) => setTimeout(r, 50));
          }
        } else await new Promise((r) => setTimeout(r, 500));
      }
    });
    if (waiting) attempts.push({ at: "waiting through the end", outcome: await waiting });

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result?.error ?? null).toBeNull();
    expect(attempts.map((a) => a.at)).toEqual(["preflight", "copy:train", "verify", "registry", ...(waiting ? ["waiting through the end"] : [])]);
    // Before the source is held (the preflight event comes first), a write goes in and is copied; from
    // then on every write is refused, and a writer still waiting at the end never writes into the old copy.
    const committed = attempts.filter((a) => a.outcome.committed);
    expect(committed.map((a) => a.at)).toEqual(["preflight"]);
    for (const a of attempts.filter((x) => !x.outcome.committed)) expect(a.outcome.code, `${a.at}: ${a.outcome.message}`).toMatch(/^MDM_(LOCKED|TIMEOUT|TABLE_NOT_FOUND|DATASET_NOT_FOUND|CONNECTION_FAILED|QUERY_FAILED)$/);
    expect(registry.read("big").database.backend).toBe(targetType);
    expect(await trainRows(env, targetType)).toBe(TRAIN + committed.length);
    expect(run.result?.sourceRemoved).toBe(removeSource);
    if (!removeSource) expect(await trainRows(env, sourceType)).toBe(TRAIN + committed.length);
    else {
      const check = env.make(sourceType, "new");
      expect(await check.datasetExists("big")).toBe(false);
      await check.close();
    }
  }, 120_000);
});

describe("two migrations of one dataset to two different targets at once", () => {
  it("exactly one runs; the other fails with MDM_LOCKED before writing anything, and the registry ends at the first one's target", async () => {
    if (!postgresAvailable) return;
    const env = environment();
    try {
      const pg = pgConfig({ database_prefix: env.prefix });
      const made = env.make("sqlite", "new");
      await made.createDataset("big");
      await made.writeBatches("train", ALL_TYPES, rows(TRAIN, allTypesRow, 5000), { engine: await made.getDatasetEngine("big") });
      const registry = new DatasetRegistry(new MdmHome(env.home));
      registry.write({ name: "big", database: { backend: "sqlite", path: made.getDatabasePath("big") } });
      await made.close();
      let second: Awaited<ReturnType<typeof runGated>> | undefined;
      // The second run starts while the first stands still in its copy, holding the dataset's lock.
      const first = await runGated(env.home, "big", { source: "sqlite:legacy", target: "duckdb:legacy", everyCopyRows: 2000 }, async (event: GatedEvent, _child: ChildProcess) => {
        if (event.phase === "copy" && second === undefined) second = await runGated(env.home, "big", { source: "sqlite:legacy", target: "postgresql:legacy", pg }, () => undefined);
      });
      expect(first.result?.error ?? null).toBeNull();
      expect(second?.result?.success).toBe(false);
      expect(second?.result?.error?.code).toBe("MDM_LOCKED");
      expect(second?.result?.error?.message).toMatch(/locked by process \d+ on host .* \(migrate big to duckdb\)/);
      expect(registry.read("big").database.backend).toBe("duckdb");
      const other = env.make("postgresql", "legacy");
      expect(await other.datasetExists("big")).toBe(false);
      expect(await other.listStagingPaths("big")).toEqual([]);
    } finally {
      await env.cleanup();
    }
  }, 120_000);
});

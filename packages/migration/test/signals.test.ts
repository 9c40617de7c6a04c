import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type BackendType } from "@mdm/storage-core";
import { environment, pgConfig, postgresAvailable, type Env } from "./support/backends.js";
import { ALL_TYPES, allTypesRow, rows } from "./support/dataset.js";
import { runGated, type GatedEvent } from "./support/gated.js";

const TRAIN = 6000;

/**
 * SIGINT/SIGTERM delivered while the migration stands still at a chosen event (the child handles signals as
 * the CLI does): before the publish the run is undone and the signal re-raised; from the publish on it
 * completes, reports success and names the signal.
 */
describe("a migration signalled at each moment, for each target", () => {
  let env: Env;
  let n = 0;

  beforeAll(() => {
    env = environment();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  async function dataset(type: BackendType): Promise<string> {
    const name = `s${n++}`;
    const made = env.make(type, "new");
    await made.createDataset(name);
    const engine = await made.getDatasetEngine(name);
    await made.writeBatches("train", ALL_TYPES, rows(TRAIN, allTypesRow, 3000), { engine });
    await made.writeBatches("test", ALL_TYPES, rows(1000, (i) => allTypesRow(i + TRAIN)), { engine });
    new DatasetRegistry(new MdmHome(env.home)).write({ name, database: { backend: type, path: made.getDatabasePath(name) } });
    await made.close();
    return name;
  }

  async function trainRows(type: BackendType, name: string): Promise<number | undefined> {
    const backend = env.make(type, "new");
    try {
      if (!(await backend.datasetExists(name))) return undefined;
      return (await backend.getTableInfo("train", await backend.getDatasetEngine(name))).rowCount;
    } finally {
      await backend.close();
    }
  }

  const pairs: Array<[BackendType, BackendType]> = [
    ["sqlite", "duckdb"],
    ["duckdb", "sqlite"],
    ["sqlite", "postgresql"],
  ];
  const moments: Array<[string, NodeJS.Signals, (e: GatedEvent) => boolean, boolean]> = [
    ["at the start of the copy", "SIGINT", (e) => e.phase === "copy" && e.table === "train", false],
    ["in the second table", "SIGTERM", (e) => e.phase === "copy" && e.table === "test", false],
    ["during verification", "SIGINT", (e) => e.phase === "verify", false],
    ["as the publish begins", "SIGTERM", (e) => e.phase === "publish", true],
    ["published, before the registry is switched", "SIGINT", (e) => e.phase === "registry", true],
  ];

  describe.each(pairs)("%s -> %s", (from, to) => {
    it.each(moments)("%s (%s)", async (_label, signal, when, completes) => {
      if (to === "postgresql" && !postgresAvailable) return;
      const name = await dataset(from);
      let sent = false;
      const run = await runGated(env.home, name, { source: `${from}:legacy`, target: `${to}:legacy`, pg: pgConfig({ database_prefix: env.prefix }), handleSignals: true, everyCopyRows: 2000 }, async (event, child) => {
        if (sent || !when(event)) return;
        sent = true;
        child.kill(signal);
        await new Promise((r) => setTimeout(r, 50));
      });
      expect(sent).toBe(true);
      const registered = new DatasetRegistry(new MdmHome(env.home)).read(name).database.backend;
      if (completes) {
        expect(run.exitCode, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ success: true, error: null, interrupted: signal });
        expect(run.result?.warnings.join("\n")).toMatch(new RegExp(`${signal} received while publishing: the migration finishes first`));
        expect(registered).toBe(to);
        expect(await trainRows(to, name)).toBe(TRAIN);
      } else {
        // Undone, then the signal is raised again: the process ends by it, as an interrupted program does.
        expect(run.signal, run.stderr).toBe(signal);
        expect(run.result).toBeUndefined();
        expect(registered).toBe(from);
        expect(await trainRows(to, name)).toBeUndefined();
        const target = env.make(to, "legacy");
        expect(await target.listStagingPaths(name)).toEqual([]);
        await target.close();
      }
      expect(await trainRows(from, name)).toBe(TRAIN);
    }, 60_000);
  });
});

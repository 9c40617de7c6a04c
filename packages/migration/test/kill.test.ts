import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type IStorageBackend } from "@mdm/storage-core";
import { StorageMigrator } from "../src/index.js";
import { environment, type Env } from "./support/backends.js";
import { runGated } from "./support/gated.js";
import { ALL_TYPES, allTypesRow, fingerprint, rows } from "./support/dataset.js";

const ROWS = 60_000;

type Trigger = { phase: string; minRows?: number; table?: string };

/** Run the child migration and SIGKILL it at the first progress event that matches the trigger. */
async function runAndKill(home: string, dataset: string, trigger: Trigger): Promise<{ killed: boolean }> {
  let killed = false;
  const run = await runGated(home, dataset, {}, (event, child) => {
    if (killed) return;
    if (event.phase === trigger.phase && (trigger.minRows === undefined || (event.rowsDone ?? 0) >= trigger.minRows) && (trigger.table === undefined || event.table === trigger.table)) {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  if (!killed && run.exitCode !== 0) throw new Error(`child failed (${run.exitCode ?? run.signal}): ${run.stderr}`);
  return { killed: killed && run.signal === "SIGKILL" };
}

describe("a migration killed with SIGKILL", () => {
  let env: Env;
  let source: IStorageBackend;
  let target: IStorageBackend;
  let sourceFile: string;
  let sourceHash: string;
  let expected: Awaited<ReturnType<typeof fingerprint>>;
  const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

  beforeAll(async () => {
    env = environment();
    source = env.make("sqlite", "new");
    target = env.make("duckdb", "new");
    await source.createDataset("big", { metadata: { description: "killed and resumed" } });
    const engine = await source.getDatasetEngine("big");
    await source.writeBatches("train", ALL_TYPES, rows(ROWS, allTypesRow, 5000), { engine });
    await source.writeBatches("test", ALL_TYPES, rows(10_000, (i) => allTypesRow(i + ROWS), 5000), { engine });
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "big", database: { backend: "sqlite", path: source.getDatabasePath("big") } });
    expected = await fingerprint(source, "big");
    await source.close(); // checkpointed: the file alone is the source
    sourceFile = source.getDatabasePath("big");
    sourceHash = sha(sourceFile);
  }, 120_000);

  afterAll(async () => {
    await env.cleanup();
  });

  const moments: Array<[string, Trigger]> = [
    ["at the start of the copy", { phase: "copy", minRows: 1 }],
    ["in the middle of the first table", { phase: "copy", minRows: 30_000, table: "train" }],
    ["in the second table", { phase: "copy", table: "test" }],
    ["during verification", { phase: "verify" }],
    ["when publishing begins", { phase: "publish" }],
    ["published, before the registry points at the target", { phase: "registry" }],
  ];

  it.each(moments)("%s: the source is byte-identical, no partial dataset is visible, and a rerun succeeds", async (_label, trigger) => {
    const { killed } = await runAndKill(env.home, "big", trigger);
    expect(killed).toBe(true);
    expect(sha(sourceFile)).toBe(sourceHash);
    const registry = new DatasetRegistry(new MdmHome(env.home));
    expect(registry.read("big").database.backend).toBe("sqlite");
    const check = env.make("duckdb", "new");
    // Killed after the atomic rename: the whole dataset, never a part of it (and not registered yet).
    const published = await check.datasetExists("big");
    if (published) expect(await fingerprint(check, "big")).toEqual(expected);
    expect(published).toBe(trigger.phase === "registry");
    await check.close();
    // The rerun cleans the leftovers (staging file, stale lock of the dead process, the copy it published
    // without pointing the registry at it) and completes: the user deletes nothing.
    const rerunSource = env.make("sqlite", "new");
    const rerunTarget = env.make("duckdb", "new");
    const result = await new StorageMigrator({ source: rerunSource, target: rerunTarget, home: env.home }).migrateDataset("big", { batchSize: 5000 });
    expect(result.error).toBeNull();
    expect(result.warnings.some((w) => /took over the lock of big/.test(w))).toBe(true);
    expect(result.warnings.some((w) => /copy of big that an interrupted migration .* had published/.test(w))).toBe(published);
    expect(await rerunTarget.listStagingPaths("big")).toEqual([]);
    expect(await fingerprint(rerunTarget, "big")).toEqual(expected);
    expect(registry.read("big").database.backend).toBe("duckdb");
    // Back to the starting point for the next moment.
    await rerunTarget.dropDataset("big");
    registry.write({ ...registry.read("big"), database: { backend: "sqlite", path: sourceFile } });
    await rerunSource.close();
    await rerunTarget.close();
    expect(sha(sourceFile)).toBe(sourceHash);
  }, 120_000);
});

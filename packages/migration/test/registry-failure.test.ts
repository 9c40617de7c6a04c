import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome } from "@mdm/storage-core";
import { StorageMigrator, type MigrationProgress } from "../src/index.js";
import { environment, type Env } from "./support/backends.js";
import { ALL_TYPES, allTypesRow, fingerprint, rows } from "./support/dataset.js";

/** Mount a small tmpfs on `dir` (root only); the reason when it cannot be done (an error under CI=true). */
function mountTmpfs(dir: string, size: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    const reason = `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); the registry failure tests need root`;
    if (process.env.CI === "true") throw new Error(`CI=true: ${reason}`);
    console.warn(`skipping: ${reason}`);
    return reason;
  }
}

const remount = (dir: string, mode: "ro" | "rw") => execFileSync("mount", ["-o", `remount,${mode}`, dir], { stdio: "pipe" });

/** Fill a file system until it has no space left. */
function fill(dir: string): string {
  const filler = join(dir, ".filler");
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeFileSync(filler, chunk, { flag: "a" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  }
  return filler;
}

describe("the registry update failing around the publish", () => {
  let env: Env;
  let mounted: string | undefined;

  async function setup(): Promise<{ registry: DatasetRegistry; expected: Awaited<ReturnType<typeof fingerprint>>; configs: string } | undefined> {
    env = environment();
    const configs = join(env.home, "config", "datasets");
    if (mountTmpfs(configs, "256k") !== undefined) return undefined;
    mounted = configs;
    const source = env.make("sqlite", "new");
    await source.createDataset("big");
    const engine = await source.getDatasetEngine("big");
    await source.writeBatches("train", ALL_TYPES, rows(3000, allTypesRow), { engine });
    const registry = new DatasetRegistry(new MdmHome(env.home));
    registry.write({ name: "big", database: { backend: "sqlite", path: source.getDatabasePath("big") }, description: "kept as it is" });
    const expected = await fingerprint(source, "big");
    await source.close();
    return { registry, expected, configs };
  }

  afterEach(async () => {
    if (mounted) {
      try {
        remount(mounted, "rw");
      } catch {
        // already writable
      }
      execFileSync("umount", ["-l", mounted]);
      mounted = undefined;
    }
    await env.cleanup();
  });

  function migrate(onProgress?: (e: MigrationProgress) => void) {
    return new StorageMigrator({ source: env.make("sqlite", "new"), target: env.make("duckdb", "new"), home: env.home }).migrateDataset("big", { onProgress });
  }

  /** Registry and data agree: the entry still names SQLite, nothing was published in DuckDB, nothing is left over. */
  async function unchanged(registry: DatasetRegistry, configs: string, before: string): Promise<void> {
    expect(readFileSync(registry.home.registryFile("big"), "utf8")).toBe(before);
    const target = env.make("duckdb", "new");
    expect(await target.datasetExists("big")).toBe(false);
    expect(await target.listStagingPaths("big")).toEqual([]);
    expect(readdirSync(join(env.home, "locks"))).toEqual([]);
    expect(readdirSync(configs).filter((f) => f.startsWith("big.yaml."))).toEqual([]);
  }

  it.each([
    ["full", "MDM_DISK_FULL"],
    ["read-only", "MDM_PERMISSION_DENIED"],
  ])("a %s registry directory fails the run before anything is published (%s); the rerun succeeds once it is fixed", async (kind, code) => {
    const ready = await setup();
    if (!ready) return;
    const { registry, expected, configs } = ready;
    const before = readFileSync(registry.home.registryFile("big"), "utf8");
    const filler = kind === "full" ? fill(configs) : (remount(configs, "ro"), undefined);
    const failed = await migrate();
    expect(failed.success).toBe(false);
    expect(failed.error?.code).toBe(code);
    expect(failed.error?.message).toMatch(/registry entry .*config\/datasets\/big\.yaml/);
    await unchanged(registry, configs, before);
    if (filler) rmSync(filler);
    else remount(configs, "rw");
    const rerun = await migrate();
    expect(rerun.error).toBeNull();
    expect(registry.read("big")).toMatchObject({ description: "kept as it is", database: { backend: "duckdb" } });
    expect(await fingerprint(env.make("duckdb", "new"), "big")).toEqual(expected);
  }, 60_000);

  it("the registry rename failing after the publish: the published copy is removed again, registry and data agree, the rerun succeeds", async () => {
    const ready = await setup();
    if (!ready) return;
    const { registry, expected, configs } = ready;
    const before = readFileSync(registry.home.registryFile("big"), "utf8");
    let published = false;
    const failed = await migrate((e) => {
      // Published: the directory turns read-only just before the registry entry is renamed into place.
      if (e.phase === "registry") {
        published = existsSync(join(env.home, "datasets", "big", "big.duckdb"));
        remount(configs, "ro");
      }
    });
    expect(published).toBe(true);
    expect(failed.error?.code).toBe("MDM_PERMISSION_DENIED");
    expect(readFileSync(registry.home.registryFile("big"), "utf8")).toBe(before);
    expect(await env.make("duckdb", "new").datasetExists("big")).toBe(false);
    // The temporary entry could not be removed from a read-only directory: the next run removes it.
    expect(readdirSync(configs).filter((f) => f.startsWith("big.yaml.tmp-"))).toHaveLength(1);
    remount(configs, "rw");
    const rerun = await migrate();
    expect(rerun.error).toBeNull();
    expect(readdirSync(configs).filter((f) => f.startsWith("big.yaml."))).toEqual([]);
    expect(registry.read("big").database.backend).toBe("duckdb");
    expect(await fingerprint(env.make("duckdb", "new"), "big")).toEqual(expected);
  }, 60_000);
});

describe("the publish journal of a run that died", () => {
  it("killed after the registry switch: the next run of the dataset removes the journal and runs; a copy the journal's run did not make is never dropped", async () => {
    const env = environment();
    try {
      const source = env.make("sqlite", "new");
      await source.createDataset("big");
      await source.writeBatches("train", ALL_TYPES, rows(500, allTypesRow), { engine: await source.getDatasetEngine("big") });
      const registry = new DatasetRegistry(new MdmHome(env.home));
      registry.write({ name: "big", database: { backend: "sqlite", path: source.getDatabasePath("big") } });
      const expected = await fingerprint(source, "big");
      const locks = join(env.home, "locks");
      const journal = join(locks, "big.publish.json");
      const done = await new StorageMigrator({ source, target: env.make("duckdb", "new"), home: env.home }).migrateDataset("big");
      expect(done.error).toBeNull();
      // As if killed between the registry rename and the journal's removal.
      writeFileSync(journal, JSON.stringify({ runId: "aaaaaaaaaaaa", dataset: "big", source: "sqlite", target: "duckdb", startedAt: "2026-01-01T00:00:00.000Z" }));
      const back = await new StorageMigrator({ source: env.make("duckdb", "new"), target: env.make("sqlite", "new"), home: env.home }).migrateDataset("big", { overwrite: true });
      expect(back.error).toBeNull();
      expect(existsSync(journal)).toBe(false);
      expect(registry.read("big").database.backend).toBe("sqlite");
      // A journal whose run id is not the target's migration_id: the target (a copy of an earlier run) stays.
      writeFileSync(journal, JSON.stringify({ runId: "bbbbbbbbbbbb", dataset: "big", source: "sqlite", target: "duckdb", startedAt: "2026-01-01T00:00:00.000Z" }));
      const duck = env.make("duckdb", "new");
      expect(await duck.datasetExists("big")).toBe(true);
      const refused = await new StorageMigrator({ source: env.make("sqlite", "new"), target: duck, home: env.home }).migrateDataset("big");
      expect(refused.error?.code).toBe("MDM_DATASET_EXISTS");
      expect(await duck.datasetExists("big")).toBe(true);
      expect(await fingerprint(duck, "big")).toEqual(expected);
      expect(existsSync(journal)).toBe(false);
    } finally {
      await env.cleanup();
    }
  }, 60_000);
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes, type IStorageBackend, type RowBatch, type Value } from "@mdm/storage-core";
import { StorageMigrator } from "../src/index.js";
import { adminClient, environment, postgresAvailable, type Env } from "./support/backends.js";
import { fingerprint, writeDataset } from "./support/dataset.js";

let env: Env;
beforeEach(() => {
  env = environment();
});
afterEach(async () => {
  await env.cleanup();
});

describe("a failure in the middle of a table", () => {
  it.each([["duckdb"], ["sqlite"]] as const)("(an exception from the batch stream, target %s) leaves no target dataset and an untouched pre-existing one", async (type) => {
    const source = env.make(type === "duckdb" ? "sqlite" : "duckdb", "new");
    const target = env.make(type, "new");
    await writeDataset(source, "fails", { train: 3000, validation: 100 });
    const migrator = new StorageMigrator({ source, target, home: null });
    const failing = { transformBatch: (table: string, rows: Value[][]) => {
      if (table === "train" && rows.length > 0 && rows[0]?.[0] === 1500n) throw new Error("injected failure at row 1500");
      return rows;
    } };
    const fresh = await migrator.migrateDataset("fails", { batchSize: 500, ...failing });
    expect(fresh.success).toBe(false);
    expect(fresh.error?.message).toContain("injected failure");
    expect(await target.datasetExists("fails")).toBe(false);
    expect(await target.listStagingPaths("fails")).toEqual([]);

    await target.createDataset("fails", { metadata: { keep: "me" } });
    await target.saveData("fails", [{ a: 1n }], "existing");
    const over = await migrator.migrateDataset("fails", { batchSize: 500, overwrite: true, ...failing });
    expect(over.success).toBe(false);
    expect(await target.listTables("fails")).toEqual(["existing"]);
    expect((await target.getMetadata("fails")).keep).toBe("me");
    expect(await target.listStagingPaths("fails")).toEqual([]);
  });

  it.skipIf(!postgresAvailable)("(the PostgreSQL target's connections terminated mid-copy) leaves no target dataset, an untouched pre-existing one, and the process alive", async () => {
    const source = env.make("sqlite", "new");
    const target: IStorageBackend = env.make("postgresql", "new");
    await writeDataset(source, "cut", { train: 20_000, validation: 100 });
    await target.createDataset("cut", { metadata: { keep: "me" } });
    await target.saveData("cut", [{ a: 1n }], "existing");
    const before = await fingerprint(target, "cut");
    const staging = `${env.prefix}cut`;
    // The cut happens at a fixed point of the copy, not in a race with it: the source's stream of "train"
    // waits, after its fifth batch, until every session on a staging database of this dataset is gone.
    // (A progress callback is not awaited; cutting from one let a loaded machine finish the copy first.)
    let terminated = 0;
    const cutAfterFiveBatches = async function* (batches: AsyncIterable<RowBatch>) {
      let n = 0;
      for await (const batch of batches) {
        yield batch;
        if (++n === 5) {
          const admin = await adminClient();
          try {
            const { rows } = await admin.query<{ n: number }>(
              "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname LIKE $1 AND datname <> $2 AND pid <> pg_backend_pid()",
              [`${staging}%`, staging],
            );
            terminated = rows[0]?.n ?? 0;
          } finally {
            await admin.end();
          }
        }
      }
    };
    const read = source.readBatches.bind(source);
    source.readBatches = (table, options) => (table === "train" ? cutAfterFiveBatches(read(table, options)) : read(table, options));
    const result = await new StorageMigrator({ source, target, home: null }).migrateDataset("cut", { batchSize: 1000, overwrite: true });
    expect(terminated).toBeGreaterThan(0);
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe(ErrorCodes.CONNECTION_FAILED);
    expect(result.error?.message).toMatch(/^Lost the connection to PostgreSQL/);
    expect(await fingerprint(target, "cut")).toEqual(before);
    expect((await target.getMetadata("cut")).keep).toBe("me");
    expect(await target.listStagingPaths("cut")).toEqual([]);
  });
});

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatasetRegistry, ErrorCodes, MdmHome, type ColumnDef, type IStorageBackend, type SpecialValue, type Value } from "@mdm/storage-core";
import { StorageMigrator, orderTables, type MigrationProgress } from "../src/index.js";
import { environment, postgresAvailable, type Env } from "./support/backends.js";
import { ALL_TYPES, allTypesRow, fingerprint, rows, writeDataset } from "./support/dataset.js";

let env: Env;
let source: IStorageBackend;
let target: IStorageBackend;

beforeEach(() => {
  env = environment();
  source = env.make("sqlite", "new");
  target = env.make("duckdb", "new");
});

afterEach(async () => {
  await env.cleanup();
});

/** Record what a backend's columnsContain answers, and count its readBatches calls. */
function watch(backend: IStorageBackend): { asked: Array<[SpecialValue, boolean | undefined]>; reads: () => number } {
  const asked: Array<[SpecialValue, boolean | undefined]> = [];
  let reads = 0;
  const ask = backend.columnsContain.bind(backend);
  backend.columnsContain = async (...args) => {
    const answer = await ask(...args);
    asked.push([args[2], answer]);
    return answer;
  };
  const read = backend.readBatches.bind(backend);
  backend.readBatches = (...args) => {
    reads++;
    return read(...args);
  };
  return { asked, reads: () => reads };
}

function migrator(): StorageMigrator {
  return new StorageMigrator({ source, target, home: env.home, lockDir: join(env.home, "locks") });
}

describe("StorageMigrator", () => {
  it("moves every table, the metadata and the registry entry, and verifies them", async () => {
    await writeDataset(source, "iris");
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "iris", database: { backend: "sqlite", path: source.getDatabasePath("iris") }, target_column: "flag" });
    const before = await fingerprint(source, "iris");
    const events: MigrationProgress[] = [];
    const result = await migrator().migrateDataset("iris", { batchSize: 100, onProgress: (e) => events.push(e) });

    expect(result.error).toBeNull();
    expect(result.success).toBe(true);
    expect(result.tablesMigrated).toEqual(["train", "test", "validation", "train_features", "_columns"]);
    expect(result.rowsMigrated).toBe(1234 + 0 + 300 + 1234 + ALL_TYPES.length);
    expect(result.verification?.passed).toBe(true);
    expect(result.verification?.checks.filter((c) => c.check === "checksum")).toHaveLength(5);
    expect(result.bytes).toBeGreaterThan(0);

    expect(await fingerprint(target, "iris")).toEqual(before);
    const metadata = await target.getMetadata("iris");
    expect(metadata).toMatchObject({ description: "migration fixture", target: "flag", id_columns: ["id"], version: 3, migrated_from: "sqlite:new", migrated_to: "duckdb:new" });
    expect(typeof metadata.migration_date).toBe("string");
    // The source is untouched, and still there (removeSource is off by default).
    expect(await fingerprint(source, "iris")).toEqual(before);
    // The registry points at the target only now.
    const entry = new DatasetRegistry(new MdmHome(env.home)).read("iris");
    expect(entry.database).toEqual({ backend: "duckdb", path: target.getDatabasePath("iris") });
    expect(entry.target_column).toBe("flag");

    // Progress: per table and batch, monotonic, ending at the exact totals.
    const train = events.filter((e) => e.phase === "copy" && e.table === "train").map((e) => e.rowsDone);
    expect(train).toEqual([...train].sort((a, b) => a - b));
    expect(train.at(-1)).toBe(1234);
    expect(train.filter((n) => n % 100 === 0).length).toBeGreaterThanOrEqual(12);
    expect(events.at(-1)?.phase).toBe("done");
    // No staging left behind, no lock left behind.
    expect(await target.listStagingPaths("iris")).toEqual([]);
    expect(readdirSync(join(env.home, "locks"))).toEqual([]);
  });

  it("verify: true is checksum and false none (the seed's verify=True); a malformed option throws at once, before any lock or copy", async () => {
    await writeDataset(source, "iris");
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "iris", database: { backend: "sqlite", path: source.getDatabasePath("iris") } });
    const checked = await migrator().migrateDataset("iris", { verify: true });
    expect(checked.success, checked.error?.message).toBe(true);
    expect(checked.verification?.mode).toBe("checksum");
    expect(checked.dataTables).toEqual(["train", "test", "validation", "train_features"]);
    expect(checked.dataRows).toBe(1234 + 0 + 300 + 1234);
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "iris", database: { backend: "sqlite", path: source.getDatabasePath("iris") } });
    const unchecked = await migrator().migrateDataset("iris", { verify: false, overwrite: true });
    expect(unchecked.success, unchecked.error?.message).toBe(true);
    expect(unchecked.verification).toBeNull();
    for (const options of [{ verify: "yes" }, { verify: 1 }, { batchSize: 0 }, { batchSize: 2.5 }]) {
      await expect(migrator().migrateDataset("iris", options as never), JSON.stringify(options)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    expect(readdirSync(join(env.home, "locks"))).toEqual([]);
    expect(await target.listStagingPaths("iris")).toEqual([]);
  });

  it("copies a table whose size is an exact multiple of the batch size, an empty table, and one of many batches exactly", async () => {
    await source.createDataset("shapes");
    const engine = await source.getDatasetEngine("shapes");
    const cols: ColumnDef[] = [
      { name: "id", type: "int64" },
      { name: "v", type: "text" },
    ];
    await source.writeBatches("exact", cols, rows(500, (i) => [BigInt(i), `v${i}`]), { engine });
    await source.writeBatches("empty", cols, [], { engine });
    await source.writeBatches("many", cols, rows(1037, (i) => [BigInt(i), `w${i}`]), { engine });
    const result = await migrator().migrateDataset("shapes", { batchSize: 100 });
    expect(result.error).toBeNull();
    const t = await target.getDatasetEngine("shapes");
    for (const [table, count] of [["exact", 500], ["empty", 0], ["many", 1037]] as const) {
      const data = await target.readTable(table, { engine: t, orderBy: ["id"] });
      expect(data.rows.length).toBe(count);
      // Every id exactly once: the original's repeated first batch cannot come back.
      expect(data.rows.map((r) => r.id)).toEqual(Array.from({ length: count }, (_, i) => BigInt(i)));
    }
  });

  it("refuses an existing target by default and leaves it untouched; overwrite replaces it after verification", async () => {
    await writeDataset(source, "taken", { train: 50, validation: 10 });
    await target.createDataset("taken", { metadata: { owner: "someone else" } });
    await target.saveData("taken", [{ keep: 1n }], "precious");
    const refused = await migrator().migrateDataset("taken");
    expect(refused.success).toBe(false);
    expect(refused.error?.code).toBe(ErrorCodes.DATASET_EXISTS);
    expect(await target.listTables("taken")).toEqual(["precious"]);
    expect((await target.getMetadata("taken")).owner).toBe("someone else");

    const replaced = await migrator().migrateDataset("taken", { overwrite: true });
    expect(replaced.error).toBeNull();
    expect(await target.listTables("taken")).toEqual(["test", "train", "train_features", "validation"]);
    expect(await fingerprint(target, "taken")).toEqual(await fingerprint(source, "taken"));
  });

  for (const type of ["duckdb", "postgresql"] as const) it.skipIf(type === "postgresql" && !postgresAvailable)(`catches a value corrupted on its way to ${type} staging before publishing, naming table and column`, async () => {
    // PostgreSQL's checksum is read from COPY BINARY without building the values (tableChecksum).
    if (type === "postgresql") target = env.make("postgresql", "new");
    await writeDataset(source, "corrupt", { train: 300, validation: 10 });
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "corrupt", database: { backend: "sqlite", path: source.getDatabasePath("corrupt") } });
    const result = await migrator().migrateDataset("corrupt", {
      batchSize: 64,
      transformBatch: (table, batch) => (table === "train" ? batch.map((row) => (row[0] === 200n ? row.map((v, i) => (i === 4 ? "tampered" : v)) : row)) : batch),
    });
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe(ErrorCodes.VERIFICATION_FAILED);
    expect(result.error?.message).toContain("train");
    const failed = result.verification?.checks.find((c) => c.check === "checksum" && !c.matches);
    expect(failed?.table).toBe("train");
    expect(failed?.columns).toEqual(["label"]);
    expect(await target.datasetExists("corrupt")).toBe(false);
    expect(await target.listStagingPaths("corrupt")).toEqual([]);
    expect(new DatasetRegistry(new MdmHome(env.home)).read("corrupt").database.backend).toBe("sqlite");
  });

  it("catches a swapped pair of duplicate rows ((A,A) → (B,B) with the same count)", async () => {
    await source.createDataset("dups");
    const engine = await source.getDatasetEngine("dups");
    const cols: ColumnDef[] = [{ name: "v", type: "text" }];
    await source.writeBatches("t", cols, [[["A"], ["A"], ["B"], ["B"], ["C"]]], { engine });
    const result = await migrator().migrateDataset("dups", {
      transformBatch: (_t, batch) => batch.map((row) => (row[0] === "A" ? ["C"] : row[0] === "C" ? ["A"] : row)),
    });
    // A,A,B,B,C → C,C,B,B,A: same count; an XOR of row hashes would miss (A,A)→(C,C) pairs, a sum does not.
    expect(result.error?.code).toBe(ErrorCodes.VERIFICATION_FAILED);
  });

  it("refuses in preflight a value the target cannot hold, naming table, column and row, before writing anything", async () => {
    const sqliteTarget = env.make("sqlite", "legacy");
    const duck = env.make("duckdb", "new");
    await duck.createDataset("nans");
    const engine = await duck.getDatasetEngine("nans");
    await duck.writeBatches("train", [{ name: "id", type: "int64" }, { name: "x", type: "float64" }], [[[0n, 1.5], [1n, 2.5], [2n, Number.NaN], [3n, 4]]], { engine });
    const result = await new StorageMigrator({ source: duck, target: sqliteTarget, home: null, lockDir: join(env.home, "locks") }).migrateDataset("nans");
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(result.error?.message).toMatch(/table "train", column "x", row 3, the first such: .*--coerce-unsupported/);
    expect(await sqliteTarget.datasetExists("nans")).toBe(false);
    expect(existsSync(join(env.home, "datasets", "nans", "nans.sqlite"))).toBe(false);
  });

  it("with coerceUnsupported, NaN and -0.0 become NULL and 0.0 in SQLite, counted per column, in the metadata, and the checksum still proves the copy", async () => {
    const sqliteTarget = env.make("sqlite", "new");
    const duck = env.make("duckdb", "new");
    await duck.createDataset("coerce");
    const engine = await duck.getDatasetEngine("coerce");
    const columns = [{ name: "id", type: "int64" as const }, { name: "x", type: "float64" as const }, { name: "y", type: "float64" as const }];
    await duck.writeBatches("train", columns, [[[0n, 1.5, 1], [1n, Number.NaN, 2], [2n, Number.NaN, Number.NaN], [3n, 4, 5], [4n, Infinity, 6]]], { engine });
    await duck.writeBatches("train", columns, [[[5n, 7, 8]]], { engine, ifExists: "append" });
    const result = await new StorageMigrator({ source: duck, target: sqliteTarget, home: null, lockDir: join(env.home, "locks") }).migrateDataset("coerce", { coerceUnsupported: true, verify: "checksum" });
    expect(result.error).toBeNull();
    expect(result.verification?.passed).toBe(true);
    expect(result.coerced).toEqual({ train: { x: { nan: 2 }, y: { nan: 1 } } });
    const back = await sqliteTarget.readTable("train", { engine: await sqliteTarget.getDatasetEngine("coerce"), orderBy: ["id"] });
    expect(back.rows.map((r) => [r.x, r.y])).toEqual([[1.5, 1], [null, 2], [null, null], [4, 5], [Infinity, 6], [7, 8]]);
    expect((await sqliteTarget.getMetadata("coerce")).migration_coerced).toEqual({ train: { x: { nan: 2 }, y: { nan: 1 } } });
    // The source is unchanged: coercion happens on the way.
    const source = await duck.readTable("train", { engine, orderBy: ["id"] });
    expect(source.rows.filter((r) => Number.isNaN(r.x))).toHaveLength(2);
  });

  it("casts text timestamps and 0/1 integers on the way (verified against the converted source); a value that does not convert fails naming the row and publishes nothing", async () => {
    const duckTarget = env.make("duckdb", "new");
    const sqlite = env.make("sqlite", "legacy");
    await sqlite.createDataset("casts");
    const engine = await sqlite.getDatasetEngine("casts");
    const columns = [{ name: "id", type: "int64" as const }, { name: "at", type: "text" as const }, { name: "flag", type: "int64" as const }];
    await sqlite.writeBatches("train", columns, [[[0n, "2024-01-05 10:00:00", 1n], [1n, null, 0n], [2n, "2024-01-06T00:00:00.5", 1n]]], { engine });
    const casts = [{ table: "train", column: "at", type: "timestamp" }, { table: "train", column: "flag", type: "bool" }];
    const migrator = () => new StorageMigrator({ source: sqlite, target: duckTarget, home: null, lockDir: join(env.home, "locks") });
    const result = await migrator().migrateDataset("casts", { casts, verify: "checksum" });
    expect(result.error).toBeNull();
    expect(result.verification?.passed).toBe(true);
    const info = await duckTarget.getTableInfo("train", await duckTarget.getDatasetEngine("casts"));
    expect(info.columns.map((c) => c.type)).toEqual(["int64", "timestamp", "boolean"]);
    const back = await duckTarget.readTable("train", { engine: await duckTarget.getDatasetEngine("casts"), orderBy: ["id"] });
    expect(back.rows.map((r) => [String(r.at), r.flag])).toEqual([["2024-01-05 10:00:00.000000", true], ["null", false], ["2024-01-06 00:00:00.500000", true]]);
    expect((await duckTarget.getMetadata("casts")).column_types).toEqual({
      train: { at: { origin: "cast", option: "--cast train.at=timestamp", from: "text" }, flag: { origin: "cast", option: "--cast train.flag=bool", from: "int64" } },
    });
    await sqlite.writeBatches("train", columns, [[[3n, "yesterday", 2n]]], { engine, ifExists: "append" });
    const failed = await migrator().migrateDataset("casts", { casts, overwrite: true });
    expect(failed.success).toBe(false);
    expect(failed.error?.message).toContain('Table "train", column "at", row 4: "yesterday" is not a timestamp');
    // The earlier copy is still the published one.
    expect((await duckTarget.readTable("train", { engine: await duckTarget.getDatasetEngine("casts") })).rows).toHaveLength(3);
    const coerced = await migrator().migrateDataset("casts", { casts, overwrite: true, coerceUnsupported: true, verify: "checksum" });
    expect(coerced.error).toBeNull();
    expect(coerced.coerced).toEqual({ train: { at: { unconverted: 1 }, flag: { unconverted: 1 } } });
  });

  // The preflight asks the source's engine first: without the value, the rows are read once (the copy);
  // with it, the first offending row is named and nothing reaches the target.
  it.each([
    ["the source's engine for NULs before PostgreSQL", {
      source: ["sqlite", "new"],
      target: ["postgresql", "new"],
      kind: "nulInText",
      columns: [{ name: "id", type: "int64" }, { name: "s", type: "text" }],
      rows: (offending: boolean): Value[][] => [[0n, "a"], [1n, null], [2n, offending ? "c\0d" : "c"], ...(offending ? [[3n, "e\0"]] : [])],
      named: /table "t", column "s", row 3/,
    }],
    ["a PostgreSQL source for -0.0 before DuckDB", {
      source: ["postgresql", "new"],
      target: ["duckdb", "new"],
      kind: "negativeZero",
      columns: [{ name: "id", type: "int64" }, { name: "x", type: "float64" }, { name: "y", type: "float64" }],
      rows: (offending: boolean): Value[][] => [[0n, 1.5, 0], [1n, null, Number.NaN], [2n, 2.5, offending ? -0 : 0], ...(offending ? [[3n, 3.5, -0]] : [])],
      named: /table "t", column "y", row 3/,
    }],
  ] as const)("asks %s: none, and the rows are not scanned; one, and the first is named", async (_what, c) => {
    const from = env.make(c.source[0], c.source[1]);
    const to = env.make(c.target[0], c.target[1]);
    const { asked, reads } = watch(from);
    for (const [name, offending] of [["clean", false], ["dirty", true]] as const) {
      await from.createDataset(name);
      await from.writeBatches("t", [...c.columns], [c.rows(offending)], { engine: await from.getDatasetEngine(name) });
    }
    const migrate = (name: string) => new StorageMigrator({ source: from, target: to, home: null, lockDir: join(env.home, "locks") }).migrateDataset(name);
    const clean = await migrate("clean");
    expect(clean.error).toBeNull();
    expect(asked).toEqual([[c.kind, false]]);
    expect(reads()).toBe(1); // the copy only: no scan of the rows
    const back = await to.readTable("t", { engine: await to.getDatasetEngine("clean"), orderBy: ["id"] });
    expect(back.rows.map((r) => c.columns.map((col) => r[col.name]))).toEqual(c.rows(false));
    const refused = await migrate("dirty");
    expect(refused.error?.code).toBe(ErrorCodes.UNSUPPORTED_VALUE);
    expect(refused.error?.message).toMatch(c.named);
    expect(asked).toEqual([[c.kind, false], [c.kind, true]]);
    expect(await to.datasetExists("dirty")).toBe(false);
  });

  it("lets only one of two concurrent migrations of the same dataset run; the other fails with MDM_LOCKED", async () => {
    await writeDataset(source, "race", { train: 3000, validation: 100 });
    const [a, b] = await Promise.all([migrator().migrateDataset("race", { batchSize: 200 }), migrator().migrateDataset("race", { batchSize: 200 })]);
    const codes = [a.error?.code ?? "ok", b.error?.code ?? "ok"].sort();
    expect(codes).toEqual(["MDM_LOCKED", "ok"]);
    expect(await fingerprint(target, "race")).toEqual(await fingerprint(source, "race"));
  });

  it("aborts on an AbortSignal: staging removed, nothing at the target, the source untouched", async () => {
    await writeDataset(source, "abort", { train: 5000, validation: 10 });
    const before = await fingerprint(source, "abort");
    const controller = new AbortController();
    const result = await migrator().migrateDataset("abort", {
      batchSize: 100,
      onProgress: (e) => {
        if (e.phase === "copy" && e.rowsDone >= 1000) controller.abort();
      },
      signal: controller.signal,
    });
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe(ErrorCodes.ABORTED);
    expect(await target.datasetExists("abort")).toBe(false);
    expect(await target.listStagingPaths("abort")).toEqual([]);
    expect(await fingerprint(source, "abort")).toEqual(before);
  });

  it("removes the source only after a verified migration when asked", async () => {
    await writeDataset(source, "move", { train: 20, validation: 5 });
    const result = await migrator().migrateDataset("move", { removeSource: true, verify: "count" });
    expect(result.error).toBeNull();
    expect(result.verification?.mode).toBe("count");
    expect(result.verification?.checks.some((c) => c.check === "checksum")).toBe(false);
    expect(await source.datasetExists("move")).toBe(false);
    expect(await target.datasetExists("move")).toBe(true);
  });

  it("fails with MDM_DATASET_NOT_FOUND for a missing source and MDM_INVALID_NAME for a hostile name, creating nothing", async () => {
    const missing = await migrator().migrateDataset("nothing_here");
    expect(missing.error?.code).toBe(ErrorCodes.DATASET_NOT_FOUND);
    const hostile = await migrator().migrateDataset("../../etc");
    expect(hostile.error?.code).toBe(ErrorCodes.INVALID_NAME);
    expect(await target.listDatasets()).toEqual([]);
  });

  it("migrateAllDatasets works without a list, goes on after a failure and sums up", async () => {
    await writeDataset(source, "one", { train: 10, validation: 2 });
    await writeDataset(source, "two", { train: 20, validation: 2 });
    await writeDataset(source, "three", { train: 30, validation: 2 });
    await target.createDataset("two"); // makes "two" fail: the target exists
    const summary = await migrator().migrateAllDatasets(undefined, { concurrency: 2 });
    expect(summary.total).toBe(3);
    expect(summary.succeeded).toBe(2);
    expect(summary.failures).toEqual([{ dataset: "two", code: ErrorCodes.DATASET_EXISTS, message: expect.any(String) }]);
    expect(summary.results.map((r) => r.dataset)).toEqual(["one", "three", "two"]);
    expect(summary.totalRows).toBe(summary.results.reduce((n, r) => n + r.rowsMigrated, 0));
    expect(await target.listDatasets()).toEqual(["one", "three", "two"]);
  });

  it("cleans up the staging files a killed run left, then succeeds", async () => {
    await writeDataset(source, "leftover", { train: 40, validation: 4 });
    // A run killed after creating its staging database.
    const stale = target.getStagingPath("leftover", "deadbeef");
    await target.createDatabase(stale);
    const engine = await target.getEngine(stale);
    await target.writeBatches("train", ALL_TYPES, rows(3, allTypesRow), { engine });
    await target.closeConnections();
    expect(await target.datasetExists("leftover")).toBe(false);
    const result = await migrator().migrateDataset("leftover");
    expect(result.error).toBeNull();
    expect(await target.listStagingPaths("leftover")).toEqual([]);
    expect(await fingerprint(target, "leftover")).toEqual(await fingerprint(source, "leftover"));
  });

  it("orders tables deterministically: data tables, others, feature tables, MDM tables", () => {
    expect(orderTables(["_statistics", "zeta", "train_features", "test", "sample_submission", "train", "alpha", "validation", "data", "_columns", "test_features"])).toEqual([
      "train",
      "test",
      "validation",
      "sample_submission",
      "data",
      "alpha",
      "zeta",
      "train_features",
      "test_features",
      "_columns",
      "_statistics",
    ]);
  });

  it("never writes a password into the registry it updates", async () => {
    await writeDataset(source, "reg", { train: 5, validation: 1 });
    new DatasetRegistry(new MdmHome(env.home)).write({ name: "reg", database: { backend: "sqlite", path: source.getDatabasePath("reg") } });
    await migrator().migrateDataset("reg");
    const text = readFileSync(new MdmHome(env.home).registryFile("reg"), "utf8");
    expect(text).toContain("backend: duckdb");
    expect(text).not.toMatch(/password/i);
  });
});

describe("the registry entry is checked in preflight", () => {
  it.each([
    ["name: other", "name", "another dataset's name"],
    ["name: ../../escape", "name", "a name that leaves the home"],
    ["name: 12345", "name", "a number"],
  ])("%s fails the migration before any target is published (%s: %s)", async (nameLine, key) => {
    await writeDataset(source, "big", { train: 50, validation: 10 });
    const home = new MdmHome(env.home);
    new DatasetRegistry(home).write({ name: "big", database: { backend: "sqlite", path: source.getDatabasePath("big") } });
    const file = home.registryFile("big");
    const text = readFileSync(file, "utf8").replace("name: big", nameLine);
    writeFileSync(file, text);

    const result = await new StorageMigrator({ source, target, home: env.home, lockDir: join(env.home, "locks") }).migrateDataset("big");
    expect(result.success).toBe(false);
    expect(result.error).toMatchObject({ code: ErrorCodes.INVALID_CONFIG });
    expect(result.error?.message.startsWith(`${file}: ${key} `)).toBe(true);
    expect(await target.datasetExists("big")).toBe(false);
    expect(await target.listStagingPaths("big")).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(new DatasetRegistry(home).list()).toEqual(["big"]);
  });
});

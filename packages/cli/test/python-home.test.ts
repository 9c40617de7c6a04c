import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacySqliteStorageBackend } from "@mdm/storage-sqlite-legacy";
import { DuckdbStorageBackend } from "@mdm/storage-duckdb";
import { DatasetRegistry, MdmHome, isSqlTimestamp } from "@mdm/storage-core";
import { cleanEnv, datasetChecksums, mdm, removeDir, tempDir } from "./helpers.js";

/**
 * An MDM home as Python MDM leaves it: mdm.yaml and feature_flags.yaml in its formats, the registry YAML,
 * dataset_info.json, and a SQLite file written the way pandas `DataFrame.to_sql` writes one (its DDL:
 * INTEGER/REAL/TEXT/TIMESTAMP columns, the `index` column and its index, datetimes stored as text,
 * NaN stored as NULL), without MDM's metadata tables.
 */
function buildPythonHome(home: string, db: { exec(sql: string): void; prepare(sql: string): { run(...args: unknown[]): void } }): void {
  db.exec(`CREATE TABLE "train" (
"index" INTEGER,
  "PassengerId" INTEGER,
  "Survived" INTEGER,
  "Name" TEXT,
  "Fare" REAL,
  "Cabin" TEXT,
  "boarded_at" TIMESTAMP
)`);
  db.exec('CREATE INDEX "ix_train_index"ON "train" ("index")');
  db.exec(`CREATE TABLE "test" (
"index" INTEGER,
  "PassengerId" INTEGER,
  "Name" TEXT,
  "Fare" REAL
)`);
  const insert = db.prepare('INSERT INTO "train" ("index", "PassengerId", "Survived", "Name", "Fare", "Cabin", "boarded_at") VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 250; i++) {
    insert.run(i, 1000 + i, i % 3 === 0 ? 1 : 0, `Passenger ${i}, "Mx."`, i % 7 === 0 ? null : 7.25 + i / 8, i % 5 === 0 ? "C85" : null, `1912-04-${String(10 + (i % 5)).padStart(2, "0")} 1${i % 10}:0${i % 6}:00${i % 4 === 0 ? ".250000" : ""}`);
  }
  const insertTest = db.prepare('INSERT INTO "test" ("index", "PassengerId", "Name", "Fare") VALUES (?, ?, ?, ?)');
  for (let i = 0; i < 40; i++) insertTest.run(i, 2000 + i, `Guest ${i}`, 10 + i / 4);
  writeFileSync(
    join(home, "mdm.yaml"),
    [
      "database:",
      "  default_backend: sqlite",
      "  connection_timeout: 30",
      "  sqlalchemy:",
      "    echo: false",
      "    pool_size: 5",
      "  sqlite:",
      "    journal_mode: WAL",
      "    synchronous: NORMAL",
      "  duckdb:",
      "    memory_limit: 2GB",
      "    threads: 2",
      "performance:",
      "  batch_size: 10000",
      "  max_concurrent_operations: 5",
      "paths:",
      "  datasets_path: datasets/",
      "  configs_path: config/datasets/",
      "logging:",
      "  level: INFO",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(home, "feature_flags.yaml"),
    "flags:\n  use_new_backend: false\n  use_new_registrar: false\n  enable_performance_tracking: true\nhistory: []\nlast_updated: '2025-07-01T10:00:00'\n",
  );
  writeFileSync(
    join(home, "config", "datasets", "titanic.yaml"),
    [
      "name: titanic",
      "display_name: Titanic",
      "description: Titanic survival",
      "database:",
      "  backend: sqlite",
      `  path: ${join(home, "datasets", "titanic", "titanic.sqlite")}`,
      "tables:",
      "  train: train",
      "  test: test",
      "problem_type: binary_classification",
      "target_column: Survived",
      "id_columns:",
      "- PassengerId",
      "feature_tables: {}",
      "tags: []",
      "source: /home/someone/kaggle/titanic",
      "version: 1.0.0",
      "created_at: '2025-07-01T10:00:00.123456'",
      "",
    ].join("\n"),
  );
  writeFileSync(join(home, "datasets", "titanic", "dataset_info.json"), JSON.stringify({ name: "titanic", registered_at: "2025-07-01T10:00:00" }));
  mkdirSync(join(home, "datasets", "titanic", "metadata"));
}

describe("an MDM home written by Python MDM", () => {
  let home: string;
  let expected: Awaited<ReturnType<typeof datasetChecksums>>;
  const env = () => cleanEnv(home);

  beforeAll(async () => {
    home = tempDir("python-home");
    mkdirSync(join(home, "datasets", "titanic"), { recursive: true });
    mkdirSync(join(home, "config", "datasets"), { recursive: true });
    const legacy = new LegacySqliteStorageBackend({ homeDir: home });
    try {
      const engine = await legacy.getEngine(join(home, "datasets", "titanic", "titanic.sqlite"));
      buildPythonHome(home, (await legacy.getConnection(engine)) as Parameters<typeof buildPythonHome>[1]);
      await legacy.closeConnections();
      expected = await datasetChecksums(legacy, "titanic");
    } finally {
      await legacy.close();
    }
    expect(expected.train?.count).toBe(250);
  });

  afterAll(() => removeDir(home));

  it("mdm dataset info reads the pandas-written tables with their logical types and the registry's keys", async () => {
    const r = await mdm(["dataset", "info", "titanic", "--json"], env());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ name: "titanic", backend: "sqlite", target_column: "Survived", id_columns: ["PassengerId"], problem_type: "binary_classification", created_at: "2025-07-01T10:00:00.123456" });
    expect(info.location).toBe(join(home, "datasets", "titanic", "titanic.sqlite"));
    expect(info.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])).toEqual([
      ["train", 250],
      ["test", 40],
    ]);
    // The types its engine holds: no registration of ours chose or inferred them.
    expect(info.tables[0].columns).toEqual([
      { name: "index", type: "int64", type_origin: "stored" },
      { name: "PassengerId", type: "int64", type_origin: "stored" },
      { name: "Survived", type: "int64", type_origin: "stored" },
      { name: "Name", type: "text", type_origin: "stored" },
      { name: "Fare", type: "float64", type_origin: "stored" },
      { name: "Cabin", type: "text", type_origin: "stored" },
      { name: "boarded_at", type: "timestamp", type_origin: "stored" },
    ]);
    const list = await mdm(["dataset", "list", "--json"], env());
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: "titanic", backend: "sqlite", rows: 290, status: "ok" })]);
    const flags = await mdm(["flags", "list", "--json"], env());
    expect(flags.code).toBe(0);
    expect(JSON.parse(flags.stdout).use_new_storage).toEqual({ value: false, source: "default" });
  });

  it("mdm migrate moves it to DuckDB with every value, keeps the registry's other keys, and the timestamps stay timestamps", async () => {
    const r = await mdm(["migrate", "titanic", "--to", "duckdb"], env());
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const entry = new DatasetRegistry(new MdmHome(home)).read("titanic");
    expect(entry.database).toEqual({ backend: "duckdb", path: join(home, "datasets", "titanic", "titanic.duckdb") });
    expect(entry).toMatchObject({ display_name: "Titanic", target_column: "Survived", id_columns: ["PassengerId"], version: "1.0.0", tags: [] });
    const duck = new DuckdbStorageBackend({ homeDir: home });
    try {
      expect(await datasetChecksums(duck, "titanic")).toEqual(expected);
      const df = await duck.readTable("train", { engine: await duck.getDatasetEngine("titanic"), orderBy: ["index"], limit: 1 });
      const t = df.rows[0]?.boarded_at;
      expect(isSqlTimestamp(t) && t.toString()).toBe("1912-04-10 10:00:00.250000");
    } finally {
      await duck.close();
    }
  });

  it("mdm flags set and unset edit Python MDM's feature_flags.yaml in place: its flags kept, the change appended to history", async () => {
    const file = join(home, "feature_flags.yaml");
    const set = await mdm(["flags", "set", "use_new_storage", "true"], env());
    expect(set.code, set.stderr).toBe(0);
    const saved = readFileSync(file, "utf8");
    expect(saved).toMatch(/^flags:\n  use_new_backend: false\n  use_new_registrar: false\n  enable_performance_tracking: true\n  use_new_storage: true\nhistory:\n  - timestamp: \S+\n    flag: use_new_storage\n    old_value: null\n    new_value: true\nlast_updated: \S+\n$/);
    expect(saved).not.toContain("2025-07-01T10:00:00");
    expect((await mdm(["flags", "get", "use_new_storage"], env())).stdout.trim()).toBe("true");
    const unset = await mdm(["flags", "unset", "use_new_storage"], env());
    expect(unset.code, unset.stderr).toBe(0);
    const after = readFileSync(file, "utf8");
    expect(after).toMatch(/^flags:\n  use_new_backend: false\n  use_new_registrar: false\n  enable_performance_tracking: true\nhistory:\n/);
    expect(after.match(/flag: use_new_storage/g)).toHaveLength(2);
    expect(after).toMatch(/old_value: true\n    new_value: null/);
  });
});

// The downstream scenario, run in a fresh project outside the workspace by app.mjs (ESM builds) and app.cjs
// (CommonJS builds). It receives the @mdm modules from its caller so that the same checks run against each
// build; it never loads an @mdm package itself. Prints "ok - ..." per check and throws on the first failure.
"use strict";
const assert = require("node:assert/strict");
const { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } = require("node:fs");
const { createRequire } = require("node:module");
const { tmpdir } = require("node:os");
const { dirname, join } = require("node:path");

const NAME = "downstream_churn";

/** The directory of the installed package `name` as seen from `fromDir` (symlinks resolved). */
function packageDir(name, fromDir) {
  let dir = dirname(createRequire(join(fromDir, "noop.js")).resolve(name));
  while (!existsSync(join(dir, "package.json")) || JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name !== name) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${name} above ${fromDir}`);
    dir = up;
  }
  return realpathSync(dir);
}

/** Every package directory named `name` under the project's node_modules (pnpm's .pnpm store included). */
function installedCopies(projectDir, name) {
  const found = new Set();
  const visitPackage = (dir) => {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === name) found.add(realpathSync(dir));
    if (!lstatSync(dir).isSymbolicLink()) walk(join(dir, "node_modules"));
  };
  const walk = (nodeModules) => {
    if (!existsSync(nodeModules)) return;
    for (const entry of readdirSync(nodeModules)) {
      const path = join(nodeModules, entry);
      if (entry === ".pnpm") {
        for (const id of readdirSync(path)) walk(id === "node_modules" ? join(path, id) : join(path, id, "node_modules"));
      } else if (entry.startsWith("@")) {
        for (const scoped of readdirSync(path)) visitPackage(join(path, scoped));
      } else if (!entry.startsWith(".")) {
        visitPackage(path);
      }
    }
  };
  walk(join(projectDir, "node_modules"));
  return [...found];
}

async function run({ format, core, otherCore, sqlite, duckdb, migration, testing, projectDir, loadedCorePaths, importFrom }) {
  const check = (label, fn) => {
    fn();
    console.log(`ok - [${format}] ${label}`);
  };
  const home = mkdtempSync(join(tmpdir(), `mdm-downstream-home-${format}-`));
  try {
    // Native drivers load in this project, resolved the way the backends resolve them.
    const sqliteDir = packageDir("@mdm/storage-sqlite", projectDir);
    const duckdbDir = packageDir("@mdm/storage-duckdb", projectDir);
    const Database = createRequire(join(sqliteDir, "package.json"))("better-sqlite3");
    const db = new Database(":memory:");
    const sqliteVersion = db.prepare("select sqlite_version() as v").get().v;
    db.close();
    check(`better-sqlite3 loads (SQLite ${sqliteVersion})`, () => assert.match(sqliteVersion, /^3\./));
    const duckdbApi = await importFrom(duckdbDir, "@duckdb/node-api");
    const instance = await duckdbApi.DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll("select version() as v");
    const duckdbVersion = String(reader.getRowObjects()[0].v);
    connection.closeSync();
    check(`@duckdb/node-api loads (DuckDB ${duckdbVersion})`, () => assert.match(duckdbVersion, /^v?\d+\.\d+/));

    // A SQLite dataset with the values a careless migration gets wrong.
    const { SqlDate, SqlTimestamp } = core;
    const columns = [
      { name: "id", type: "int64" },
      { name: "amount", type: "decimal", precision: 18, scale: 4 },
      { name: "score", type: "float64" },
      { name: "label", type: "text" },
      { name: "active", type: "boolean" },
      { name: "joined", type: "date" },
      { name: "seen", type: "timestamp" },
      { name: "payload", type: "blob" },
    ];
    const rows = [];
    for (let i = 0; i < 25; i++) {
      rows.push({
        id: 9007199254740993n + BigInt(i), // above 2^53: rounded by any path through number
        amount: i % 5 === 0 ? null : `${12345678901234n + BigInt(i)}.${String(1000 + i).slice(1)}5`,
        score: i === 3 ? null : i / 10,
        label: i === 1 ? "" : i === 2 ? null : `row ${i}, "quoted" é\n`,
        active: i % 2 === 0,
        joined: SqlDate.fromParts(1970 + i, 1 + (i % 12), 1 + i),
        seen: SqlTimestamp.parse(`2024-02-29 23:59:59.${String(100000 + i).slice(1)}1`),
        payload: i === 4 ? null : new Uint8Array([0, i, 255]),
      });
    }
    const source = new sqlite.SqliteStorageBackend({ homeDir: home });
    const target = new duckdb.DuckdbStorageBackend({ homeDir: home });
    await source.init();
    await target.init();
    await source.createDataset(NAME);
    await source.saveData(NAME, { columns, rows }, "train");
    await source.saveData(NAME, { columns, rows: rows.slice(0, 7) }, "test");

    const migrator = new migration.StorageMigrator({ source, target, home });
    const phases = new Set();
    const result = await migrator.migrateDataset(NAME, { verify: "checksum", batchSize: 4, onProgress: (e) => phases.add(e.phase) });
    check(`SQLite -> DuckDB migration succeeds (${result.rowsMigrated} rows, ${result.tablesMigrated.join(", ")})`, () => {
      assert.equal(result.error, null, JSON.stringify(result.error));
      assert.equal(result.success, true);
      assert.equal(result.rowsMigrated, 32);
      assert.deepEqual([...result.tablesMigrated].sort(), ["test", "train"]);
    });
    check("verification by checksum passed for every table", () => {
      assert.equal(result.verification.mode, "checksum");
      assert.equal(result.verification.passed, true, result.verification.differences.join("; "));
      const checksums = result.verification.checks.filter((c) => c.check === "checksum");
      assert.deepEqual(checksums.map((c) => c.table).sort(), ["test", "train"]);
      assert.ok(checksums.every((c) => c.matches));
      assert.ok(phases.has("verify") && phases.has("publish"), [...phases].join(","));
    });
    const copied = await target.loadData(NAME, "train");
    check("every value read back from DuckDB equals the value written to SQLite", () => {
      assert.equal(copied.rows.length, rows.length);
      const byId = new Map(copied.rows.map((r) => [r.id, r]));
      for (const row of rows) {
        const back = byId.get(row.id);
        assert.ok(back, `row ${row.id} missing`);
        for (const column of columns) {
          assert.ok(core.valuesEqual(column.type, row[column.name], back[column.name]), `${column.name} of ${row.id}: ${core.formatValue(row[column.name])} became ${core.formatValue(back[column.name])}`);
        }
      }
    });

    // Errors and backends carry brands that agree between the ESM and the CJS build of the one core copy.
    let error;
    try {
      await target.createDataset(NAME);
    } catch (e) {
      error = e;
    }
    check("a backend error is the core's MdmError, recognised by both builds of core", () => {
      assert.ok(error instanceof core.MdmError, "instanceof MdmError of the core this build loaded");
      assert.equal(error.code, "MDM_DATASET_EXISTS");
      assert.equal(core.isMdmError(error, "MDM_DATASET_EXISTS"), true);
      assert.equal(otherCore.isMdmError(error, "MDM_DATASET_EXISTS"), true);
      assert.equal(otherCore.isMdmError(new Error("plain")), false);
      assert.equal(core.isStorageBackend(target), true);
      assert.equal(otherCore.isStorageBackend(source), true);
      assert.equal(otherCore.isStorageBackend({ close() {} }), false);
      assert.equal(otherCore.isSqlTimestamp(copied.rows[0].seen), true);
    });
    await source.close();
    await target.close();

    // The manager resolves installed backends by name and names the package that is missing.
    const manager = new core.StorageBackendManager({ homeDir: home, resolveFrom: [projectDir] });
    const byName = await manager.getStorageBackend("duckdb", { implementation: "new" });
    check("the manager loads @mdm/storage-duckdb by name", () => assert.equal(core.isStorageBackend(byName), true));
    for (const implementation of [undefined, "new"]) {
      let missing;
      try {
        await manager.getStorageBackend("postgresql", implementation ? { implementation } : {});
      } catch (e) {
        missing = e;
      }
      const pkg = implementation === "new" ? "@mdm/storage-postgresql" : `@mdm/storage-postgresql${manager.implementationFor("postgresql") === "legacy" ? "-legacy" : ""}`;
      check(`postgresql (${implementation ?? "per the flags"}): MDM_BACKEND_NOT_INSTALLED naming ${pkg}`, () => {
        assert.ok(missing, "no error");
        assert.equal(missing.code, "MDM_BACKEND_NOT_INSTALLED", String(missing));
        assert.ok(missing.message.includes(`${pkg} `) || missing.message.includes(`${pkg}:`), missing.message);
        assert.ok(missing.message.includes("@mdm/storage-postgresql"), missing.message);
      });
    }
    // Only the new SQLite package is installed; the default flags ask for legacy: the message says how out.
    const legacySqlite = await manager.getStorageBackend("sqlite").catch((e) => e);
    check("sqlite per the default flags: MDM_BACKEND_NOT_INSTALLED saying the new one is installed and which flag picks it", () => {
      assert.equal(legacySqlite.code, "MDM_BACKEND_NOT_INSTALLED", String(legacySqlite));
      assert.ok(legacySqlite.message.includes("@mdm/storage-sqlite-legacy"), legacySqlite.message);
      assert.ok(legacySqlite.message.includes('featureFlags.set("use_new_storage_sqlite", true)'), legacySqlite.message);
    });
    core.featureFlags.set("use_new_storage_sqlite", true);
    check("featureFlags is the default manager's flags", () => assert.equal(core.getDefaultManager().flags.get("use_new_storage_sqlite"), true));
    core.featureFlags.unset("use_new_storage_sqlite");
    await manager.clearCache();

    // @mdm/testing without vitest (an optional peer, not installed here): its main entry loads and works.
    check("vitest is not installed in this project", () => assert.throws(() => createRequire(join(projectDir, "noop.js")).resolve("vitest"), /Cannot find module/));
    const memory = new testing.MemoryStorageBackend();
    await memory.init();
    check(`@mdm/testing loads without vitest (MemoryStorageBackend, ${testing.fidelityFixtures.length} fidelity fixtures)`, () => {
      assert.equal(core.isStorageBackend(memory), true);
      assert.ok(testing.fidelityFixtures.length > 0);
      assert.throws(() => testing.defineConformanceSuite({}), /@mdm\/testing\/vitest/);
    });
    await memory.close();

    // Exactly one copy of core: installed, seen by every package, and loaded.
    const coreDirs = new Set(["@mdm/storage-sqlite", "@mdm/storage-duckdb", "@mdm/migration"].map((p) => packageDir("@mdm/storage-core", packageDir(p, projectDir))));
    coreDirs.add(packageDir("@mdm/storage-core", projectDir));
    const copies = installedCopies(projectDir, "@mdm/storage-core");
    check(`one copy of @mdm/storage-core installed and resolved by every package (${copies.length} in node_modules)`, () => {
      assert.equal(coreDirs.size, 1, [...coreDirs].join(", "));
      assert.deepEqual(copies, [...coreDirs]);
    });
    if (loadedCorePaths) {
      const loaded = loadedCorePaths();
      check(`one copy of @mdm/storage-core loaded (require.cache: ${loaded.length} file(s) of ${[...coreDirs][0].split("node_modules").pop()})`, () => {
        assert.ok(loaded.length > 0);
        for (const file of loaded) assert.ok(realpathSync(file).startsWith([...coreDirs][0]), file);
      });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

module.exports = { run, packageDir };

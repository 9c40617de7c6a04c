/**
 * The migration path of the design, step by step, with the feature flags of @mdm/storage-core:
 *
 * 1. legacy is the default;
 * 2. the new implementation enabled for one backend type (a per-type flag);
 * 3. a 25% rollout by dataset name: which datasets get which implementation, the same in two managers
 *    (the second reads the flags from feature_flags.yaml), and stable across processes (a hash of the name);
 * 4. auto-fallback to legacy when the new implementation cannot start: (a) its package is not installed,
 *    (b) its init() fails (the new PostgreSQL backend pointed at a port where nothing listens), with the
 *    fallback event the manager records;
 * 5. the full switch: `use_new_storage: true`.
 *
 * Run: pnpm --filter examples exec tsx src/gradual-rollout.ts
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, realpathSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { rolloutBucket, type BackendType, type StorageBackendManager } from "@mdm/storage-core";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";
import { configWithPostgres, dropPrefix, postgresUnavailable } from "./support/postgres.js";
import { EXAMPLES_DIR, envWithoutFlags, heading, newManager, withTempHome } from "./support/run.js";

const TYPES: BackendType[] = ["sqlite", "duckdb", "postgresql"];
const DATASETS = ["titanic", "house-prices", "mnist", "iris", "wine-quality", "credit-default", "churn", "spaceship-titanic", "digit-recognizer", "bike-sharing", "tabular-playground", "store-sales"];

/** Which implementation the flags pick per type; the file backends are also started to show the class. */
async function show(manager: StorageBackendManager, label: string): Promise<void> {
  const parts = [];
  for (const type of TYPES) {
    const implementation = manager.implementationFor(type);
    // PostgreSQL needs a server to start; the choice of the flags is what this step shows.
    const started = type === "postgresql" ? "" : ` ${(await manager.getStorageBackend(type)).constructor.name}`;
    parts.push(`${type}=${implementation}${started}`);
  }
  console.log(`${label}: ${parts.join(", ")}`);
}

async function legacyDefault(home: string): Promise<void> {
  heading("1. Default: legacy for every backend type");
  const manager = newManager(home);
  try {
    await show(manager, `use_new_storage=${manager.flags.get("use_new_storage")} (${manager.flags.sourceOf("use_new_storage")})`);
  } finally {
    await manager.clearCache();
  }
}

async function oneType(home: string): Promise<void> {
  heading("2. New implementation for one backend type: use_new_storage_duckdb=true");
  const manager = newManager(home);
  try {
    manager.flags.set("use_new_storage_duckdb", true);
    await show(manager, "use_new_storage_duckdb=true (code)");
    console.log("The same flag from the environment: MDM_FEATURE_USE_NEW_STORAGE_DUCKDB=true, or use_new_storage_duckdb: true in feature_flags.yaml");
  } finally {
    await manager.clearCache();
  }
}

async function assignments(manager: StorageBackendManager): Promise<string[]> {
  const out = [];
  for (const name of DATASETS) out.push((await manager.getStorageBackend("sqlite", { datasetName: name })).implementation);
  return out;
}

async function percentageRollout(home: string): Promise<void> {
  heading("3. A 25% rollout by dataset name (SQLite)");
  const first = newManager(home);
  const second = newManager(home);
  try {
    first.flags.set("rollout_percentage", 25);
    first.flags.saveToFile(); // feature_flags.yaml in the MDM home: the second manager reads it
    second.flags.reload();
    console.log(`Manager 1: rollout_percentage=${first.flags.get("rollout_percentage")} (${first.flags.sourceOf("rollout_percentage")}); manager 2: rollout_percentage=${second.flags.get("rollout_percentage")} (${second.flags.sourceOf("rollout_percentage")})`);
    const a = await assignments(first);
    const b = await assignments(second);
    console.log('bucket = first 4 bytes of sha256("new_storage:sqlite:<name>") mod 100; new when bucket < 25');
    DATASETS.forEach((name, i) => {
      const bucket = rolloutBucket("sqlite", name);
      console.log(`  dataset ${name.padEnd(18)} bucket ${String(bucket).padStart(2)} -> manager 1: ${a[i]!.padEnd(6)} manager 2: ${b[i]}`);
    });
    const onNew = a.filter((x) => x === "new").length;
    const same = a.every((x, i) => x === b[i]);
    console.log(`Rollout at 25%: ${onNew} of ${DATASETS.length} datasets on new; both managers agree: ${same ? "yes" : "NO"}`);
    if (!same) throw new Error("the two managers disagree on the rollout");
    console.log(`Without a dataset name a partial rollout gives: ${first.implementationFor("sqlite")}`);

    first.flags.set("rollout_percentage", 50);
    const wider = await assignments(first);
    const kept = a.every((x, i) => x === "legacy" || wider[i] === "new");
    console.log(`Rollout at 50%: ${wider.filter((x) => x === "new").length} of ${DATASETS.length} on new; every dataset that was on new at 25% still is: ${kept ? "yes" : "NO"}`);
  } finally {
    await first.clearCache();
    await second.clearCache();
  }
}

async function fallbackWhenNotInstalled(home: string): Promise<void> {
  heading("4a. Auto-fallback: the new SQLite package is not installed");
  // An application directory whose node_modules holds only core and the legacy package, as after
  // `npm install @mdm/storage-core @mdm/storage-sqlite-legacy`. It runs as its own Node process without
  // NODE_PATH: pnpm's bin shims (tsx here) put the workspace's hoisted packages on NODE_PATH, and the
  // manager honours NODE_PATH, so in this process the new package would be found.
  const app = join(home, "app");
  mkdirSync(join(app, "node_modules", "@mdm"), { recursive: true });
  for (const pkg of ["storage-core", "storage-sqlite-legacy"]) {
    symlinkSync(realpathSync(join(EXAMPLES_DIR, "node_modules", "@mdm", pkg)), join(app, "node_modules", "@mdm", pkg), "dir");
  }
  copyFileSync(join(EXAMPLES_DIR, "src", "support", "legacy-only-app.mjs"), join(app, "main.mjs"));
  const env = { ...envWithoutFlags() };
  delete env.NODE_PATH;
  const out = execFileSync(process.execPath, [join(app, "main.mjs"), home], { cwd: app, env, encoding: "utf8" });
  process.stdout.write(out);
}

/** A TCP port on 127.0.0.1 where nothing listens (opened, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function fallbackWhenInitFails(home: string): Promise<void> {
  heading("4b. Auto-fallback: the new PostgreSQL backend cannot connect (init() fails)");
  const unavailable = await postgresUnavailable();
  if (unavailable) {
    console.log(`skipped: ${unavailable}`);
    return;
  }
  const prefix = `mdmroll${randomBytes(3).toString("hex")}_`;
  const config = configWithPostgres({ database_prefix: prefix, connect_timeout: 3 });
  const port = await closedPort();
  const manager = newManager(home, { config });
  // The new implementation, as its package builds it, but aimed at a port where no server listens: its
  // init() connects and fails. The legacy implementation uses the configured server, which is up.
  manager.register({
    backendType: "postgresql",
    implementation: "new",
    create: ({ config: c }) => new PostgresqlStorageBackend({ config: { ...c.database.postgresql, host: "127.0.0.1", port } }),
  });
  try {
    manager.flags.set("use_new_storage_postgresql", true);
    const backend = await manager.getStorageBackend("postgresql", { datasetName: "sales" });
    console.log(`use_new_storage_postgresql=true, new backend at 127.0.0.1:${port}: getStorageBackend("postgresql") -> ${backend.constructor.name} (${backend.implementation})`);
    for (const e of manager.fallbacks()) console.log(`Recorded fallback: ${e.timestamp} ${e.backendType} dataset=${e.datasetName} ${e.code}: ${e.message}`);
    await backend.createDataset("sales");
    await backend.saveData("sales", [{ id: 1n, amount: 9.5 }, { id: 2n, amount: 12.25 }], "train");
    const rows = (await backend.loadData("sales", "train")).rows.length;
    console.log(`Legacy PostgreSQL keeps working: wrote and read ${rows} rows in database ${prefix}sales`);
  } finally {
    await manager.clearCache();
    await dropPrefix(prefix);
  }
}

async function fullSwitch(home: string): Promise<void> {
  heading("5. Full switch: use_new_storage=true in feature_flags.yaml");
  const writer = newManager(home);
  writer.flags.saveToFile({ use_new_storage: true });
  const manager = newManager(home);
  try {
    await show(manager, `use_new_storage=${manager.flags.get("use_new_storage")} (${manager.flags.sourceOf("use_new_storage")})`);
    manager.flags.set("use_new_storage_sqlite", false);
    console.log(`Per-type override still wins (to hold one type back): use_new_storage_sqlite=false -> sqlite=${manager.implementationFor("sqlite")}`);
  } finally {
    await manager.clearCache();
  }
}

await withTempHome("mdm-example-rollout", async (home) => {
  await legacyDefault(home);
  await oneType(home);
  await percentageRollout(home);
  await fallbackWhenNotInstalled(home);
  await fallbackWhenInitFails(home);
  await fullSwitch(home);
});
console.log("gradual-rollout: done");

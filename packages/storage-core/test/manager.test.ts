import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import {
  BACKEND_PACKAGES,
  ErrorCodes,
  FeatureFlags,
  StorageBackendManager,
  defaultConfig,
  featureFlags,
  getDefaultManager,
  isMdmError,
  isStorageBackend,
  rolloutBucket,
  type BackendFactory,
  type FallbackEvent,
  type IStorageBackend,
} from "../src/index.js";
import { coreDist } from "./helpers/core-dist.js";
import { useCoreEntry, writeFakeBackendPackage } from "./helpers/fake-backend-package.js";
import { asyncCodeOf } from "./helpers/error-code.js";
import { isolateModuleResolution } from "./helpers/isolated-resolution.js";
import { tempDir } from "./helpers/temp-dir.js";

isolateModuleResolution();

beforeAll(async () => {
  useCoreEntry((await coreDist()).esm);
});

/** A manager over a temp MDM home, resolving packages only from `root`. */
function managerIn(root: string, env: NodeJS.ProcessEnv = {}) {
  const home = join(root, "home");
  const flags = new FeatureFlags({ file: join(home, "feature_flags.yaml"), env });
  return new StorageBackendManager({ homeDir: home, env, flags, resolveFrom: [root] });
}

function sqlitePackages(root: string, options: { newFails?: string } = {}): void {
  writeFakeBackendPackage(root, {
    packageName: BACKEND_PACKAGES.sqlite.new,
    backendType: "sqlite",
    implementation: "new",
    failInitWith: options.newFails,
  });
  writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.sqlite.legacy, backendType: "sqlite", implementation: "legacy" });
}

describe("package resolution", () => {
  test("loads @mdm/storage-sqlite by name from resolveFrom and returns a started backend", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const manager = managerIn(root);
    manager.flags.set("use_new_storage", true);
    const backend = await manager.getStorageBackend("sqlite");
    expect(isStorageBackend(backend)).toBe(true);
    expect(backend.backendType).toBe("sqlite");
    expect(backend.implementation).toBe("new");
    expect((backend as unknown as { initCalls: number }).initCalls).toBe(1);
    expect((backend as unknown as { homeDir: string }).homeDir).toBe(manager.homeDir);
    // The backend works: it is a real BaseStorageBackend subclass from core's dist.
    const engine = await backend.getEngine("db1");
    expect(engine.database).toBe("db1");
    expect(await backend.databaseExists("db1")).toBe(true);
    await manager.clearCache();
  });

  test("hands the factory the loaded mdm.yaml", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const home = join(root, "home");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "mdm.yaml"), "performance:\n  batch_size: 2500\n");
    const manager = new StorageBackendManager({ homeDir: home, env: {}, resolveFrom: [root] });
    expect(manager.config.performance.batch_size).toBe(2500);
    const backend = await manager.getStorageBackend("sqlite");
    expect(backend.implementation).toBe("legacy");
    expect((backend as unknown as { config: { performance: { batch_size: number } } }).config.performance.batch_size).toBe(2500);
    await manager.clearCache();
  });

  test.each([
    ["exports as a string", { exports: "./index.js" }],
    ['exports { ".": string }', { exports: { ".": "./index.js" } }],
    ["nested conditions with types", { exports: { ".": { import: { types: "./index.d.ts", default: "./index.js" }, require: { types: "./index.d.cts", default: "./index.js" } } } }],
    ["only a default condition", { exports: { ".": { types: "./index.d.ts", default: "./index.js" } } }],
    ["only main", { main: "index.js" }],
    ["no entry fields at all (index.js)", {}],
  ])("resolves a package whose entry is given as %s", async (_label, entryFields) => {
    const root = tempDir();
    writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.postgresql.legacy, backendType: "postgresql", implementation: "legacy", entryFields });
    const manager = managerIn(root);
    const backend = await manager.getStorageBackend("postgresql");
    expect(backend.backendType).toBe("postgresql");
    await manager.clearCache();
  });

  test("a missing package fails with MDM_BACKEND_NOT_INSTALLED naming the package", async () => {
    const root = tempDir();
    const manager = managerIn(root);
    manager.flags.set("use_new_storage_duckdb", true);
    manager.flags.set("auto_fallback", false);
    const error = await manager.getStorageBackend("duckdb").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMdmError(error, ErrorCodes.BACKEND_NOT_INSTALLED)).toBe(true);
    expect((error as Error).message).toContain("@mdm/storage-duckdb");
    expect((error as Error).message).toContain("npm install @mdm/storage-duckdb");
    expect((error as { details: Record<string, unknown> }).details.package).toBe("@mdm/storage-duckdb");
  });

  test("the legacy package is named when legacy is missing", async () => {
    const manager = managerIn(tempDir());
    const error = await manager.getStorageBackend("postgresql").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.BACKEND_NOT_INSTALLED)).toBe(true);
    expect((error as Error).message).toContain("@mdm/storage-postgresql-legacy");
  });

  test("only the new package installed and the flags ask for legacy: the message says which flag (or package) fixes it", async () => {
    const root = tempDir();
    writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.sqlite.new, backendType: "sqlite", implementation: "new" });
    const manager = managerIn(root);
    const error = await manager.getStorageBackend("sqlite").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.BACKEND_NOT_INSTALLED)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('npm install @mdm/storage-sqlite-legacy');
    expect(message).toContain("the new implementation (@mdm/storage-sqlite) is installed");
    expect(message).toContain('featureFlags.set("use_new_storage_sqlite", true)');
    expect(message).toContain("MDM_FEATURE_USE_NEW_STORAGE_SQLITE=true");
    // Doing what it says works.
    manager.flags.set("use_new_storage_sqlite", true);
    expect((await manager.getStorageBackend("sqlite")).implementation).toBe("new");
    await manager.clearCache();
    // Neither installed: no flag would help, so none is suggested.
    const neither = await managerIn(tempDir()).getStorageBackend("duckdb").catch((e: unknown) => e);
    expect((neither as Error).message).not.toContain("feature flag");
  });

  test("an unknown backend type is MDM_BACKEND_UNAVAILABLE listing the supported types", async () => {
    const manager = managerIn(tempDir());
    const error = await manager.getStorageBackend("mysql" as never).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.BACKEND_UNAVAILABLE)).toBe(true);
    expect((error as Error).message).toContain("sqlite, duckdb, postgresql");
    expect(() => manager.implementationFor("oracle" as never)).toThrow(/Unsupported backend type/);
    expect(manager.availableBackends()).toEqual(["sqlite", "duckdb", "postgresql"]);
  });

  test("an implementation other than legacy/new is refused", async () => {
    const manager = managerIn(tempDir());
    expect(await asyncCodeOf(manager.getStorageBackend("sqlite", { implementation: "beta" as never }))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  test("a package without a valid backendFactory is MDM_BACKEND_UNAVAILABLE", async () => {
    for (const brokenExport of ["none", "wrong-type"] as const) {
      const root = tempDir();
      writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.sqlite.legacy, backendType: "sqlite", implementation: "legacy", brokenExport });
      const manager = managerIn(root);
      const error = await manager.getStorageBackend("sqlite").catch((e: unknown) => e);
      expect(isMdmError(error, ErrorCodes.BACKEND_UNAVAILABLE)).toBe(true);
      expect((error as Error).message).toContain("does not export a backendFactory for sqlite:legacy");
    }
  });

  test("a factory that returns something else than a backend is MDM_BACKEND_UNAVAILABLE", async () => {
    const root = tempDir();
    writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.sqlite.legacy, backendType: "sqlite", implementation: "legacy", brokenExport: "not-a-backend" });
    const manager = managerIn(root);
    const error = await manager.getStorageBackend("sqlite").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.BACKEND_UNAVAILABLE)).toBe(true);
    expect((error as Error).message).toContain("did not return a storage backend");
  });

  test("a package whose module throws on load is MDM_BACKEND_UNAVAILABLE", async () => {
    const root = tempDir();
    const dir = writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.duckdb.legacy, backendType: "duckdb", implementation: "legacy" });
    writeFileSync(join(dir, "index.js"), 'throw new Error("native binding missing");\n');
    const manager = managerIn(root);
    const error = await manager.getStorageBackend("duckdb").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.BACKEND_UNAVAILABLE)).toBe(true);
    expect((error as Error).message).toContain("@mdm/storage-duckdb-legacy could not be loaded");
    expect((error as Error).message).toContain("native binding missing");
  });
});

describe("caching", () => {
  test("the same instance is returned twice, also for concurrent calls", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const manager = managerIn(root);
    const [a, b] = await Promise.all([manager.getStorageBackend("sqlite"), manager.getStorageBackend("sqlite")]);
    const c = await manager.getStorageBackend("sqlite");
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect((a as unknown as { initCalls: number }).initCalls).toBe(1);
    // legacy and new are cached apart
    const n = await manager.getStorageBackend("sqlite", { implementation: "new" });
    expect(n).not.toBe(a);
    expect(n.implementation).toBe("new");
    await manager.clearCache();
  });

  test("clearCache() closes every cached instance and the next call creates a new one", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const manager = managerIn(root);
    const legacy = await manager.getStorageBackend("sqlite");
    const modern = await manager.getStorageBackend("sqlite", { implementation: "new" });
    await legacy.getEngine("x");
    expect(legacy.closed).toBe(false);
    await manager.clearCache();
    expect(legacy.closed).toBe(true);
    expect(modern.closed).toBe(true);
    expect((legacy as unknown as { closedEngines: number }).closedEngines).toBe(1);
    const again = await manager.getStorageBackend("sqlite");
    expect(again).not.toBe(legacy);
    expect(again.closed).toBe(false);
    await manager.clearCache();
    await manager.clearCache(); // nothing cached: no error
  });

  test("clearCache() reports a close() failure after closing the others", async () => {
    const manager = managerIn(tempDir());
    const closed: string[] = [];
    const make = (implementation: "legacy" | "new", fail: boolean): BackendFactory => ({
      backendType: "duckdb",
      implementation,
      create: () => registeredBackend("duckdb", implementation, { onClose: () => { closed.push(implementation); if (fail) throw new Error("close failed"); } }),
    });
    manager.register(make("legacy", true));
    manager.register(make("new", false));
    await manager.getStorageBackend("duckdb");
    await manager.getStorageBackend("duckdb", { implementation: "new" });
    await expect(manager.clearCache()).rejects.toThrow("close failed");
    expect(closed.sort()).toEqual(["legacy", "new"]);
  });

  test("an instance the caller closed is replaced, not handed out closed", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const manager = managerIn(root);
    const first = await manager.getStorageBackend("sqlite");
    await first.close();
    const [second, third] = await Promise.all([manager.getStorageBackend("sqlite"), manager.getStorageBackend("sqlite")]);
    expect(second).not.toBe(first);
    expect(second.closed).toBe(false);
    expect(third).toBe(second);
    expect(await second.listDatasets()).toEqual([]);
    await manager.clearCache();
  });

  test("a backend that failed to start is not cached", async () => {
    const root = tempDir();
    sqlitePackages(root, { newFails: "cannot open" });
    const manager = managerIn(root);
    manager.flags.set("auto_fallback", false);
    manager.flags.set("use_new_storage", true);
    expect(await asyncCodeOf(manager.getStorageBackend("sqlite"))).toBe(ErrorCodes.CONNECTION_FAILED);
    expect(await asyncCodeOf(manager.getStorageBackend("sqlite"))).toBe(ErrorCodes.CONNECTION_FAILED);
    await manager.clearCache();
  });
});

/** A backend built from the in-memory fake package's class, for register(). */
function registeredBackend(
  backendType: "sqlite" | "duckdb" | "postgresql",
  implementation: "legacy" | "new",
  hooks: { onInit?: () => void; onClose?: () => void } = {},
): IStorageBackend {
  const backend: IStorageBackend = {
    backendType,
    implementation,
    closed: false,
    init: async () => hooks.onInit?.(),
    close: async () => {
      hooks.onClose?.();
      (backend as { closed: boolean }).closed = true;
    },
  } as unknown as IStorageBackend;
  Object.defineProperty(backend, Symbol.for("@mdm/storage-core:StorageBackend"), { value: true });
  return backend;
}

describe("register()", () => {
  test("a registered factory is used without package resolution", async () => {
    const manager = managerIn(tempDir()); // no packages at all
    const made: string[] = [];
    manager.register({ backendType: "postgresql", implementation: "legacy", create: () => (made.push("pg"), registeredBackend("postgresql", "legacy")) });
    const backend = await manager.getStorageBackend("postgresql");
    expect(backend.backendType).toBe("postgresql");
    expect(made).toEqual(["pg"]);
    expect(await manager.loadFactory("postgresql", "legacy")).toMatchObject({ backendType: "postgresql" });
    await manager.clearCache();
  });
});

describe("auto-fallback", () => {
  test("when the new implementation fails to start, legacy is used and the fallback is recorded", async () => {
    const root = tempDir();
    sqlitePackages(root, { newFails: "engine refused to start" });
    const manager = managerIn(root);
    manager.flags.set("use_new_storage", true);
    const seen: FallbackEvent[] = [];
    const off = manager.onFallback((e) => seen.push(e));
    manager.onFallback(() => {
      throw new Error("a broken listener must not break the fallback");
    });
    const backend = await manager.getStorageBackend("sqlite", { datasetName: "iris" });
    expect(backend.implementation).toBe("legacy");
    expect(backend.closed).toBe(false);
    const events = manager.fallbacks();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ backendType: "sqlite", datasetName: "iris", code: ErrorCodes.CONNECTION_FAILED });
    expect(events[0]?.message).toContain("engine refused to start");
    expect(Number.isNaN(Date.parse(events[0]?.timestamp ?? ""))).toBe(false);
    expect(seen).toEqual(events);
    off();
    await manager.getStorageBackend("sqlite", { datasetName: "iris" });
    expect(manager.fallbacks()).toHaveLength(2);
    expect(seen).toHaveLength(1);
    await manager.clearCache();
  });

  test("a missing new package also falls back (MDM_BACKEND_NOT_INSTALLED recorded)", async () => {
    const root = tempDir();
    writeFakeBackendPackage(root, { packageName: BACKEND_PACKAGES.duckdb.legacy, backendType: "duckdb", implementation: "legacy" });
    const manager = managerIn(root, { MDM_FEATURE_USE_NEW_STORAGE: "true" });
    const backend = await manager.getStorageBackend("duckdb");
    expect(backend.implementation).toBe("legacy");
    expect(manager.fallbacks()[0]?.code).toBe(ErrorCodes.BACKEND_NOT_INSTALLED);
    await manager.clearCache();
  });

  test("no fallback when auto_fallback is false: the start error is thrown", async () => {
    const root = tempDir();
    sqlitePackages(root, { newFails: "engine refused to start" });
    const manager = managerIn(root, { MDM_FEATURE_AUTO_FALLBACK: "false", MDM_FEATURE_USE_NEW_STORAGE: "1" });
    const error = await manager.getStorageBackend("sqlite").catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.CONNECTION_FAILED)).toBe(true);
    expect((error as Error).message).toContain("engine refused to start");
    expect(manager.fallbacks()).toEqual([]);
  });

  test("an explicit implementation: 'new' never falls back", async () => {
    const root = tempDir();
    sqlitePackages(root, { newFails: "engine refused to start" });
    const manager = managerIn(root);
    expect(await asyncCodeOf(manager.getStorageBackend("sqlite", { implementation: "new" }))).toBe(ErrorCodes.CONNECTION_FAILED);
    expect(manager.fallbacks()).toEqual([]);
  });
});

describe("flags through the manager", () => {
  test("a percentage rollout picks the implementation per dataset, stably", async () => {
    const manager = managerIn(tempDir());
    for (const implementation of ["legacy", "new"] as const) {
      manager.register({ backendType: "sqlite", implementation, create: () => registeredBackend("sqlite", implementation) });
    }
    manager.flags.set("rollout_percentage", 30);
    const names = Array.from({ length: 60 }, (_, i) => `dataset_${i}`);
    let news = 0;
    for (const name of names) {
      const expected = rolloutBucket("sqlite", name) < 30 ? "new" : "legacy";
      expect(manager.implementationFor("sqlite", name)).toBe(expected);
      const backend = await manager.getStorageBackend("sqlite", { datasetName: name });
      expect(backend.implementation).toBe(expected);
      if (expected === "new") news++;
    }
    // Both implementations were really chosen for some datasets.
    expect(news).toBeGreaterThan(0);
    expect(news).toBeLessThan(names.length);
    // Without a dataset name the rollout cannot apply: legacy.
    expect((await manager.getStorageBackend("sqlite")).implementation).toBe("legacy");
    await manager.clearCache();
  });

  test("per-type override and use_new_storage come from feature_flags.yaml in the MDM home", async () => {
    const root = tempDir();
    const home = join(root, "home");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "feature_flags.yaml"), "use_new_storage: true\nuse_new_storage_duckdb: false\n");
    const manager = new StorageBackendManager({ homeDir: home, env: {}, config: defaultConfig(), resolveFrom: [root] });
    expect(manager.flags.sourceOf("use_new_storage")).toBe("file");
    expect(manager.implementationFor("sqlite")).toBe("new");
    expect(manager.implementationFor("duckdb")).toBe("legacy");
    expect(manager.implementationFor("postgresql")).toBe("new");
  });
});

describe("process-wide helpers", () => {
  test("getStorageBackend() and clearStorageCache() use one default manager built from the environment", async () => {
    const root = tempDir();
    sqlitePackages(root);
    const home = join(root, "home");
    const saved = { home: process.env.MDM_HOME_DIR, cwd: process.cwd() };
    process.env.MDM_HOME_DIR = home;
    process.chdir(root); // the default manager resolves packages from the working directory
    try {
      const mod = await import("../src/manager.js");
      const manager = mod.getDefaultManager();
      expect(mod.getDefaultManager()).toBe(manager);
      expect(manager.homeDir).toBe(home);
      const backend = await mod.getStorageBackend("sqlite");
      expect(backend.implementation).toBe("legacy");
      await mod.clearStorageCache();
      expect(backend.closed).toBe(true);
    } finally {
      process.chdir(saved.cwd);
      if (saved.home === undefined) delete process.env.MDM_HOME_DIR;
      else process.env.MDM_HOME_DIR = saved.home;
    }
  });

  // After the test above: the default manager exists, built from a temporary home.
  test("featureFlags is the default manager's flags: set there, read by getDefaultManager().flags, and back", () => {
    const flags = getDefaultManager().flags;
    const before = flags.get("use_new_storage_duckdb");
    try {
      featureFlags.set("use_new_storage_duckdb", true);
      expect(flags.get("use_new_storage_duckdb")).toBe(true);
      expect(featureFlags.sourceOf("use_new_storage_duckdb")).toBe("code");
      expect(getDefaultManager().implementationFor("duckdb")).toBe("new");
      featureFlags.set("use_new_storage_duckdb", "false");
      expect(featureFlags.get("use_new_storage_duckdb")).toBe(false);
      expect(() => featureFlags.set("use_new_storage_duckdb", "maybe")).toThrow();
    } finally {
      featureFlags.unset("use_new_storage_duckdb");
    }
    expect(featureFlags.get("use_new_storage_duckdb")).toBe(before);
  });

});

describe("the published builds resolve packages too", () => {
  test.each(["esm", "cjs"] as const)("the %s build loads a backend package by name", async (format) => {
    const { createRequire } = await import("node:module");
    const { pathToFileURL } = await import("node:url");
    const entry = (await coreDist())[format];
    const core = (format === "cjs" ? createRequire(import.meta.url)(entry) : await import(pathToFileURL(entry).href)) as typeof import("../src/index.js");
    const root = tempDir();
    sqlitePackages(root);
    const home = join(root, "home");
    const manager = new core.StorageBackendManager({ homeDir: home, env: {}, flags: new core.FeatureFlags({ env: {} }), resolveFrom: [root] });
    manager.flags.set("use_new_storage", true);
    const backend = await manager.getStorageBackend("sqlite");
    expect(backend.implementation).toBe("new");
    expect(core.isStorageBackend(backend)).toBe(true);
    const missing = await manager.getStorageBackend("duckdb", { implementation: "legacy" }).catch((e: unknown) => e);
    expect(core.isMdmError(missing, "MDM_BACKEND_NOT_INSTALLED")).toBe(true);
    await manager.clearCache();
    expect(backend.closed).toBe(true);
  });
});

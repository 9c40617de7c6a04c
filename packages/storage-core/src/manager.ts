import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig, type MdmConfig } from "./config.js";
import { ErrorCodes, MdmError, isMdmError } from "./errors.js";
import { FeatureFlags, type FlagListener, type FlagName, type FlagValues } from "./flags.js";
import { isStorageBackend, type IStorageBackend } from "./interface.js";
import { MdmHome } from "./layout.js";
import { BACKEND_TYPES, type BackendType, type Implementation } from "./types.js";

/** What the manager hands a backend factory. */
export interface BackendCreateOptions {
  homeDir: string;
  config: MdmConfig;
}

/** Every backend package exports one of these as `backendFactory`. */
export interface BackendFactory {
  readonly backendType: BackendType;
  readonly implementation: Implementation;
  create(options: BackendCreateOptions): IStorageBackend;
}

/** The npm package that implements each backend type and implementation. */
export const BACKEND_PACKAGES: Record<BackendType, Record<Implementation, string>> = {
  sqlite: { new: "@mdm/storage-sqlite", legacy: "@mdm/storage-sqlite-legacy" },
  duckdb: { new: "@mdm/storage-duckdb", legacy: "@mdm/storage-duckdb-legacy" },
  postgresql: { new: "@mdm/storage-postgresql", legacy: "@mdm/storage-postgresql-legacy" },
};

export interface FallbackEvent {
  timestamp: string;
  backendType: BackendType;
  datasetName?: string;
  /** Why the new implementation could not start (code and message, never a password). */
  code: string;
  message: string;
}

export interface GetBackendOptions {
  /** Used for the percentage rollout. */
  datasetName?: string;
  /** Bypass the flags. */
  implementation?: Implementation;
}

export interface ManagerOptions {
  homeDir?: string;
  config?: MdmConfig;
  flags?: FeatureFlags;
  env?: NodeJS.ProcessEnv;
  /** Directories to resolve backend packages from (default: the current working directory). */
  resolveFrom?: string[];
}

const IS_ESM = typeof __filename === "undefined";

function entryOf(packageJsonPath: string): string {
  const pkg = JSON.parse(readFileSync(packageJsonPath, "utf8")) as {
    exports?: unknown;
    main?: string;
    module?: string;
  };
  // "exports" may be a string, { ".": string }, or conditions ({ import, require, node, default }, nested).
  const root = typeof pkg.exports === "string" ? pkg.exports : (pkg.exports as Record<string, unknown> | undefined)?.["."];
  const pick = (c: unknown): string | undefined =>
    typeof c === "string" ? c : c && typeof c === "object" ? (["node", "default"].map((k) => pick((c as Record<string, unknown>)[k])).find(Boolean)) : undefined;
  const condition = (c: unknown) => (typeof c === "string" ? c : c && typeof c === "object" ? pick((c as Record<string, unknown>)[IS_ESM ? "import" : "require"]) ?? pick(c) : undefined);
  const rel = condition(root) ?? (IS_ESM ? pkg.module : undefined) ?? pkg.main ?? "index.js";
  return join(packageJsonPath, "..", rel);
}

/**
 * Picks legacy or new per backend type from the feature flags, loads the backend package by name,
 * caches one instance per (type, implementation), falls back to legacy when the new one cannot start
 * (when `auto_fallback` is on) and records that it did.
 */
export class StorageBackendManager {
  readonly flags: FeatureFlags;
  readonly homeDir: string;
  private configValue: MdmConfig | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly resolveFrom: string[];
  private readonly factories = new Map<string, BackendFactory>();
  private readonly cache = new Map<string, Promise<IStorageBackend>>();
  private readonly fallbackEvents: FallbackEvent[] = [];
  private readonly fallbackListeners = new Set<(event: FallbackEvent) => void>();

  constructor(options: ManagerOptions = {}) {
    this.env = options.env ?? process.env;
    const loaded = options.config ? undefined : loadConfig({ homeDir: options.homeDir, env: this.env });
    this.homeDir = loaded?.homeDir ?? new MdmHome(options.homeDir ?? undefined).root;
    this.configValue = options.config ?? loaded?.config;
    this.flags = options.flags ?? new FeatureFlags({ file: new MdmHome(this.homeDir).flagsFile, env: this.env });
    this.resolveFrom = options.resolveFrom ?? [process.cwd()];
  }

  get config(): MdmConfig {
    return this.configValue as MdmConfig;
  }

  /** Register a factory directly (no package resolution needed). */
  register(factory: BackendFactory): void {
    this.factories.set(`${factory.backendType}:${factory.implementation}`, factory);
  }

  availableBackends(): BackendType[] {
    return [...BACKEND_TYPES];
  }

  /** Which implementation the flags choose for this type (and dataset). */
  implementationFor(backendType: BackendType, datasetName?: string): Implementation {
    this.assertType(backendType);
    return this.flags.implementationFor(backendType, datasetName);
  }

  async getStorageBackend(backendType: BackendType, options: GetBackendOptions = {}): Promise<IStorageBackend> {
    this.assertType(backendType);
    const implementation = options.implementation ?? this.flags.implementationFor(backendType, options.datasetName);
    if (implementation !== "legacy" && implementation !== "new") {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `implementation must be "legacy" or "new", got ${JSON.stringify(implementation)}`);
    }
    if (implementation === "legacy" || options.implementation === "new" || !this.flags.get("auto_fallback")) {
      return this.instance(backendType, implementation);
    }
    try {
      return await this.instance(backendType, "new");
    } catch (error) {
      const event: FallbackEvent = {
        timestamp: new Date().toISOString(),
        backendType,
        datasetName: options.datasetName,
        code: isMdmError(error) ? error.code : ErrorCodes.INTERNAL,
        message: error instanceof Error ? error.message : String(error),
      };
      this.fallbackEvents.push(event);
      for (const listener of this.fallbackListeners) {
        try {
          listener(event);
        } catch {
          // listeners never break the fallback
        }
      }
      return this.instance(backendType, "legacy");
    }
  }

  /** Fallbacks that happened, oldest first. */
  fallbacks(): FallbackEvent[] {
    return [...this.fallbackEvents];
  }

  onFallback(listener: (event: FallbackEvent) => void): () => void {
    this.fallbackListeners.add(listener);
    return () => this.fallbackListeners.delete(listener);
  }

  /** Close every cached backend and forget it. */
  async clearCache(): Promise<void> {
    const pending = [...this.cache.values()];
    this.cache.clear();
    const errors: unknown[] = [];
    for (const p of pending) {
      let backend: IStorageBackend;
      try {
        backend = await p;
      } catch {
        continue; // a backend that never started has nothing to close
      }
      try {
        await backend.close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Load the factory of a backend package (registered, or resolved by package name). */
  /**
   * `<node_modules>/<pkg>/package.json` along Node's lookup paths from each `resolveFrom` directory, rather
   * than resolving `${pkg}/package.json`: a package whose "exports" does not list ./package.json would look absent.
   */
  private installedPackageJson(pkg: string): string | undefined {
    for (const base of this.resolveFrom) {
      const dirs = createRequire(join(base, "noop.js")).resolve.paths(pkg) ?? [];
      const found = dirs.map((dir) => join(dir, pkg, "package.json")).find((file) => existsSync(file));
      if (found) return found;
    }
    return undefined;
  }

  async loadFactory(backendType: BackendType, implementation: Implementation): Promise<BackendFactory> {
    const key = `${backendType}:${implementation}`;
    const registered = this.factories.get(key);
    if (registered) return registered;
    const pkg = BACKEND_PACKAGES[backendType][implementation];
    const packageJson = this.installedPackageJson(pkg);
    if (!packageJson) {
      // The other implementation may be installed: then a flag is the other way out.
      const other: Implementation = implementation === "new" ? "legacy" : "new";
      const otherPkg = BACKEND_PACKAGES[backendType][other];
      const alternative = this.installedPackageJson(otherPkg)
        ? `; the ${other} implementation (${otherPkg}) is installed: to use it, set the feature flag use_new_storage_${backendType} (or use_new_storage) to ${other === "new"} (MDM_FEATURE_USE_NEW_STORAGE_${backendType.toUpperCase()}=${other === "new"}, or featureFlags.set("use_new_storage_${backendType}", ${other === "new"}))`
        : "";
      throw new MdmError(
        ErrorCodes.BACKEND_NOT_INSTALLED,
        `The ${implementation} ${backendType} backend needs the package ${pkg}: install it with "npm install ${pkg}" (or "pnpm add ${pkg}")${alternative}`,
        { details: { package: pkg, backendType, implementation } },
      );
    }
    const entry = entryOf(packageJson);
    let mod: { backendFactory?: BackendFactory };
    try {
      mod = IS_ESM ? await import(pathToFileURL(entry).href) : (createRequire(entry)(entry) as typeof mod);
    } catch (error) {
      throw new MdmError(ErrorCodes.BACKEND_UNAVAILABLE, `The package ${pkg} could not be loaded: ${(error as Error).message}`, {
        cause: error,
        details: { package: pkg },
      });
    }
    const factory = mod.backendFactory;
    if (!factory || typeof factory.create !== "function" || factory.backendType !== backendType || factory.implementation !== implementation) {
      throw new MdmError(ErrorCodes.BACKEND_UNAVAILABLE, `The package ${pkg} does not export a backendFactory for ${key}`);
    }
    this.factories.set(key, factory);
    return factory;
  }

  private instance(backendType: BackendType, implementation: Implementation): Promise<IStorageBackend> {
    const key = `${backendType}:${implementation}`;
    let cached = this.cache.get(key);
    if (!cached) {
      cached = (async () => {
        const factory = await this.loadFactory(backendType, implementation);
        const backend = factory.create({ homeDir: this.homeDir, config: this.config });
        if (!isStorageBackend(backend)) {
          throw new MdmError(ErrorCodes.BACKEND_UNAVAILABLE, `The ${key} factory did not return a storage backend`);
        }
        try {
          await backend.init();
        } catch (error) {
          await backend.close().catch(() => undefined);
          throw error;
        }
        return backend;
      })();
      this.cache.set(key, cached);
      cached.catch(() => {
        if (this.cache.get(key) === cached) this.cache.delete(key);
      });
    }
    const current = cached;
    // A caller may have closed a cached instance itself: never hand out a closed backend.
    return current.then((backend) => {
      if (!backend.closed) return backend;
      if (this.cache.get(key) === current) this.cache.delete(key);
      return this.instance(backendType, implementation);
    });
  }

  private assertType(backendType: string): asserts backendType is BackendType {
    if (!(BACKEND_TYPES as readonly string[]).includes(backendType)) {
      throw new MdmError(
        ErrorCodes.BACKEND_UNAVAILABLE,
        `Unsupported backend type ${JSON.stringify(backendType)}; supported types: ${BACKEND_TYPES.join(", ")}`,
      );
    }
  }
}

let defaultManager: StorageBackendManager | undefined;

/** The process-wide manager (MDM home and flags from the environment). */
export function getDefaultManager(): StorageBackendManager {
  defaultManager ??= new StorageBackendManager();
  return defaultManager;
}

/**
 * `feature_flags` of the original: the process-wide manager's flags (`getDefaultManager().flags`), so
 * `featureFlags.set("use_new_storage", true)` decides what `getStorageBackend` returns next. `set` is a
 * code-level value for this process (highest precedence, not written to feature_flags.yaml).
 */
export const featureFlags = {
  get: <K extends FlagName>(flag: K): FlagValues[K] => getDefaultManager().flags.get(flag),
  set: <K extends FlagName>(flag: K, value: FlagValues[K] | string): void => getDefaultManager().flags.set(flag, value),
  unset: (flag: FlagName): void => getDefaultManager().flags.unset(flag),
  getAll: (): FlagValues => getDefaultManager().flags.getAll(),
  sourceOf: (flag: FlagName) => getDefaultManager().flags.sourceOf(flag),
  reload: (): void => getDefaultManager().flags.reload(),
  onChange: (listener: FlagListener): (() => void) => getDefaultManager().flags.onChange(listener),
};

/** `get_storage_backend(type)` of the original, on the process-wide manager. */
export function getStorageBackend(backendType: BackendType, options: GetBackendOptions = {}): Promise<IStorageBackend> {
  return getDefaultManager().getStorageBackend(backendType, options);
}

/** `clear_storage_cache()` of the original. */
export async function clearStorageCache(): Promise<void> {
  if (defaultManager) await defaultManager.clearCache();
}

import {
  BACKEND_TYPES,
  DatasetLock,
  DatasetRegistry,
  ErrorCodes,
  MdmError,
  MdmHome,
  StorageBackendManager,
  isMdmError,
  loadConfig,
  type BackendFactory,
  type BackendType,
  type IStorageBackend,
  type Implementation,
  type MdmConfig,
  type RegistryEntry,
  type StorageEngine,
} from "@mdm/storage-core";
import { join } from "node:path";
import { UsageError } from "./exit-codes.js";

/**
 * The backend packages, imported only when a command needs that backend type (so `mdm flags list` does not
 * load three database drivers). Literal specifiers: resolved from the CLI's own install, whatever the cwd.
 */
const FACTORY_LOADERS: Record<`${BackendType}:${Implementation}`, () => Promise<{ backendFactory: BackendFactory }>> = {
  "sqlite:new": () => import("@mdm/storage-sqlite"),
  "sqlite:legacy": () => import("@mdm/storage-sqlite-legacy"),
  "duckdb:new": () => import("@mdm/storage-duckdb"),
  "duckdb:legacy": () => import("@mdm/storage-duckdb-legacy"),
  "postgresql:new": () => import("@mdm/storage-postgresql"),
  "postgresql:legacy": () => import("@mdm/storage-postgresql-legacy"),
};

/** A backend type with an optional implementation: `duckdb`, `sqlite:legacy`, `postgresql:new`. */
export interface BackendSpec {
  type: BackendType;
  implementation?: Implementation;
}

export function parseBackendSpec(text: string, option: string): BackendSpec {
  const [type, implementation, ...rest] = String(text).trim().toLowerCase().split(":");
  if (!(BACKEND_TYPES as readonly string[]).includes(type ?? "") || rest.length > 0) {
    throw new UsageError(`${option} must be one of ${BACKEND_TYPES.join(", ")} (optionally with :legacy or :new), got ${JSON.stringify(text)}`);
  }
  if (implementation !== undefined && implementation !== "legacy" && implementation !== "new") {
    throw new UsageError(`${option}: the implementation after ":" must be legacy or new, got ${JSON.stringify(implementation)}`);
  }
  return { type: type as BackendType, implementation: implementation as Implementation | undefined };
}

/** What every command works on: the MDM home, its mdm.yaml, its registry and the backend manager. */
export class CliContext {
  readonly home: MdmHome;
  readonly config: MdmConfig;
  readonly registry: DatasetRegistry;
  readonly manager: StorageBackendManager;
  private readonly loaded = new Set<string>();
  private readonly readers = new Map<string, Promise<IStorageBackend>>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const { config, homeDir } = loadConfig({ env });
    this.config = config;
    this.home = new MdmHome(homeDir, config.paths);
    this.registry = new DatasetRegistry(this.home);
    this.manager = new StorageBackendManager({ homeDir, config, env });
  }

  /**
   * The dataset's lock (`<home>/locks/<name>.lock`): register, remove and migrate take it, so that none
   * of them runs while another works on the same dataset (MDM_LOCKED naming the holder). A stale lock is
   * taken over with a note on stderr.
   */
  lockDataset(name: string, purpose: string): DatasetLock {
    return DatasetLock.acquire(join(this.home.root, "locks"), name, { purpose, onTakeover: (note) => process.stderr.write(`mdm: note: ${note}\n`) });
  }

  /** Secrets that must never reach the terminal. */
  get secrets(): string[] {
    const password = this.config.database.postgresql.password;
    return password ? [password] : [];
  }

  private async loadFactories(type: BackendType): Promise<void> {
    for (const implementation of ["new", "legacy"] as const) {
      const key = `${type}:${implementation}` as const;
      if (this.loaded.has(key)) continue;
      this.loaded.add(key);
      try {
        const mod = await FACTORY_LOADERS[key]();
        this.manager.register(mod.backendFactory);
      } catch {
        // Not installed or not loadable: the manager reports it (naming the package) if this one is chosen.
      }
    }
  }

  /** The backend of a type: the implementation asked for, else the one the feature flags choose for this dataset. */
  async backend(spec: BackendSpec, datasetName?: string): Promise<IStorageBackend> {
    await this.loadFactories(spec.type);
    return this.placed(await this.manager.getStorageBackend(spec.type, { datasetName, implementation: spec.implementation }), datasetName);
  }

  /**
   * The backend, told where the dataset lives when its registry entry says so (`placeDataset`): a
   * PostgreSQL entry's `database:` (or, with `schema_per_dataset`, its `schema:`) is where Python MDM or an
   * earlier prefix put it, not always `{database_prefix}{name}`. An entry of another type, or none, leaves
   * the name's own location. An entry that cannot be read places nothing (the command reads it again and
   * reports it).
   */
  private placed(backend: IStorageBackend, datasetName: string | undefined): IStorageBackend {
    if (datasetName === undefined || backend.backendType !== "postgresql") return backend;
    let entry: RegistryEntry | undefined;
    try {
      entry = this.registry.readIfExists(datasetName);
    } catch {
      return backend;
    }
    backend.placeDataset(datasetName, entry?.database.backend === "postgresql" ? this.registeredPostgresLocation(entry) : null);
    return backend;
  }

  /** Where a PostgreSQL registry entry puts its dataset, for this configuration's layout (MDM_INVALID_CONFIG when the layouts differ). */
  private registeredPostgresLocation(entry: RegistryEntry): string | null {
    const { database, schema } = entry.database;
    const pg = this.config.database.postgresql;
    const file = this.home.registryFile(entry.name);
    if (pg.schema_per_dataset) {
      const home = pg.database ?? "postgres";
      if (schema === undefined) {
        if (database === undefined) return null;
        throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: ${entry.name} is registered as PostgreSQL database ${JSON.stringify(database)}, but database.postgresql.schema_per_dataset is on (one schema per dataset in ${JSON.stringify(home)}); turn it off to read it`, { details: { file, key: "database.database" } });
      }
      if (database !== undefined && String(database) !== home) {
        throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: ${entry.name} is registered in schema ${JSON.stringify(schema)} of database ${JSON.stringify(database)}, but database.postgresql.database is ${JSON.stringify(home)}`, { details: { file, key: "database.database" } });
      }
      return String(schema);
    }
    if (schema !== undefined) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: ${entry.name} is registered in schema ${JSON.stringify(schema)} of database ${JSON.stringify(database)}; set database.postgresql.schema_per_dataset: true (and database: ${JSON.stringify(database)}) to read it`, { details: { file, key: "database.schema" } });
    }
    return database === undefined ? null : String(database);
  }

  /**
   * A backend for reading datasets (info, list, export, a migration's source): DuckDB files are opened
   * read-only, so that several processes can read one file at a time (a migration reading it included);
   * a process that writes it makes a reader wait up to `database.connection_timeout`, then MDM_LOCKED
   * naming that process. Other types: the same as `backend()` (their readers never block one another).
   */
  async readerBackend(spec: BackendSpec, datasetName?: string): Promise<IStorageBackend> {
    if (spec.type !== "duckdb") return this.backend(spec, datasetName);
    const implementation = this.implementationFor(spec, datasetName);
    let pending = this.readers.get(implementation);
    if (!pending) {
      pending = (async () => {
        const factory = await this.factory(spec.type, implementation);
        const duckdb = { ...this.config.database.duckdb, access_mode: "READ_ONLY" as const };
        const backend = factory.create({ homeDir: this.home.root, config: { ...this.config, database: { ...this.config.database, duckdb } } });
        await backend.init();
        return backend;
      })();
      this.readers.set(implementation, pending);
      pending.catch(() => this.readers.delete(implementation));
    }
    return pending;
  }

  /** The factory of one implementation (to build an instance outside the manager's cache). */
  async factory(type: BackendType, implementation: Implementation): Promise<BackendFactory> {
    await this.loadFactories(type);
    return this.manager.loadFactory(type, implementation);
  }

  /**
   * Whether a migration copies a dataset of this type with the new implementation when none is named and the
   * flags choose legacy: yes when the new package is installed and it keeps the dataset where legacy will
   * serve it (legacy and new share one storage layout, except PostgreSQL with `schema_per_dataset`, which only
   * the new backend offers). `undefined` leaves the choice to the flags (and their auto_fallback), with the
   * reason when the new one was passed over.
   */
  async fastestImplementation(type: BackendType, datasetName: string): Promise<{ implementation?: "new"; reason?: string }> {
    if (this.implementationFor({ type }, datasetName) === "new") return {};
    if (type === "postgresql" && this.config.database.postgresql.schema_per_dataset) {
      return { reason: "database.postgresql.schema_per_dataset is on, a layout the legacy backend does not share" };
    }
    try {
      await this.factory(type, "new");
    } catch {
      return { reason: `the new ${type} backend is not installed` };
    }
    return { implementation: "new" };
  }

  /** Which implementation a type resolves to for a dataset when none is given. */
  implementationFor(spec: BackendSpec, datasetName?: string): Implementation {
    return spec.implementation ?? this.manager.implementationFor(spec.type, datasetName);
  }

  /**
   * The registry entry of a dataset, checked (core's `checkRegistryEntry`): MDM_DATASET_NOT_FOUND when it
   * is not registered, MDM_INVALID_CONFIG naming the file and the key when the entry is invalid.
   */
  entry(name: string): RegistryEntry {
    return this.registry.read(name);
  }

  /**
   * Run `use` with a dataset's registry entry. Another process may re-register the dataset in another backend
   * (`register --force`) or migrate it with `--remove-source` between the moment the entry is read and the
   * moment its database is opened, and drop the copy the entry named: when `use` fails with
   * MDM_DATABASE_NOT_FOUND and the entry now names another database, `use` runs again with the new entry
   * (three attempts at most; an unchanged entry means the database really is missing).
   */
  async withEntry<T>(name: string, use: (entry: RegistryEntry) => Promise<T>): Promise<T> {
    let entry = this.entry(name);
    for (let attempt = 1; ; attempt++) {
      try {
        return await use(entry);
      } catch (error) {
        if (attempt >= 3 || !isMdmError(error, ErrorCodes.DATABASE_NOT_FOUND)) throw error;
        const now = this.entry(name);
        if (JSON.stringify(now.database) === JSON.stringify(entry.database)) throw error;
        entry = now;
      }
    }
  }

  /**
   * The reader backend of a registered dataset (see readerBackend) and its engine: MDM_DATABASE_NOT_FOUND,
   * naming where it should be, when the entry names a database that is not there.
   */
  async openRegistered(entry: RegistryEntry, name: string, implementation?: Implementation): Promise<{ backend: IStorageBackend; engine: StorageEngine }> {
    const backend = await this.readerBackend({ type: entry.database.backend, implementation }, name);
    if (!(await backend.datasetExists(name))) {
      throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Dataset ${name} is registered but its ${entry.database.backend} database is missing (${this.location(backend, name)})`);
    }
    return { backend, engine: await backend.getDatasetEngine(name) };
  }

  /** Where a dataset lives, for people: a file path, or a PostgreSQL URL without password. */
  location(backend: IStorageBackend, name: string): string {
    const path = backend.getDatabasePath(name);
    if (backend.backendType !== "postgresql") return path;
    const pg = this.config.database.postgresql;
    const user = pg.user ? `${encodeURIComponent(pg.user)}@` : "";
    const where = pg.schema_per_dataset ? `${pg.database ?? "postgres"}?schema=${path}` : path;
    return `postgresql://${user}${pg.host}:${pg.port}/${where}`;
  }

  /** The `database` section of a registry entry for a dataset in this backend (never a password). */
  registryDatabase(backend: IStorageBackend, name: string): RegistryEntry["database"] {
    const path = backend.getDatabasePath(name);
    if (backend.backendType !== "postgresql") return { backend: backend.backendType, path };
    const pg = this.config.database.postgresql;
    const section: RegistryEntry["database"] = { backend: "postgresql", host: pg.host, port: pg.port };
    if (pg.user) section.user = pg.user;
    if (pg.schema_per_dataset) {
      section.database = pg.database ?? "postgres";
      section.schema = path;
    } else section.database = path;
    return section;
  }

  async close(): Promise<void> {
    for (const pending of this.readers.values()) await (await pending.catch(() => undefined))?.close().catch(() => undefined);
    this.readers.clear();
    await this.manager.clearCache().catch(() => undefined);
  }
}

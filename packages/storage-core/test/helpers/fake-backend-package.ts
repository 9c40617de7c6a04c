import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

let coreEntry: string | undefined;

/** The built ESM entry of core that fake packages import, like any backend package would (see coreDist()). */
export function useCoreEntry(esmEntry: string): void {
  coreEntry = esmEntry;
}

export interface FakePackageOptions {
  /** e.g. "@mdm/storage-sqlite" */
  packageName: string;
  backendType: "sqlite" | "duckdb" | "postgresql";
  implementation: "legacy" | "new";
  /** When set, `init()` throws an Error with this message (a backend that cannot start). */
  failInitWith?: string;
  /** Export something other than a valid backendFactory. */
  brokenExport?: "none" | "wrong-type" | "not-a-backend";
  /** package.json fields replacing the default exports map (e.g. `{ exports: "./index.js" }`, `{ main: "index.js" }`). */
  entryFields?: Record<string, unknown>;
}

/**
 * Write a real backend package into `<root>/node_modules/<packageName>`: a package.json with an
 * exports map and an ESM file exporting `backendFactory`, whose backend extends core's
 * BaseStorageBackend over in-memory maps (enough for init, getEngine, databases and close).
 */
export function writeFakeBackendPackage(root: string, options: FakePackageOptions): string {
  const dir = join(root, "node_modules", ...options.packageName.split("/"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: options.packageName,
        version: "0.0.0-test",
        type: "module",
        ...(options.entryFields ?? { exports: { ".": { import: "./index.js", require: "./index.js" }, "./package.json": "./package.json" } }),
      },
      null,
      2,
    ),
  );
  const factoryExport = (() => {
    switch (options.brokenExport) {
      case "none":
        return "export const somethingElse = 1;";
      case "wrong-type":
        return `export const backendFactory = { backendType: "duckdb", implementation: ${JSON.stringify(options.implementation)}, create: () => null };`;
      case "not-a-backend":
        return `export const backendFactory = { backendType: ${JSON.stringify(options.backendType)}, implementation: ${JSON.stringify(options.implementation)}, create: () => ({ close: async () => {} }) };`;
      default:
        return `export const backendFactory = {
  backendType: ${JSON.stringify(options.backendType)},
  implementation: ${JSON.stringify(options.implementation)},
  create: ({ homeDir, config }) => new MemoryBackend(homeDir, config),
};`;
    }
  })();
  if (!coreEntry) throw new Error("call useCoreEntry((await coreDist()).esm) first");
  const source = `import { BaseStorageBackend, MdmError, ErrorCodes } from ${JSON.stringify(pathToFileURL(coreEntry).href)};

export const created = [];

/** A backend over in-memory maps; a database is a Map of table name -> { columns, rows }. */
export class MemoryBackend extends BaseStorageBackend {
  backendType = ${JSON.stringify(options.backendType)};
  implementation = ${JSON.stringify(options.implementation)};
  capabilities = {
    values: { nan: true, infinity: true, negativeZero: true, nulInText: true, nulInJson: true, maxDecimalPrecision: Infinity },
    sql: false, concurrentReads: true, serializedWrites: true, fileImportExport: [], metrics: ${options.implementation === "new"},
  };
  databases = new Map();
  initCalls = 0;
  closedEngines = 0;

  constructor(homeDir, config) {
    super({});
    this.homeDir = homeDir;
    this.config = config;
    created.push(this);
  }

  async _init() {
    this.initCalls++;
    ${options.failInitWith ? `throw new Error(${JSON.stringify(options.failInitWith)});` : ""}
  }
  _resolveDatabasePath(name) { return "mem:" + name; }
  _normalizeDatabasePath(path) { return String(path); }
  async _databaseExists(path) { return this.databases.has(path); }
  async _createDatabase(path) { this.databases.set(path, new Map()); }
  async _dropDatabase(path) { this.databases.delete(path); }
  async _listDatasetNames() { return [...this.databases.keys()].map((p) => p.slice(4)); }
  async _openEngine(path) {
    if (!this.databases.has(path)) this.databases.set(path, new Map());
    return { path, tables: this.databases.get(path) };
  }
  async _closeEngine() { this.closedEngines++; }
  async _acquire(engine) { return engine; }
  async _release() {}
  _rawConnection(engine) { return engine.tables; }
  async _listTables(s) { return [...s.tables.keys()]; }
  async _describeTable(s, t) { return s.tables.get(t)?.columns; }
  async _createTable(s, t, columns) { s.tables.set(t, { columns, rows: [] }); }
  async _dropTable(s, t) { s.tables.delete(t); }
  async _insertRows(s, t, _c, rows) { s.tables.get(t).rows.push(...rows); }
  async *_streamSelect(s, plan) {
    const table = s.tables.get(plan.table);
    const idx = plan.columns.map((c) => table.columns.findIndex((x) => x.name === c.name));
    yield table.rows.map((r) => idx.map((i) => r[i]));
  }
  async _begin() {}
  async _commit() {}
  async _rollback() {}
  async _readMetadata() { return []; }
  async _writeMetadata() {}
  async _query() { throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "no SQL here"); }
  async _execute() { throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, "no SQL here"); }
  _placeholder() { return "?"; }
  _mapError(error, context) { return new MdmError(ErrorCodes.CONNECTION_FAILED, context + ": " + (error && error.message), { cause: error }); }
}

${factoryExport}
`;
  writeFileSync(join(dir, "index.js"), source);
  return dir;
}

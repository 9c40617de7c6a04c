import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome, type IStorageBackend } from "@mdm/storage-core";
import { backendOfType, cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

const pg = postgresEnv();
const pgSkip = await postgresAvailable();

/** The `_metadata` rows as stored (`key` -> `value` text), what Python MDM's `get_metadata` reads. */
async function storedMetadata(backend: IStorageBackend, name: string): Promise<Record<string, string>> {
  const engine = await backend.getDatasetEngine(name);
  const table = await backend.readTable("_metadata", { engine });
  return Object.fromEntries(table.rows.map((r) => [String(r.key), String(r.value)]));
}

/** Python MDM beside us: `_metadata` values written as it writes them, and its registry's PostgreSQL `database:` honoured. */
describe.skipIf(pgSkip)("beside Python MDM", () => {
  let home: string;
  let csv: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, { ...pg.env, ...extra });

  beforeAll(() => {
    home = tempDir("python-beside");
    csv = join(home, "sales.csv");
    writeFileSync(csv, `id,amount,region\n${Array.from({ length: 5000 }, (_, i) => `${i},${(i * 1.25).toFixed(2)},${["north", "south"][i % 2]}`).join("\n")}\n`);
  });
  afterAll(async () => {
    await dropPostgresDatabases(pg.config);
    await dropPostgresDatabases({ ...pg.config, database_prefix: `${pg.prefix}py_` });
    removeDir(home);
  });

  it("_metadata holds a string as itself (as Python's str() writes it), through registration and every migration", async () => {
    // No flag set: registered by the legacy SQLite backend.
    const r = await mdm(["dataset", "register", "meta", csv, "--id-columns", "id"], env());
    expect(r.code, r.stderr).toBe(0);
    const check = async (type: string) => {
      const backend = await backendOfType(type, home, pg.config);
      try {
        const stored = await storedMetadata(backend, "meta");
        expect(stored.source).toBe(csv);
        expect(stored.name).toBe("meta");
        expect(stored.registered_with).toMatch(/^sqlite:/);
        expect(stored.id_columns).toBe('["id"]');
        expect(stored.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
        // And our own reader gives back the values, not their text.
        const metadata = await backend.getMetadata("meta");
        expect(metadata.source).toBe(csv);
        expect(metadata.id_columns).toEqual(["id"]);
        return stored;
      } finally {
        await backend.close();
      }
    };
    await check("sqlite");
    for (const to of ["duckdb", "postgresql", "sqlite"]) {
      const m = await mdm(["migrate", "meta", "--to", to, "--remove-source"], env());
      expect(m.code, m.stderr).toBe(0);
      const stored = await check(to);
      expect(stored.migrated_to).toMatch(new RegExp(`^${to}:`));
      expect(stored.migration_date).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  }, 180_000);

  it("a PostgreSQL dataset registered under another database name (Python's hard-coded mdm_ prefix) is found, read, exported and migrated", async () => {
    // Registered with one prefix, then used with another: what Python MDM's registrar leaves (`mdm_{name}`
    // whatever database_prefix says).
    const pythonPrefix = `${pg.prefix}py_`;
    const r = await mdm(["dataset", "register", "elsewhere", csv, "--backend", "postgresql"], env({ MDM_DATABASE_POSTGRESQL_DATABASE_PREFIX: pythonPrefix }));
    expect(r.code, r.stderr).toBe(0);
    const registry = new DatasetRegistry(new MdmHome(home));
    expect(registry.read("elsewhere").database.database).toBe(`${pythonPrefix}elsewhere`);

    const list = await mdm(["dataset", "list", "--json"], env());
    expect(list.code, list.stderr).toBe(0);
    const item = (JSON.parse(list.stdout) as Array<{ name: string; status: string; rows: number; location: string }>).find((d) => d.name === "elsewhere");
    expect(item?.status).toBe("ok");
    expect(item?.rows).toBe(5000);
    expect(item?.location).toContain(`/${pythonPrefix}elsewhere`);

    const info = await mdm(["dataset", "info", "elsewhere", "--json"], env());
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain(`${pythonPrefix}elsewhere`);

    const out = join(home, "exported");
    const e = await mdm(["dataset", "export", "elsewhere", "--output", out], env());
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(join(out, "data.csv"), "utf8").trim().split("\n")).toHaveLength(5001);

    const m = await mdm(["migrate", "elsewhere", "--to", "duckdb", "--remove-source"], env());
    expect(m.code, m.stderr).toBe(0);
    expect(registry.read("elsewhere").database.backend).toBe("duckdb");
    // --remove-source dropped the database the entry named, not one the prefix would give.
    const backend = await backendOfType("postgresql", home, { ...pg.config, database_prefix: pythonPrefix });
    try {
      expect(await backend.datasetExists("elsewhere")).toBe(false);
    } finally {
      await backend.close();
    }
  }, 180_000);

  it("an entry in a schema while schema_per_dataset is off is refused naming the file and the setting", async () => {
    const registry = new DatasetRegistry(new MdmHome(home));
    const file = new MdmHome(home).registryFile("inschema");
    writeFileSync(file, `name: inschema\ndatabase:\n  backend: postgresql\n  database: analytics\n  schema: mdm_inschema\ntables:\n  data: data\n`);
    expect(registry.exists("inschema")).toBe(true);
    const info = await mdm(["dataset", "info", "inschema", "--json"], env());
    expect(info.code).not.toBe(0);
    const error = (JSON.parse(info.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("MDM_INVALID_CONFIG");
    expect(error.message).toContain(file);
    expect(error.message).toContain("schema_per_dataset");
    removeDir(file);
  }, 60_000);
});

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { DatasetRegistry, ErrorCodes, MdmHome, defaultConfig, type RegistryEntry } from "../src/index.js";
import { tempDir } from "./helpers/temp-dir.js";
import { codeOf } from "./helpers/error-code.js";

describe("MdmHome paths (Python MDM's layout)", () => {
  test("datasets/{name}/{name}.sqlite|.duckdb and config/datasets/{name}.yaml", () => {
    const root = tempDir();
    const home = new MdmHome(root);
    expect(home.root).toBe(root);
    expect(home.configFile).toBe(join(root, "mdm.yaml"));
    expect(home.flagsFile).toBe(join(root, "feature_flags.yaml"));
    expect(home.datasetDir("Iris")).toBe(join(root, "datasets", "iris"));
    expect(home.databaseFile("iris", "sqlite")).toBe(join(root, "datasets", "iris", "iris.sqlite"));
    expect(home.databaseFile(" Titanic ", "duckdb")).toBe(join(root, "datasets", "titanic", "titanic.duckdb"));
    expect(home.registryFile("iris")).toBe(join(root, "config", "datasets", "iris.yaml"));
  });

  test("paths from mdm.yaml: relative to the home, or absolute", () => {
    const root = tempDir();
    const elsewhere = tempDir();
    const home = new MdmHome(root, { ...defaultConfig().paths, datasets_path: "data/", configs_path: elsewhere });
    expect(home.databaseFile("x", "sqlite")).toBe(join(root, "data", "x", "x.sqlite"));
    expect(home.registryFile("x")).toBe(join(elsewhere, "x.yaml"));
    expect(home.datasetsDir).toBe(join(root, "data"));
    expect(new MdmHome(root).configsDir).toBe(join(root, "config", "datasets"));
  });

  test("a hostile dataset name never becomes a path", () => {
    const home = new MdmHome(tempDir());
    for (const name of ["../x", "/abs", "a/b", ".", "", "x\0y"]) {
      expect(codeOf(() => home.databaseFile(name, "sqlite"))).toBe(ErrorCodes.INVALID_NAME);
      expect(codeOf(() => home.registryFile(name))).toBe(ErrorCodes.INVALID_NAME);
      expect(codeOf(() => home.datasetDir(name))).toBe(ErrorCodes.INVALID_NAME);
    }
  });

  test("defaults to MDM_HOME_DIR", () => {
    const root = tempDir();
    const saved = process.env.MDM_HOME_DIR;
    process.env.MDM_HOME_DIR = root;
    try {
      expect(new MdmHome().root).toBe(root);
    } finally {
      if (saved === undefined) delete process.env.MDM_HOME_DIR;
      else process.env.MDM_HOME_DIR = saved;
    }
  });
});

function entry(name: string, extra: Partial<RegistryEntry> = {}): RegistryEntry {
  return { name, display_name: name, database: { backend: "sqlite", path: `/data/${name}.sqlite` }, tables: { train: "train" }, target_column: "y", ...extra };
}

describe("DatasetRegistry", () => {
  test("write, read, list, exists, remove", () => {
    const home = new MdmHome(tempDir());
    const registry = new DatasetRegistry(home);
    expect(registry.list()).toEqual([]);
    registry.write(entry("Titanic"));
    registry.write(entry("iris", { description: "flowers" }));
    expect(registry.list()).toEqual(["iris", "titanic"]);
    expect(registry.exists("titanic")).toBe(true);
    expect(registry.exists("TITANIC")).toBe(true);
    const read = registry.read("titanic");
    expect(read.name).toBe("titanic"); // normalised on write
    expect(read.database).toEqual({ backend: "sqlite", path: "/data/Titanic.sqlite" });
    expect(read.tables).toEqual({ train: "train" });
    expect(registry.read("iris").description).toBe("flowers");
    // A Python MDM reader sees plain YAML.
    const file = home.registryFile("iris");
    expect(parseYaml(readFileSync(file, "utf8"))).toMatchObject({ name: "iris", database: { backend: "sqlite" } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.tmp-${process.pid}`)).toBe(false);
    registry.remove("iris");
    expect(registry.exists("iris")).toBe(false);
    expect(registry.list()).toEqual(["titanic"]);
    registry.remove("iris"); // removing twice is harmless
  });

  test("list() skips files whose names are not dataset names", () => {
    const home = new MdmHome(tempDir());
    const registry = new DatasetRegistry(home);
    registry.write(entry("good"));
    writeFileSync(join(home.configsDir, "Bad Name.yaml"), "name: x\n");
    writeFileSync(join(home.configsDir, "notes.txt"), "x");
    expect(registry.list()).toEqual(["good"]);
  });

  test("reading an unknown dataset is MDM_DATASET_NOT_FOUND", () => {
    const registry = new DatasetRegistry(new MdmHome(tempDir()));
    expect(codeOf(() => registry.read("missing"))).toBe(ErrorCodes.DATASET_NOT_FOUND);
  });

  test("a broken registry file is MDM_INVALID_CONFIG", () => {
    const home = new MdmHome(tempDir());
    mkdirSync(home.configsDir, { recursive: true });
    const registry = new DatasetRegistry(home);
    writeFileSync(home.registryFile("a"), "name: [\n");
    expect(codeOf(() => registry.read("a"))).toBe(ErrorCodes.INVALID_CONFIG);
    writeFileSync(home.registryFile("b"), "just text\n");
    expect(codeOf(() => registry.read("b"))).toBe(ErrorCodes.INVALID_CONFIG);
    writeFileSync(home.registryFile("c"), "name: c\n");
    expect(codeOf(() => registry.read("c"))).toBe(ErrorCodes.INVALID_CONFIG);
  });

  test("refuses to write a password anywhere in an entry, and writes nothing", () => {
    const home = new MdmHome(tempDir());
    const registry = new DatasetRegistry(home);
    const withPassword = entry("pg", { database: { backend: "postgresql", host: "h", user: "u", password: "s3cret" } });
    expect(codeOf(() => registry.write(withPassword))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => registry.write(entry("pg2", { extra: { nested: { db_pass: "x" } } })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => registry.write(entry("pg4", { database: { backend: "postgresql", passwd: "x" } })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => registry.write(entry("pg5", { database: { backend: "postgresql", url: "postgresql://u:s3cret@h/db" } })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => registry.write(entry("pg6", { database: { backend: "postgresql", dsn: "host=h password=s3cret" } })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(registry.list()).toEqual([]);
    // A URL without a password is fine.
    registry.write(entry("pg7", { database: { backend: "postgresql", url: "postgresql://u@h/db" } }));
    expect(registry.read("pg7").database.url).toBe("postgresql://u@h/db");
    registry.remove("pg7");
    expect(registry.exists("pg")).toBe(false);
    expect(registry.exists("pg2")).toBe(false);
    try {
      registry.write(withPassword);
    } catch (error) {
      expect((error as Error).message).not.toContain("s3cret");
    }
    // An empty or null password is not a secret: allowed (Python MDM writes `password: null`).
    registry.write(entry("pg3", { database: { backend: "postgresql", host: "h", password: null } }));
    expect(registry.read("pg3").database.host).toBe("h");
  });

  test("a hostile name is refused before anything is written", () => {
    const home = new MdmHome(tempDir());
    const registry = new DatasetRegistry(home);
    expect(codeOf(() => registry.write(entry("../escape")))).toBe(ErrorCodes.INVALID_NAME);
    expect(existsSync(home.configsDir)).toBe(false);
  });
});

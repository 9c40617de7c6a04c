import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { DatasetRegistry, ErrorCodes, MdmHome, defaultConfig, type RegistryEntry } from "../src/index.js";
import { tempDir } from "./helpers/temp-dir.js";
import { codeOf, errorOf } from "./helpers/error-code.js";

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
  return { name, display_name: name, database: { backend: "sqlite", path: `datasets/${name.toLowerCase()}/${name.toLowerCase()}.sqlite` }, tables: { train: "train" }, target_column: "y", ...extra };
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
    expect(read.database).toEqual({ backend: "sqlite", path: "datasets/titanic/titanic.sqlite" });
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

describe("a registry entry is checked when it is read", () => {
  function homeWithEntry(file: string, yaml: string): { home: MdmHome; registry: DatasetRegistry } {
    const home = new MdmHome(tempDir());
    mkdirSync(home.configsDir, { recursive: true });
    writeFileSync(join(home.configsDir, `${file}.yaml`), yaml);
    return { home, registry: new DatasetRegistry(home) };
  }

  test.each([
    ["a name that is another dataset's", "name: other\ndatabase: { backend: sqlite }\n", "name", /name is "other" but the file is big\.yaml: an entry's name must be its file's name/],
    ["a name that leaves the home", "name: ../../escape\ndatabase: { backend: sqlite }\n", "name", /name "\.\.\/\.\.\/escape" is not a dataset name/],
    ["a name that is a number", "name: 12345\ndatabase: { backend: sqlite }\n", "name", /name must be the text "big" \(the file's name\), got the number 12345$/],
    ["no name", "database: { backend: sqlite }\n", "name", /name is missing/],
    ["an unknown backend", "name: big\ndatabase: { backend: mongodb }\n", "database.backend", /database\.backend must be one of sqlite, duckdb, postgresql, got "mongodb"$/],
    ["no backend", "name: big\ndatabase: { path: datasets/big/big.sqlite }\n", "database.backend", /got null/],
    ["a database that is not a mapping", "name: big\ndatabase: sqlite\n", "database", /database must be a mapping/],
    ["a path outside the home", "name: big\ndatabase: { backend: sqlite, path: /etc/passwd }\n", "database.path", /"\/etc\/passwd" is outside the dataset's directory/],
    ["a path into another dataset", "name: big\ndatabase: { backend: sqlite, path: datasets/other/other.sqlite }\n", "database.path", /outside the dataset's directory/],
    ["a relative path that climbs out", "name: big\ndatabase: { backend: sqlite, path: datasets/big/../../../x.sqlite }\n", "database.path", /outside/],
    ["a port that is text", "name: big\ndatabase: { backend: postgresql, port: five }\n", "database.port", /from 1 to 65535/],
    ["id_columns that are not a list", "name: big\ndatabase: { backend: sqlite }\nid_columns: PassengerId\n", "id_columns", /a list of text/],
    ["tables that are a list", "name: big\ndatabase: { backend: sqlite }\ntables: [train]\n", "tables", /a mapping of table names/],
    ["a target column that is a mapping", "name: big\ndatabase: { backend: sqlite }\ntarget_column: { a: 1 }\n", "target_column", /must be text/],
  ])("%s is MDM_INVALID_CONFIG naming the file and the key", (_label, yaml, key, message) => {
    const { home, registry } = homeWithEntry("big", yaml);
    const error = errorOf(() => registry.read("big"));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.details).toEqual({ file: home.registryFile("big"), key, dataset: "big" });
    expect(error.message.startsWith(`${home.registryFile("big")}: ${key} `)).toBe(true);
    expect(error.message).toMatch(message);
    expect(codeOf(() => registry.readIfExists("big"))).toBe(ErrorCodes.INVALID_CONFIG);
  });

  test.each([
    ["a list", "- name: big\n"],
    ["a scalar", "big\n"],
    ["nothing", ""],
  ])("YAML that is %s is MDM_INVALID_CONFIG naming the file", (_label, yaml) => {
    const { home, registry } = homeWithEntry("big", yaml);
    const error = errorOf(() => registry.read("big"));
    expect(error.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(error.details).toEqual({ file: home.registryFile("big"), dataset: "big" });
    expect(error.message).toMatch(/does not hold a mapping/);
  });

  test("what Python MDM writes is accepted: its backend settings, a PostgreSQL user of null, ~ and absolute paths, keys we do not read", () => {
    const { home, registry } = homeWithEntry("titanic", "");
    writeFileSync(
      home.registryFile("titanic"),
      [
        "name: Titanic",
        "display_name: Titanic",
        "description: ''",
        "database:",
        "  backend: SQLite",
        "  journal_mode: WAL",
        "  cache_size: -64000",
        `  path: ${join(home.root, "datasets", "titanic", "titanic.sqlite")}`,
        "tables: { train: train, test: test }",
        "feature_tables: {}",
        "problem_type: binary_classification",
        "target_column: Survived",
        "id_columns: [PassengerId]",
        "tags: []",
        "version: 1.0.0",
        "registered_at: 2025-07-01 10:00:00.123456+00:00",
        "metadata: { statistics: { row_count: 891 } }",
        "",
      ].join("\n"),
    );
    const read = registry.read("titanic");
    expect(read.name).toBe("titanic");
    expect(read.database.backend).toBe("sqlite");
    expect(read.database.journal_mode).toBe("WAL");
    expect(read.metadata).toEqual({ statistics: { row_count: 891 } });
    writeFileSync(home.registryFile("pg"), "name: pg\ndatabase: { backend: postgresql, host: localhost, port: 5432, user: null, password: null, database: mdm_pg, database_prefix: mdm_ }\n");
    expect(registry.read("pg").database.database).toBe("mdm_pg");
  });

  test("a path through ~ or a symbolic link to the home is inside it", () => {
    const real = tempDir();
    const link = join(tempDir(), "home-link");
    symlinkSync(real, link);
    const home = new MdmHome(link);
    mkdirSync(join(real, "datasets", "x"), { recursive: true });
    writeFileSync(join(real, "datasets", "x", "x.sqlite"), "");
    mkdirSync(home.configsDir, { recursive: true });
    writeFileSync(home.registryFile("x"), `name: x\ndatabase: { backend: sqlite, path: ${join(real, "datasets", "x", "x.sqlite")} }\n`);
    expect(new DatasetRegistry(home).read("x").database.path).toBe(join(real, "datasets", "x", "x.sqlite"));
    // "~" is the user's home directory: a path there is not inside this MDM home.
    writeFileSync(home.registryFile("x"), "name: x\ndatabase: { backend: sqlite, path: ~/x.sqlite }\n");
    expect(errorOf(() => new DatasetRegistry(home).read("x")).message).toContain(`"~/x.sqlite" is outside`);
    expect(homedir()).not.toBe(real);
  });

  test("reading an invalid entry changes nothing on disk", () => {
    const { home, registry } = homeWithEntry("big", "name: other\ndatabase: { backend: sqlite }\n");
    const before = readFileSync(home.registryFile("big"), "utf8");
    expect(codeOf(() => registry.read("big"))).toBe(ErrorCodes.INVALID_CONFIG);
    expect(readdirSync(home.configsDir)).toEqual(["big.yaml"]);
    expect(readFileSync(home.registryFile("big"), "utf8")).toBe(before);
  });
});

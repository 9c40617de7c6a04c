import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DATASET, cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

describe("mdm flags", () => {
  let home: string;
  const env = (extra: Record<string, string> = {}) => cleanEnv(home, extra);

  beforeAll(() => {
    home = tempDir("flags-home");
  });
  afterAll(() => removeDir(home));

  it("list shows every flag with its value and source", async () => {
    const r = await mdm(["flags", "list", "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      use_new_storage: { value: false, source: "default" },
      use_new_storage_sqlite: { value: null, source: "default" },
      use_new_storage_duckdb: { value: null, source: "default" },
      use_new_storage_postgresql: { value: null, source: "default" },
      rollout_percentage: { value: 0, source: "default" },
      auto_fallback: { value: true, source: "default" },
    });
    const human = await mdm(["flags", "list"], env());
    expect(human.stdout).toMatch(/use_new_storage\s+│ false\s+│ default/);
  });

  it("set writes feature_flags.yaml, get reads it, the environment wins, unset removes it", async () => {
    const set = await mdm(["flags", "set", "use_new_storage_sqlite", "true"], env());
    expect(set.code).toBe(0);
    expect(readFileSync(join(home, "feature_flags.yaml"), "utf8")).toBe("use_new_storage_sqlite: true\n");
    expect((await mdm(["flags", "get", "use_new_storage_sqlite"], env())).stdout.trim()).toBe("true");
    expect(JSON.parse((await mdm(["flags", "get", "use-new-storage-sqlite", "--json"], env())).stdout)).toEqual({ flag: "use_new_storage_sqlite", value: true, source: "file" });
    const overridden = await mdm(["flags", "get", "use_new_storage_sqlite", "--json"], env({ MDM_FEATURE_USE_NEW_STORAGE_SQLITE: "false" }));
    expect(JSON.parse(overridden.stdout)).toEqual({ flag: "use_new_storage_sqlite", value: false, source: "env" });
    const noted = await mdm(["flags", "set", "rollout_percentage", "25"], env({ MDM_FEATURE_ROLLOUT_PERCENTAGE: "50" }));
    expect(noted.code).toBe(0);
    expect(noted.stderr).toMatch(/MDM_FEATURE_ROLLOUT_PERCENTAGE is set in the environment and takes precedence/);
    expect((await mdm(["flags", "get", "rollout_percentage"], env())).stdout.trim()).toBe("25");
    const unset = await mdm(["flags", "unset", "rollout_percentage"], env());
    expect(unset.code).toBe(0);
    expect(readFileSync(join(home, "feature_flags.yaml"), "utf8")).toBe("use_new_storage_sqlite: true\n");
  });

  it("the flags choose the implementation a registration uses", async () => {
    const viaFile = await mdm(["dataset", "register", "one", join(EXAMPLE_DATASET, "test.csv"), "--json"], env());
    expect(JSON.parse(viaFile.stdout).implementation).toBe("new");
    expect((await mdm(["flags", "set", "use_new_storage_sqlite", "null"], env())).code).toBe(0);
    const legacy = await mdm(["dataset", "info", "one", "--json"], env());
    expect(JSON.parse(legacy.stdout).implementation).toBe("legacy");
    const viaEnv = await mdm(["dataset", "info", "one", "--json"], env({ MDM_FEATURE_USE_NEW_STORAGE: "true" }));
    expect(JSON.parse(viaEnv.stdout).implementation).toBe("new");
  });

  it("refuses unknown flags, bad values and a broken flags file", async () => {
    expect((await mdm(["flags", "set", "use_new_storage", "perhaps"], env())).code).toBe(2);
    expect((await mdm(["flags", "set", "rollout_percentage", "150"], env())).code).toBe(2);
    expect((await mdm(["flags", "unset", "nope"], env())).code).toBe(2);
    writeFileSync(join(home, "feature_flags.yaml"), "use_new_storage: [oops\n");
    const broken = await mdm(["flags", "list"], env());
    expect(broken.code).toBe(10);
    expect(broken.stderr).toMatch(/^mdm: error: .*feature_flags\.yaml is not valid YAML \[MDM_INVALID_CONFIG\]\n$/);
  });
});

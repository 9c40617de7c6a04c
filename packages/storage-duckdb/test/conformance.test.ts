import { defineConformanceSuite } from "@mdm/testing/vitest";
import { DuckdbStorageBackend } from "../src/index.js";
import { tempHome } from "./helpers.js";

defineConformanceSuite({
  name: "duckdb (new)",
  createBackend: async () => {
    const home = tempHome("mdm-duckdb-conformance-");
    const backend = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB", threads: 2 } });
    return { backend, cleanup: async () => home.cleanup() };
  },
});

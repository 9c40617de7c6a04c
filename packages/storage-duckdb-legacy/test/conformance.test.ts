import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConformanceSuite } from "@mdm/testing/vitest";
import { LegacyDuckdbStorageBackend } from "../src/index.js";

defineConformanceSuite({
  name: "duckdb (legacy)",
  createBackend: async () => {
    const home = mkdtempSync(join(tmpdir(), "mdm-duckdb-legacy-conformance-"));
    const backend = new LegacyDuckdbStorageBackend({ homeDir: home, duckdb: { memoryLimit: "1GB", threads: 2 } });
    return { backend, cleanup: async () => rmSync(home, { recursive: true, force: true }) };
  },
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConformanceSuite } from "@mdm/testing/vitest";
import { LegacySqliteStorageBackend } from "../src/index.js";

// The shared conformance suite, each check on a fresh MDM home in the temp directory. No skips.
defineConformanceSuite({
  name: "sqlite (legacy)",
  createBackend: () => {
    const home = mkdtempSync(join(tmpdir(), "mdm-conformance-"));
    return { backend: new LegacySqliteStorageBackend({ homeDir: home }), cleanup: () => rmSync(home, { recursive: true, force: true }) };
  },
});

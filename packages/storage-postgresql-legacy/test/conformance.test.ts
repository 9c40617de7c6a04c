import { defineConformanceSuite } from "@mdm/testing/vitest";
import { describe, it } from "vitest";
import { LegacyPostgresqlStorageBackend } from "../src/index.js";
import { dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "../../storage-postgresql/test/support/server.js";

if (serverAvailable) {
  defineConformanceSuite({
    name: "postgresql (legacy)",
    createBackend: async () => {
      const prefix = uniquePrefix();
      const backend = new LegacyPostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }) });
      return { backend, cleanup: () => dropPrefixedDatabases(prefix) };
    },
  });
} else {
  describe("conformance: postgresql (legacy)", () => it.skip("no PostgreSQL server (see the printed reason)", () => undefined));
}

import { defineConformanceSuite } from "@mdm/testing/vitest";
import { describe, it } from "vitest";
import { PostgresqlStorageBackend } from "../src/index.js";
import { createScratchDatabase, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

if (serverAvailable) {
  defineConformanceSuite({
    name: "postgresql (new), database per dataset",
    createBackend: async () => {
      const prefix = uniquePrefix();
      const backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix }) });
      return { backend, cleanup: () => dropPrefixedDatabases(prefix) };
    },
  });
  defineConformanceSuite({
    name: "postgresql (new), schema per dataset",
    createBackend: async () => {
      const prefix = uniquePrefix();
      const database = await createScratchDatabase(prefix);
      const backend = new PostgresqlStorageBackend({ config: serverConfig({ database, schema_per_dataset: true }) });
      return { backend, cleanup: () => dropPrefixedDatabases(prefix) };
    },
  });
} else {
  describe("conformance: postgresql (new)", () => it.skip("no PostgreSQL server (see the printed reason)", () => undefined));
}

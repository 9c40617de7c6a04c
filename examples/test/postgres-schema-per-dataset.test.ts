import { createServer } from "node:net";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { postgresConfig, postgresUnavailable } from "../src/support/postgres.js";
import { expectSuccess, line, runExample, type ExampleRun } from "./support/run-example.js";

const noServer = await postgresUnavailable(); // throws under CI=true without a server
if (noServer) console.warn(`postgres-schema-per-dataset runs only its skip path: ${noServer}`);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("postgres-schema-per-dataset", () => {
  describe.skipIf(Boolean(noServer))("on the server of MDM_TEST_POSTGRES_URL", () => {
    let run: ExampleRun;
    beforeAll(async () => {
      run = await runExample("postgres-schema-per-dataset");
      expectSuccess(run);
    });

    it("creates a role without CREATEDB and a database it owns", () => {
      line(run, /^Created role mdm_example_[0-9a-f]{6} \(rolcreatedb=false, rolsuper=false\) and database mdm_example_[0-9a-f]{6}_db owned by it$/);
    });

    it("keeps datasets as schemas: write, read, metadata, a verified migration into a schema", () => {
      line(run, /^Datasets: \["iris","titanic"\]$/);
      line(run, /^titanic\.train: 891 rows written; first rows of category B: 1 item_1, 5 item_5, 9 item_9$/);
      line(run, /^titanic metadata: .*"source":"kaggle","layout":"schema per dataset"/);
      line(run, /^Migrated products sqlite -> postgresql \(schema\): 1000 rows, verification checksum passed$/);
      line(run, /^Schemas in mdm_example_\w+_db: mdm_iris \(owner (mdm_example_\w+)\), mdm_products \(owner \1\), mdm_titanic \(owner \1\)$/);
    });

    it("shows the database mode refused for this role with a stable error code, leaving nothing", () => {
      line(run, /^createDataset in database mode fails with MDM_PERMISSION_DENIED: .*permission denied to create database/);
      line(run, /^Nothing was left behind: datasetExists\("titanic"\) in database mode = false$/);
    });

    it("drops the role and the database", async () => {
      const [, database, role, left] = line(run, /^Dropped database (\S+) and role (\S+) \((.+)\)$/);
      expect(left).toBe("none left");
      const c = postgresConfig();
      const client = new pg.Client({ host: c.host, port: c.port, user: c.user ?? undefined, password: c.password ?? undefined, database: c.database ?? "postgres" });
      await client.connect();
      try {
        expect((await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount).toBe(0);
        expect((await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount).toBe(0);
      } finally {
        await client.end();
      }
      expect(run.lines.filter(Boolean).at(-1)).toBe("postgres-schema-per-dataset: done");
    });
  });

  it("without a server: skipped with the reason, or an error under CI=true", async () => {
    const url = `postgresql://root@127.0.0.1:${await closedPort()}/postgres`;
    const skipped = await runExample("postgres-schema-per-dataset", { ...process.env, MDM_TEST_POSTGRES_URL: url, CI: "" });
    expectSuccess(skipped);
    line(skipped, /^postgres-schema-per-dataset: skipped: no PostgreSQL server at postgresql:\/\/root@127\.0\.0\.1:\d+\/postgres \(.+\)$/);

    const underCi = await runExample("postgres-schema-per-dataset", { ...process.env, MDM_TEST_POSTGRES_URL: url, CI: "true" });
    expect(underCi.code).not.toBe(0);
    expect(underCi.stderr).toMatch(/PostgreSQL examples cannot be skipped under CI=true/);
  });
});

/**
 * The new PostgreSQL backend on a server where CREATE DATABASE is not allowed: one schema per dataset
 * inside one database (`schema_per_dataset: true`).
 *
 * On the server of MDM_TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/postgres) the
 * administrator creates a role without CREATEDB and a database owned by it, as a managed service gives
 * you. Connected as that role, datasets become schemas; tables are written and read; a SQLite dataset is
 * migrated in with verification (its staging is a schema too). The default database-per-dataset mode
 * fails for this role with MDM_PERMISSION_DENIED. The role and the database are dropped at the end.
 * Without a server the example is skipped with the reason, except under CI=true where that is an error.
 *
 * Run: pnpm --filter examples exec tsx src/postgres-schema-per-dataset.ts
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { isMdmError, quoteIdentifier, type PostgresqlConfig } from "@mdm/storage-core";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";
import { SqliteStorageBackend } from "@mdm/storage-sqlite";
import { StorageMigrator } from "@mdm/migration";
import { sampleRows } from "./support/data.js";
import { POSTGRES_URL, postgresConfig, postgresUnavailable } from "./support/postgres.js";
import { heading, withTempHome } from "./support/run.js";

/** A session as the server's administrator (the user of MDM_TEST_POSTGRES_URL), in its database or another. */
async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const c = postgresConfig();
  const client = new pg.Client({
    host: c.host,
    port: c.port,
    user: c.user ?? undefined,
    password: c.password ?? undefined,
    database: database ?? c.database ?? "postgres",
    // The examples' server speaks plaintext on localhost; a server that requires TLS needs sslmode=require in the URL.
    ssl: c.sslmode === "require" || c.sslmode.startsWith("verify") ? { rejectUnauthorized: c.sslmode !== "require" } : false,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function main(home: string): Promise<void> {
  const suffix = randomBytes(3).toString("hex");
  const role = `mdm_example_${suffix}`;
  const database = `mdm_example_${suffix}_db`;
  const password = randomBytes(18).toString("base64url"); // handed to the backend only, never printed

  heading("As the administrator: a role without CREATEDB, and one database it owns");
  await asAdmin(async (admin) => {
    const { rows: me } = await admin.query<{ rolname: string; ok: boolean }>("SELECT rolname, (rolsuper OR (rolcreaterole AND rolcreatedb)) AS ok FROM pg_roles WHERE rolname = current_user");
    if (!me[0]?.ok) throw new Error(`the user of MDM_TEST_POSTGRES_URL (${me[0]?.rolname}) must be allowed to create roles and databases to set this example up`);
    await admin.query(`CREATE ROLE ${quoteIdentifier(role)} LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${quoteIdentifier(database)} OWNER ${quoteIdentifier(role)}`);
    const { rows } = await admin.query<{ rolcreatedb: boolean; rolsuper: boolean }>("SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = $1", [role]);
    console.log(`Created role ${role} (rolcreatedb=${rows[0]!.rolcreatedb}, rolsuper=${rows[0]!.rolsuper}) and database ${database} owned by it`);
  });

  const asRole = (overrides: Partial<PostgresqlConfig>): PostgresqlConfig => postgresConfig({ user: role, password, database, connect_timeout: 5, ...overrides });
  const schemas = new PostgresqlStorageBackend({ config: asRole({ schema_per_dataset: true, database_prefix: "mdm_" }) });
  const databases = new PostgresqlStorageBackend({ config: asRole({ schema_per_dataset: false, database_prefix: `mdm_example_${suffix}_` }) });
  const sqlite = new SqliteStorageBackend({ homeDir: home });
  try {
    heading(`As ${role}: schema_per_dataset=true in database ${database}`);
    await schemas.init();
    await schemas.createDataset("titanic", { metadata: { source: "kaggle", layout: "schema per dataset" } });
    await schemas.createDataset("iris");
    const titanic = sampleRows(891);
    await schemas.saveData("titanic", titanic, "train");
    await schemas.saveData("iris", sampleRows(150), "data");
    const read = await schemas.readTable("train", { engine: await schemas.getDatasetEngine("titanic"), where: { category: "B" }, orderBy: ["id"], limit: 3 });
    console.log(`Datasets: ${JSON.stringify(await schemas.listDatasets())}`);
    console.log(`titanic.train: ${(await schemas.getTableInfo("train", await schemas.getDatasetEngine("titanic"))).rowCount} rows written; first rows of category B: ${read.rows.map((r) => `${String(r.id)} ${String(r.name)}`).join(", ")}`);
    console.log(`titanic metadata: ${JSON.stringify(await schemas.getMetadata("titanic"), (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);

    heading("A SQLite dataset migrated into a schema (staging schema, verification, rename)");
    await sqlite.createDataset("products", { metadata: { source: "sqlite" } });
    await sqlite.saveData("products", sampleRows(1_000), "data");
    const result = await new StorageMigrator({ source: sqlite, target: schemas }).migrateDataset("products");
    if (!result.success) throw new Error(`migration failed: ${result.error?.code} ${result.error?.message}`);
    console.log(`Migrated products sqlite -> postgresql (schema): ${result.rowsMigrated} rows, verification ${result.verification?.mode} ${result.verification?.passed ? "passed" : "FAILED"}`);

    const schemaList = await asAdmin(
      async (admin) =>
        (await admin.query<{ nspname: string; owner: string }>("SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname LIKE 'mdm\\_%' ORDER BY nspname")).rows,
      database,
    );
    console.log(`Schemas in ${database}: ${schemaList.map((s) => `${s.nspname} (owner ${s.owner})`).join(", ")}`);

    heading(`As ${role}: the default database-per-dataset mode`);
    await databases.init();
    try {
      await databases.createDataset("titanic");
      throw new Error("expected CREATE DATABASE to be refused for a role without CREATEDB");
    } catch (error) {
      if (!isMdmError(error)) throw error;
      console.log(`createDataset in database mode fails with ${error.code}: ${error.message}`);
    }
    console.log(`Nothing was left behind: datasetExists("titanic") in database mode = ${await databases.datasetExists("titanic")}`);

    heading("Clean up: drop the datasets, the database and the role");
    for (const name of await schemas.listDatasets()) await schemas.dropDataset(name);
    console.log(`Datasets after dropDataset: ${JSON.stringify(await schemas.listDatasets())}`);
  } finally {
    await schemas.close();
    await databases.close();
    await sqlite.close();
    await asAdmin(async (admin) => {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`);
      const left = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1 UNION ALL SELECT 1 FROM pg_database WHERE datname = $2", [role, database]);
      console.log(`Dropped database ${database} and role ${role} (${left.rowCount === 0 ? "none left" : "SOMETHING LEFT"})`);
    });
  }
}

const unavailable = await postgresUnavailable(); // throws under CI=true
if (unavailable) {
  console.log(`postgres-schema-per-dataset: skipped: ${unavailable}`);
} else {
  console.log(`PostgreSQL server: ${POSTGRES_URL.replace(/:[^:@/]*@/, ":***@")}`);
  await withTempHome("mdm-example-pg-schemas", main);
}
console.log("postgres-schema-per-dataset: done");

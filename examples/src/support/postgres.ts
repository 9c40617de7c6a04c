/**
 * The PostgreSQL server of the examples: MDM_TEST_POSTGRES_URL, default
 * postgresql://root@127.0.0.1:5432/postgres. Without a server the PostgreSQL examples are skipped with
 * a printed reason, except under CI=true where that is an error.
 */
import { defaultConfig, postgresConfigFromUrl, type MdmConfig, type PostgresqlConfig } from "@mdm/storage-core";
import { PostgresqlStorageBackend } from "@mdm/storage-postgresql";

export const POSTGRES_URL = process.env.MDM_TEST_POSTGRES_URL ?? "postgresql://root@127.0.0.1:5432/postgres";

export function postgresConfig(overrides: Partial<PostgresqlConfig> = {}): PostgresqlConfig {
  return { ...defaultConfig().database.postgresql, sslmode: "disable", ...postgresConfigFromUrl(POSTGRES_URL), ...overrides };
}

/** A whole MDM configuration whose PostgreSQL section points at the example server. */
export function configWithPostgres(overrides: Partial<PostgresqlConfig> = {}): MdmConfig {
  const config = defaultConfig();
  config.database.postgresql = postgresConfig(overrides);
  return config;
}

/** Undefined when the server answers, else why not (throws under CI=true). */
export async function postgresUnavailable(): Promise<string | undefined> {
  const backend = new PostgresqlStorageBackend({ config: postgresConfig({ connect_timeout: 3 }) });
  try {
    await backend.init();
    await backend.listDatasets();
    return undefined;
  } catch (error) {
    const reason = `no PostgreSQL server at ${POSTGRES_URL.replace(/:[^:@/]*@/, ":***@")} (${(error as Error).message})`;
    if (process.env.CI === "true") throw new Error(`PostgreSQL examples cannot be skipped under CI=true: ${reason}`);
    return reason;
  } finally {
    await backend.close();
  }
}

/** Drop every dataset of a database prefix (the examples' own). */
export async function dropPrefix(prefix: string): Promise<void> {
  const backend = new PostgresqlStorageBackend({ config: postgresConfig({ database_prefix: prefix }) });
  try {
    for (const name of await backend.listDatasets()) await backend.dropDataset(name);
    for (const name of await backend.listDatasets()) for (const staging of await backend.listStagingPaths(name)) await backend.dropDatabase(staging);
  } finally {
    await backend.close();
  }
}

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/src/index.js";
import { PostgresqlStorageBackend } from "../src/index.js";
import { adminClient, createScratchDatabase, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

const prefix = uniquePrefix();

/** Sessions of an application; with `running`, only those running a statement that starts with it. */
async function backendPids(applicationName: string, running?: string): Promise<number[]> {
  const admin = await adminClient();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND ($2::text IS NULL OR (state = 'active' AND starts_with(query, $2)))",
      [applicationName, running ?? null],
    );
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

/** Poll until `ready()` holds (every 25 ms, at most 10 s): a fixed sleep is a race on a loaded machine. */
async function until(ready: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function terminate(pids: number[]): Promise<void> {
  const admin = await adminClient();
  try {
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [pids]);
  } finally {
    await admin.end();
  }
}

describe.skipIf(!serverAvailable)("pooling", () => {
  afterAll(async () => {
    await dropPrefixedDatabases(prefix);
  });

  it("sizes pools from pool_size, max_overflow and pool_recycle", async () => {
    const backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, pool_size: 2, max_overflow: 3, pool_recycle: 120 }) });
    try {
      await backend.createDataset("sized");
      const pool = (await backend.getConnection(await backend.getDatasetEngine("sized"))) as pg.Pool;
      const options = (pool as unknown as { options: Record<string, unknown> }).options;
      expect(options).toMatchObject({ min: 2, max: 5, maxLifetimeSeconds: 120 });
      // max connections really run at once
      const engine = await backend.getDatasetEngine("sized");
      await Promise.all(Array.from({ length: 5 }, () => backend.query("SELECT pg_sleep(0.2)", [], engine)));
      expect(pool.totalCount).toBe(5);
    } finally {
      await backend.close();
    }
  });

  it("times out waiting for a connection after pool_timeout", async () => {
    const backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, pool_size: 1, max_overflow: 0, pool_timeout: 0.3 }) });
    try {
      await backend.createDataset("busy");
      const engine = await backend.getDatasetEngine("busy");
      const slow = backend.query("SELECT pg_sleep(1)", [], engine);
      await expect(backend.query("SELECT 1", [], engine)).rejects.toMatchObject({ code: ErrorCodes.TIMEOUT });
      await slow;
    } finally {
      await backend.close();
    }
  });

  it("survives idle connections killed by pg_terminate_backend, and reconnects", async () => {
    const app = `mdm-kill-${prefix}`;
    const backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, application_name: app, pool_size: 3 }) });
    try {
      await backend.createDataset("victim");
      const engine = await backend.getDatasetEngine("victim");
      await Promise.all(Array.from({ length: 3 }, () => backend.query("SELECT pg_sleep(0.05)", [], engine)));
      const pool = (await backend.getConnection(engine)) as pg.Pool;
      expect(pool.totalCount).toBeGreaterThanOrEqual(3);
      const pids = await backendPids(app);
      expect(pids.length).toBeGreaterThanOrEqual(3);
      await terminate(pids);
      // The dataset's pool drops each killed client on its error event (other pools of the backend,
      // such as the maintenance database's, count in poolErrors too).
      await until(() => pool.totalCount === 0, "the pool to drop its killed clients");
      // Still alive (an unhandled 'error' would have crashed the worker), errors recorded, and working again.
      expect(backend.poolErrors).toBeGreaterThanOrEqual(3);
      expect(backend.getMetrics().find((m) => m.operation === "storage.pool_error")?.errors).toBe(backend.poolErrors);
      expect((await backend.query("SELECT 1 AS one", [], engine)).rows).toEqual([{ one: 1n }]);
    } finally {
      await backend.close();
    }
  });

  it("legacy also survives idle connections killed by pg_terminate_backend", async () => {
    const app = `mdm-kill-legacy-${prefix}`;
    const backend = new LegacyPostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, application_name: app, pool_size: 3 }) });
    try {
      await backend.createDataset("victim_legacy");
      const engine = await backend.getDatasetEngine("victim_legacy");
      await Promise.all(Array.from({ length: 3 }, () => backend.query("SELECT pg_sleep(0.05)", [], engine)));
      const pool = (await backend.getConnection(engine)) as pg.Pool;
      expect(pool.totalCount).toBeGreaterThanOrEqual(3);
      await terminate(await backendPids(app));
      await until(() => pool.totalCount === 0, "the pool to drop its three killed clients");
      expect((await backend.query("SELECT 1 AS one", [], engine)).rows).toEqual([{ one: 1n }]);
    } finally {
      await backend.close();
    }
  });

  it("survives a connection killed while checked out", async () => {
    const app = `mdm-kill2-${prefix}`;
    const backend = new PostgresqlStorageBackend({ config: serverConfig({ database_prefix: prefix, application_name: app, pool_size: 1, max_overflow: 0 }) });
    try {
      await backend.createDataset("victim2");
      const engine = await backend.getDatasetEngine("victim2");
      const stream = backend.readBatches("t", { engine })[Symbol.asyncIterator]();
      await expect(stream.next()).rejects.toMatchObject({ code: ErrorCodes.TABLE_NOT_FOUND });
      const reading = backend.query("SELECT pg_sleep(5)", [], engine).then(
        () => undefined,
        (error: unknown) => error,
      );
      let sleeping: number[] = [];
      await until(async () => (sleeping = await backendPids(app, "SELECT pg_sleep(5)")).length === 1, "the query to be running");
      await terminate(sleeping);
      expect(await reading).toMatchObject({ code: ErrorCodes.CONNECTION_FAILED });
      expect((await backend.query("SELECT 2 AS two", [], engine)).rows).toEqual([{ two: 2n }]);
    } finally {
      await backend.close();
    }
  });
});

describe.skipIf(!serverAvailable)("a caller-owned pool", () => {
  const ownPrefix = uniquePrefix();
  let database: string;
  let pool: pg.Pool;
  beforeAll(async () => {
    database = await createScratchDatabase(ownPrefix);
    const c = serverConfig();
    pool = new pg.Pool({ host: c.host, port: c.port, user: c.user ?? undefined, password: c.password ?? undefined, database, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await dropPrefixedDatabases(ownPrefix);
  });

  it("is used for schema-per-dataset storage and never closed by the backend", async () => {
    const backend = new PostgresqlStorageBackend({ pool, config: { database_prefix: "ds_" } });
    expect(backend.layout).toBe("schema");
    expect(backend.homeDatabase).toBe(database);
    await backend.createDataset("mine");
    await backend.saveData("mine", [{ a: 1.5 }], "t");
    expect((await backend.loadData("mine", "t")).rows).toEqual([{ a: 1.5 }]);
    expect(await backend.getConnection(await backend.getDatasetEngine("mine"))).toBe(pool);
    await backend.close();
    expect(pool.ended).toBe(false);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM ds_mine.t");
    expect(rows[0].n).toBe(1);
  });
});

describe("a configuration given in code", () => {
  it.each([
    ["application_name", "mdm\nx"],
    ["database_prefix", "mdm'; --"],
    ["statement_timeout", -1],
    ["pool_size", 0],
    ["port", 70000],
  ])("is checked by mdm.yaml's rules in both implementations (%s = %j)", (key, value) => {
    for (const Backend of [PostgresqlStorageBackend, LegacyPostgresqlStorageBackend]) {
      let error: unknown;
      try {
        new Backend({ config: { [key]: value } });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: ErrorCodes.INVALID_CONFIG, details: { key: `database.postgresql.${key}` } });
    }
  });
});

/**
 * Errors of a throwaway cluster with password (SCRAM) authentication: a wrong password, a stopped
 * server and a missing database each give their own code, and the sentinel password never appears
 * in a message, util.inspect, JSON, stack, cause, metrics or console output.
 */
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ErrorCodes, isMdmError, type PostgresqlConfig } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/src/index.js";
import { PostgresqlStorageBackend } from "../src/index.js";
import { clusterUnavailable, freePort, startCluster, type Cluster } from "./support/cluster.js";

/** The right password: URL metacharacters included (passed as a field, never in a URL). */
const SENTINEL = "Sentinel-p@ss:w/rd#%?-4f1c9e";
/** A wrong password, just as unique. */
const WRONG_SENTINEL = "Wrong-Sentinel-7d2a0b";

const unavailable = clusterUnavailable();
if (unavailable) {
  if (process.env.CI === "true") throw new Error(`Authentication tests cannot be skipped under CI=true: ${unavailable}`);
  console.warn(`Skipping authentication tests: ${unavailable}`);
}

function everything(error: unknown, backend: { getMetrics(): unknown }, extra: unknown[] = []): string {
  const e = error as Error & { cause?: unknown };
  return [String(error), e.message, e.stack, inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error), inspect(e.cause, { depth: 10 }), JSON.stringify(backend.getMetrics()), inspect(backend, { depth: 6 }), ...extra.map((x) => inspect(x, { depth: 6 }))].join("\n");
}

describe.skipIf(unavailable !== undefined)("authentication and connection errors", () => {
  let cluster: Cluster;
  let base: Partial<PostgresqlConfig>;
  const printed: string[] = [];
  beforeAll(async () => {
    cluster = await startCluster({ password: SENTINEL, ssl: false });
    base = { host: "127.0.0.1", port: cluster.port, user: "postgres", database: "postgres", sslmode: "disable", connect_timeout: 5 };
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        printed.push(args.map((a) => inspect(a)).join(" "));
      });
    }
  }, 120_000);
  afterAll(() => {
    vi.restoreAllMocks();
    cluster?.remove();
    expect(printed.join("\n")).not.toContain(SENTINEL);
    expect(printed.join("\n")).not.toContain(WRONG_SENTINEL);
  });

  for (const Backend of [PostgresqlStorageBackend, LegacyPostgresqlStorageBackend]) {
    describe(Backend.name, () => {
      it("connects with the right password, and never shows it", async () => {
        const backend = new Backend({ config: { ...base, password: SENTINEL } });
        await backend.init();
        const engine = await backend.getEngine("postgres");
        const pool = await backend.getConnection(engine);
        const error = await backend.query("SELECT * FROM no_such_table", [], engine).catch((e: unknown) => e);
        expect(isMdmError(error, ErrorCodes.TABLE_NOT_FOUND)).toBe(true);
        expect(everything(error, backend, [pool, backend.config])).not.toContain(SENTINEL);
        await backend.close();
      });

      it("a wrong password is MDM_AUTHENTICATION_FAILED without the password anywhere", async () => {
        const backend = new Backend({ config: { ...base, password: WRONG_SENTINEL } });
        const error = await backend.init().catch((e: unknown) => e);
        expect(isMdmError(error, ErrorCodes.AUTHENTICATION_FAILED)).toBe(true);
        expect((error as Error).message).toContain("password authentication failed");
        expect(everything(error, backend)).not.toContain(WRONG_SENTINEL);
        const again = await backend.listDatasets().catch((e: unknown) => e);
        expect(isMdmError(again, ErrorCodes.AUTHENTICATION_FAILED)).toBe(true);
        expect(everything(again, backend)).not.toContain(WRONG_SENTINEL);
        await backend.close();
      });

      it("a missing database is MDM_DATABASE_NOT_FOUND, a missing dataset MDM_DATASET_NOT_FOUND", async () => {
        const backend = new Backend({ config: { ...base, password: SENTINEL } });
        const error = await backend.getEngine("mdm_absent").catch((e: unknown) => e);
        expect(isMdmError(error, ErrorCodes.DATABASE_NOT_FOUND)).toBe(true);
        expect(everything(error, backend)).not.toContain(SENTINEL);
        const missing = await backend.loadData("absent").catch((e: unknown) => e);
        expect(isMdmError(missing, ErrorCodes.DATASET_NOT_FOUND)).toBe(true);
        await backend.close();
      });
    });
  }

  it("a server that is not running is MDM_CONNECTION_FAILED without the password", async () => {
    const port = await freePort();
    for (const Backend of [PostgresqlStorageBackend, LegacyPostgresqlStorageBackend]) {
      const backend = new Backend({ config: { ...base, port, password: SENTINEL } });
      const error = await backend.init().catch((e: unknown) => e);
      expect(isMdmError(error, ErrorCodes.CONNECTION_FAILED)).toBe(true);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect(everything(error, backend)).not.toContain(SENTINEL);
      await backend.close();
    }
  });

  it("a server that never answers fails after connect_timeout with MDM_TIMEOUT", async () => {
    const backend = new PostgresqlStorageBackend({ config: { ...base, password: SENTINEL, connect_timeout: 1 } });
    cluster.pause();
    try {
      const started = performance.now();
      const error = await backend.init().catch((e: unknown) => e);
      expect(isMdmError(error, ErrorCodes.TIMEOUT)).toBe(true);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(everything(error, backend)).not.toContain(SENTINEL);
    } finally {
      cluster.resume();
      await backend.close();
    }
  });

  it("a stopped cluster is MDM_CONNECTION_FAILED for a running backend", async () => {
    const backend = new PostgresqlStorageBackend({ config: { ...base, password: SENTINEL } });
    const engine = await backend.getEngine("postgres");
    cluster.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await backend.query("SELECT 1", [], engine).catch((e: unknown) => e);
    expect(isMdmError(error, ErrorCodes.CONNECTION_FAILED)).toBe(true);
    expect(everything(error, backend)).not.toContain(SENTINEL);
    await backend.close();
  });
});

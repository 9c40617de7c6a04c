/**
 * sslmode on a throwaway cluster with TLS (self-signed CA, certificate for DNS:localhost only) and on
 * the test server without TLS: verification works, a wrong CA or host name refuses, and no mode that
 * asks for TLS ever falls back to plaintext.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, type PostgresqlConfig, type SslMode } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/src/index.js";
import { PostgresqlStorageBackend } from "../src/index.js";
import { clusterUnavailable, startCluster, type Cluster } from "./support/cluster.js";
import { serverAvailable, serverConfig } from "./support/server.js";

const PASSWORD = "ssl-test-password";
const unavailable = clusterUnavailable();
if (unavailable) {
  if (process.env.CI === "true") throw new Error(`SSL tests cannot be skipped under CI=true: ${unavailable}`);
  console.warn(`Skipping SSL tests: ${unavailable}`);
}

async function connectError(config: Partial<PostgresqlConfig>): Promise<unknown> {
  const backend = new PostgresqlStorageBackend({ config });
  try {
    await backend.init();
    const { rows } = await backend.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [], await backend.getEngine("postgres"));
    return { connected: true, ssl: rows[0]?.ssl };
  } catch (error) {
    return error;
  } finally {
    await backend.close();
  }
}

describe.skipIf(unavailable !== undefined)("SSL on a cluster with a self-signed CA", () => {
  let cluster: Cluster;
  let base: Partial<PostgresqlConfig>;
  beforeAll(async () => {
    cluster = await startCluster({ password: PASSWORD, ssl: true });
    base = { host: "127.0.0.1", port: cluster.port, user: "postgres", password: PASSWORD, database: "postgres", connect_timeout: 5 };
  }, 120_000);
  afterAll(() => cluster?.remove());

  it("verify-full with the right CA and host name connects over TLS", async () => {
    expect(await connectError({ ...base, host: "localhost", sslmode: "verify-full", sslrootcert: cluster.certificates.ca })).toEqual({ connected: true, ssl: true });
  });

  it("verify-full refuses a wrong CA and a wrong host name", async () => {
    expect(await connectError({ ...base, host: "localhost", sslmode: "verify-full", sslrootcert: cluster.certificates.otherCa })).toMatchObject({ code: ErrorCodes.SSL_FAILED });
    expect(await connectError({ ...base, host: "127.0.0.1", sslmode: "verify-full", sslrootcert: cluster.certificates.ca })).toMatchObject({ code: ErrorCodes.SSL_FAILED });
  });

  it("verify-ca checks the chain but not the host name", async () => {
    expect(await connectError({ ...base, sslmode: "verify-ca", sslrootcert: cluster.certificates.ca })).toEqual({ connected: true, ssl: true });
    expect(await connectError({ ...base, sslmode: "verify-ca", sslrootcert: cluster.certificates.otherCa })).toMatchObject({ code: ErrorCodes.SSL_FAILED });
  });

  it("require encrypts without verification (libpq), verify-ca when a root certificate is given", async () => {
    expect(await connectError({ ...base, sslmode: "require" })).toEqual({ connected: true, ssl: true });
    expect(await connectError({ ...base, sslmode: "require", sslrootcert: cluster.certificates.otherCa })).toMatchObject({ code: ErrorCodes.SSL_FAILED });
  });

  it("prefer uses TLS when the server has it; disable is refused by a TLS-only server", async () => {
    expect(await connectError({ ...base, sslmode: "prefer" })).toEqual({ connected: true, ssl: true });
    expect(await connectError({ ...base, sslmode: "allow" })).toEqual({ connected: true, ssl: true });
    expect(await connectError({ ...base, sslmode: "disable" })).toMatchObject({ code: ErrorCodes.AUTHENTICATION_FAILED });
  });

  it("sslcert and sslkey authenticate a role that logs in with its client certificate", async () => {
    const setup = new PostgresqlStorageBackend({ config: { ...base, sslmode: "require" } });
    await setup.executeQuery("CREATE ROLE certuser LOGIN", await setup.getEngine("postgres"));
    await setup.close();
    const certificate = { ...base, user: "certuser", password: null, host: "localhost", sslmode: "verify-full" as const, sslrootcert: cluster.certificates.ca };
    expect(await connectError({ ...certificate, sslcert: cluster.certificates.clientCert, sslkey: cluster.certificates.clientKey })).toEqual({ connected: true, ssl: true });
    expect(await connectError(certificate)).toMatchObject({ code: ErrorCodes.AUTHENTICATION_FAILED });
  });

  it("the legacy backend maps sslmode the same way", async () => {
    const good = new LegacyPostgresqlStorageBackend({ config: { ...base, host: "localhost", sslmode: "verify-full", sslrootcert: cluster.certificates.ca } });
    await expect(good.init()).resolves.toBeUndefined();
    await good.close();
    const bad = new LegacyPostgresqlStorageBackend({ config: { ...base, sslmode: "verify-full", sslrootcert: cluster.certificates.ca } });
    await expect(bad.init()).rejects.toMatchObject({ code: ErrorCodes.SSL_FAILED });
    await bad.close();
  });
});

describe.skipIf(!serverAvailable)("SSL asked of a server without TLS", () => {
  for (const sslmode of ["require", "verify-ca", "verify-full"] as SslMode[]) {
    it(`${sslmode} fails with MDM_SSL_FAILED, never plaintext`, async () => {
      const error = await connectError({ ...serverConfig(), sslmode });
      expect(error).toMatchObject({ code: ErrorCodes.SSL_FAILED });
    });
  }

  it("prefer falls back to plaintext, as libpq does", async () => {
    expect(await connectError({ ...serverConfig(), sslmode: "prefer" })).toEqual({ connected: true, ssl: false });
  });
});

/**
 * Timestamps and dates independent of the process time zone (TZ set before anything reads it) and of
 * the server's `timezone` (set on the test database and role defaults to Asia/Kolkata).
 */
process.env.TZ = "America/Los_Angeles";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlDate, SqlTimestamp, quoteIdentifier, type ColumnDef, type Value } from "@mdm/storage-core";
import { LegacyPostgresqlStorageBackend } from "../../storage-postgresql-legacy/src/index.js";
import { PostgresqlStorageBackend } from "../src/index.js";
import { adminClient, dropPrefixedDatabases, serverAvailable, serverConfig, uniquePrefix } from "./support/server.js";

const prefix = uniquePrefix();
const columns: ColumnDef[] = [
  { name: "k", type: "int64" },
  { name: "day", type: "date" },
  { name: "ts", type: "timestamp" },
  { name: "tz", type: "timestamptz" },
];
// Around the Los Angeles DST change, Kolkata's half-hour offset and its historic LMT seconds offset, BC.
const rows: Value[][] = [
  [1n, SqlDate.parse("1960-06-02"), SqlTimestamp.parse("2024-03-10 02:30:00.000001"), SqlTimestamp.parse("2024-03-10T10:30:00.999999Z")],
  [2n, SqlDate.parse("2024-11-03"), SqlTimestamp.parse("2024-11-03 01:30:00.5"), SqlTimestamp.parse("1800-01-01T00:00:00.000001Z")],
  [3n, SqlDate.fromParts(-96, 2, 29), SqlTimestamp.parse("1900-01-01 00:00:00"), SqlTimestamp.parse("1941-10-01T00:00:00Z")],
];

describe.skipIf(!serverAvailable)("time zones: process TZ=America/Los_Angeles, server timezone Asia/Kolkata", () => {
  const made: Array<PostgresqlStorageBackend | LegacyPostgresqlStorageBackend> = [];
  beforeAll(() => {
    expect(new Date(0).getTimezoneOffset()).toBe(480);
  });
  afterAll(async () => {
    for (const b of made) await b.close();
    await dropPrefixedDatabases(prefix);
  });

  for (const Backend of [PostgresqlStorageBackend, LegacyPostgresqlStorageBackend]) {
    it(`${Backend.name} writes and reads dates and timestamps to the microsecond`, async () => {
      const backend = new Backend({ config: serverConfig({ database_prefix: `${prefix}${Backend === PostgresqlStorageBackend ? "n" : "l"}` }) });
      made.push(backend);
      await backend.createDataset("tz");
      const database = backend.getDatabasePath("tz");
      const admin = await adminClient();
      await admin.query(`ALTER DATABASE ${quoteIdentifier(database)} SET timezone = 'Asia/Kolkata'`);
      await admin.end();
      await backend.closeConnections();
      const engine = await backend.getDatasetEngine("tz");
      await backend.writeBatches("t", columns, [rows], { engine });
      const read = (await backend.readTable("t", { engine, orderBy: ["k"] })).rows;
      for (const [i, row] of rows.entries()) {
        expect((read[i]?.day as SqlDate).days).toBe((row[1] as SqlDate).days);
        expect((read[i]?.ts as SqlTimestamp).micros).toBe((row[2] as SqlTimestamp).micros);
        expect((read[i]?.tz as SqlTimestamp).micros).toBe((row[3] as SqlTimestamp).micros);
      }
      // What the server holds, seen by a plain session in the server's time zone.
      const plain = await adminClient(database);
      try {
        const { rows: seen } = await plain.query("SELECT current_setting('TimeZone') AS zone, ts::text AS ts, (tz AT TIME ZONE 'UTC')::text AS utc, tz::text AS local FROM t ORDER BY k");
        expect(seen[0]).toEqual({ zone: "Asia/Kolkata", ts: "2024-03-10 02:30:00.000001", utc: "2024-03-10 10:30:00.999999", local: "2024-03-10 16:00:00.999999+05:30" });
        expect(seen[1].utc).toBe("1800-01-01 00:00:00.000001");
      } finally {
        await plain.end();
      }
    });
  }
});

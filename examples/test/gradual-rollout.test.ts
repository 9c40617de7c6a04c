import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { postgresUnavailable } from "../src/support/postgres.js";
import { expectSuccess, line, lines, runExample, type ExampleRun } from "./support/run-example.js";

/** The documented bucket, computed here without @mdm/storage-core. */
function bucket(type: string, name: string): number {
  return createHash("sha256").update(`new_storage:${type}:${name}`).digest().readUInt32BE(0) % 100;
}

const noServer = await postgresUnavailable();

describe("gradual-rollout", () => {
  let run: ExampleRun;
  beforeAll(async () => {
    run = await runExample("gradual-rollout");
    expectSuccess(run);
  });

  it("1. legacy is the default for every type", () => {
    line(run, /^use_new_storage=false \(default\): sqlite=legacy LegacySqliteStorageBackend, duckdb=legacy LegacyDuckdbStorageBackend, postgresql=legacy$/);
  });

  it("2. a per-type flag turns on the new implementation of that type only", () => {
    line(run, /^use_new_storage_duckdb=true \(code\): sqlite=legacy LegacySqliteStorageBackend, duckdb=new DuckdbStorageBackend, postgresql=legacy$/);
  });

  it("3. a 25% rollout by dataset name: the documented hash decides, the same in both managers", () => {
    line(run, /^Manager 1: rollout_percentage=25 \(code\); manager 2: rollout_percentage=25 \(file\)$/);
    const rows = lines(run, /^ {2}dataset (\S+) +bucket +(\d+) -> manager 1: (new|legacy) +manager 2: (new|legacy)$/);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    let onNew = 0;
    for (const [, name, printed, first, second] of rows) {
      const expected = bucket("sqlite", name!);
      expect(Number(printed), name).toBe(expected);
      expect(first, name).toBe(expected < 25 ? "new" : "legacy");
      expect(second, name).toBe(first);
      if (first === "new") onNew++;
    }
    expect(onNew).toBeGreaterThan(0); // the example's names are chosen so both sides occur
    expect(onNew).toBeLessThan(rows.length);
    line(run, new RegExp(`^Rollout at 25%: ${onNew} of ${rows.length} datasets on new; both managers agree: yes$`));
    line(run, /^Without a dataset name a partial rollout gives: legacy$/);
    line(run, /^Rollout at 50%: \d+ of \d+ on new; every dataset that was on new at 25% still is: yes$/);
  });

  it("4a. falls back to legacy when the new package is not installed, and records why", () => {
    line(run, /^onFallback listener: new sqlite could not start \(MDM_BACKEND_NOT_INSTALLED\)$/);
    line(run, /^use_new_storage_sqlite=true, auto_fallback=true: getStorageBackend\("sqlite"\) -> LegacySqliteStorageBackend \(legacy\)$/);
    line(run, /^Recorded fallback: \S+ sqlite MDM_BACKEND_NOT_INSTALLED: .*@mdm\/storage-sqlite\b/);
    line(run, /^Legacy keeps working: datasets \["still_works"\]$/);
    line(run, /^auto_fallback=false: getStorageBackend\("sqlite"\) fails with MDM_BACKEND_NOT_INSTALLED$/);
  });

  it("4b. falls back to legacy when the new PostgreSQL backend cannot connect", () => {
    if (noServer) {
      line(run, /^skipped: no PostgreSQL server/);
      return;
    }
    line(run, /^use_new_storage_postgresql=true, new backend at 127\.0\.0\.1:\d+: getStorageBackend\("postgresql"\) -> LegacyPostgresqlStorageBackend \(legacy\)$/);
    line(run, /^Recorded fallback: \S+ postgresql dataset=sales MDM_CONNECTION_FAILED: /);
    line(run, /^Legacy PostgreSQL keeps working: wrote and read 2 rows in database mdmroll[0-9a-f]{6}_sales$/);
  });

  it("5. the full switch gives new for every type; a per-type flag can still hold one back", () => {
    line(run, /^use_new_storage=true \(file\): sqlite=new SqliteStorageBackend, duckdb=new DuckdbStorageBackend, postgresql=new$/);
    line(run, /^Per-type override still wins \(to hold one type back\): use_new_storage_sqlite=false -> sqlite=legacy$/);
  });

  it("removes its temporary MDM home", () => {
    const home = line(run, /^MDM home: (.+)$/)[1]!;
    expect(existsSync(home)).toBe(false);
    expect(run.lines.filter(Boolean).at(-1)).toBe("gradual-rollout: done");
  });
});

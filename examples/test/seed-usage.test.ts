import { beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, line, runExample, type ExampleRun } from "./support/run-example.js";

describe("seed-usage: each Python MDM snippet in its TypeScript form", () => {
  let run: ExampleRun;
  beforeAll(async () => {
    run = await runExample("seed-usage");
    expectSuccess(run);
  });

  it('featureFlags.set("use_new_storage", ...) decides what getStorageBackend("sqlite") returns', () => {
    line(run, /^use_new_storage=false: getStorageBackend\("sqlite"\) is legacy LegacySqliteStorageBackend$/);
    line(run, /^use_new_storage=true: getStorageBackend\("sqlite"\) is new SqliteStorageBackend$/);
    line(run, /^getDefaultManager\(\)\.flags is the same object: use_new_storage=true$/);
  });

  it("migrateDataset(name, { verify: true }) migrates with checksum verification; a malformed verify throws", () => {
    line(run, /^success=true, 1000 rows in data, verification checksum passed$/);
    line(run, /^registry now says: duckdb$/);
    line(run, /^verify: "yes" throws at once: MDM_INVALID_ARGUMENT$/);
  });

  it("StorageComparisonTester runs from the main entry of @mdm/testing", () => {
    const [, rate] = line(run, /^Success rate: ([\d.]+)% \(\d+ passed, 0 failed\)$/);
    expect(Number(rate)).toBe(100);
  });
});

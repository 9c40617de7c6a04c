import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { valuesEqual, type BackendType, type Implementation, type IStorageBackend, type Value } from "@mdm/storage-core";
import { expectedOutcome, fidelityFixtures, type FidelityFixture } from "@mdm/testing";
import { StorageMigrator } from "../src/index.js";
import { environment, postgresAvailable, type Env } from "./support/backends.js";
import { fingerprint, writeDataset } from "./support/dataset.js";

type Side = [BackendType, Implementation];

const PAIRS: Array<[Side, Side]> = [
  [["sqlite", "new"], ["duckdb", "new"]],
  [["duckdb", "new"], ["sqlite", "new"]],
  [["sqlite", "new"], ["postgresql", "new"]],
  [["postgresql", "new"], ["sqlite", "new"]],
  [["duckdb", "new"], ["postgresql", "new"]],
  [["postgresql", "new"], ["duckdb", "new"]],
  [["sqlite", "legacy"], ["sqlite", "new"]],
  [["duckdb", "legacy"], ["duckdb", "new"]],
  [["postgresql", "legacy"], ["postgresql", "new"]],
  [["sqlite", "legacy"], ["duckdb", "new"]],
  [["postgresql", "legacy"], ["sqlite", "new"]],
];

/** The fidelity values both sides hold exactly, one table per fixture. */
function heldByBoth(fixture: FidelityFixture, a: IStorageBackend, b: IStorageBackend): Value[] {
  return fixture.values.filter((item) => expectedOutcome(fixture, item, a.capabilities) === "hold" && expectedOutcome(fixture, item, b.capabilities) === "hold").map((item) => item.value);
}

const label = ([t, i]: Side) => `${t} (${i})`;

describe.each(PAIRS)("migrate %j → %j", (from, to) => {
  const needsServer = from[0] === "postgresql" || to[0] === "postgresql";
  // Source and target live in different MDM homes and PostgreSQL prefixes: legacy and new of one type
  // share a layout, so a legacy-to-new move is between two locations (another home, another server).
  let sourceEnv: Env;
  let targetEnv: Env;
  let source: IStorageBackend;
  let target: IStorageBackend;

  beforeAll(() => {
    sourceEnv = environment();
    targetEnv = environment();
    source = sourceEnv.make(from[0], from[1]);
    target = targetEnv.make(to[0], to[1]);
  });
  afterAll(async () => {
    await sourceEnv.cleanup();
    await targetEnv.cleanup();
  });

  it.skipIf(needsServer && !postgresAvailable)(`${label(from)} to ${label(to)}: a multi-table dataset with metadata and the fidelity fixtures, exactly`, async () => {
    await writeDataset(source, "pairs", { train: 2500, validation: 500 });
    const engine = await source.getDatasetEngine("pairs");
    const written: Array<[FidelityFixture, string, Value[]]> = [];
    for (const [i, fixture] of fidelityFixtures.entries()) {
      const values = heldByBoth(fixture, source, target);
      if (values.length === 0) continue;
      const table = `fidelity_${i}`;
      await source.writeBatches(table, [{ name: "k", type: "int64" }, { ...fixture.column, name: "v" }], [values.map((v, k) => [BigInt(k), v])], { engine });
      written.push([fixture, table, values]);
    }
    const before = await fingerprint(source, "pairs");

    const result = await new StorageMigrator({ source, target, home: null }).migrateDataset("pairs", { batchSize: 1000 });
    expect(result.error).toBeNull();
    expect(result.verification?.passed).toBe(true);
    expect(await fingerprint(target, "pairs")).toEqual(before);

    // Value by value, after a fresh read from the target: bigints beyond 2^53, µs before 1970, decimals, NaN/-0 where held.
    const t = await target.getDatasetEngine("pairs");
    for (const [fixture, table, values] of written) {
      const back = await target.readTable(table, { engine: t, orderBy: ["k"] });
      expect(back.columns[1]?.type, `${fixture.name}: logical type`).toBe(fixture.column.type);
      const got = back.rows.map((r) => r.v as Value);
      expect(got.length, fixture.name).toBe(values.length);
      values.forEach((value, k) => {
        expect(valuesEqual(fixture.column.type, got[k] as Value, value), `${fixture.name}[${k}]: ${String(got[k])} vs ${String(value)}`).toBe(true);
      });
    }
    expect((await target.getMetadata("pairs")).migrated_from).toBe(`${from[0]}:${from[1]}`);
  });
});

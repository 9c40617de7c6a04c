import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, line, lines, runExample, type ExampleRun } from "./support/run-example.js";

describe("storage-migration-example (the tour)", () => {
  let run: ExampleRun;
  beforeAll(async () => {
    run = await runExample("storage-migration-example");
    expectSuccess(run);
  });

  it("runs the comparison tester on SQLite and prints the success rate and the speed ratio", () => {
    const [, rate, passed, total, failed] = line(run, /^Success rate: (\d+\.\d)% \((\d+) of (\d+) tests passed, (\d+) failed\)$/);
    expect(rate).toBe("100.0");
    expect(Number(passed)).toBeGreaterThanOrEqual(10);
    expect(passed).toBe(total);
    expect(failed).toBe("0");
    const ratio = Number(line(run, /^Speed ratio \(new time \/ legacy time\): (\d+\.\d+) \(legacy \d+ ms, new \d+ ms; load average/)[1]);
    expect(ratio).toBeGreaterThan(0);
    expect(lines(run, /^ {2}FAIL /)).toEqual([]);
  });

  it("shows use_new_storage choosing the SQLite implementation", () => {
    line(run, /^use_new_storage=false: getStorageBackend\("sqlite"\) -> LegacySqliteStorageBackend \(legacy\)$/);
    line(run, /^use_new_storage=true: getStorageBackend\("sqlite"\) -> SqliteStorageBackend \(new\)$/);
    line(run, /^Recorded flag changes: false -> true \(code\)$/);
  });

  it("validates the new SQLite backend: passed and failed counts", () => {
    const m = line(run, /^Validated sqlite \(new\): (\d+) passed, (\d+) failed, (\d+) warnings/);
    expect(Number(m[1])).toBeGreaterThan(50);
    expect(m[2]).toBe("0");
  });

  it("migrates 1,000 rows from SQLite to DuckDB with every verification check passing", () => {
    line(run, /^Created "products" in SQLite: tables test, train; registry says sqlite$/);
    line(run, /^Migrated "products" sqlite \(new\) -> duckdb \(new\): 1000 rows, 2 tables \(train, test\), \d+ ms$/);
    line(run, /^Verification \(checksum\): passed, 8 checks$/);
    const checks = lines(run, /^ {2}(ok {2}|DIFF) (train|test) (row_count|columns|types|checksum): source (.*) target (.*)$/);
    expect(checks).toHaveLength(8);
    for (const c of checks) {
      expect(c[1]).toBe("ok  ");
      expect(c[4]).toBe(c[5]);
    }
    expect(checks.filter((c) => c[3] === "row_count").map((c) => `${c[2]}=${c[4]}`)).toEqual(["train=800", "test=200"]);
    line(run, /^Metadata in DuckDB: source=storage-migration-example, target_column=value, migrated_from=sqlite:new$/);
    line(run, /^Registry now says: duckdb$/);
  });

  it("compares SQLite and DuckDB load and read speed on 10,000 rows", () => {
    for (const type of ["sqlite", "duckdb"]) line(run, new RegExp(`^${type} +load +[\\d,]+ rows/s \\([\\d.]+ ms\\), read +[\\d,]+ rows/s \\([\\d.]+ ms\\)$`));
    line(run, /^DuckDB \/ SQLite time: load \d+\.\d+, read \d+\.\d+ \(one run each, load average/);
  });

  it("works in a temporary MDM home that is removed at the end", () => {
    const home = line(run, /^MDM home: (.+)$/)[1]!;
    expect(line(run, /^Removed the temporary MDM home (.+)$/)[1]).toBe(home);
    expect(existsSync(home)).toBe(false);
    expect(run.lines.filter(Boolean).at(-1)).toBe("storage-migration-example: done");
  });
});

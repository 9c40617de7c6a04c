import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectSuccess, line, lines, runExample, type ExampleRun } from "./support/run-example.js";

describe("downstream-migration", () => {
  let run: ExampleRun;
  beforeAll(async () => {
    run = await runExample("downstream-migration");
    expectSuccess(run);
  });

  it("builds an MDM home with three SQLite datasets", () => {
    line(run, /^ {2}titanic +train, test +1,309 rows {2}-> datasets\/titanic\/titanic\.sqlite$/);
    line(run, /^ {2}iris +data +150 rows {2}-> datasets\/iris\/iris\.sqlite$/);
    line(run, /^ {2}sales +train, test +22,000 rows {2}-> datasets\/sales\/sales\.sqlite$/);
  });

  it("reports progress through every phase of every dataset", () => {
    for (const dataset of ["iris", "sales", "titanic"]) {
      const phases = lines(run, new RegExp(`^ {2}\\[${dataset}\\] (preflight|copy|verify|publish|done)`)).map((m) => m[1]);
      expect([...new Set(phases)], dataset).toEqual(["preflight", "copy", "verify", "publish", "done"]);
    }
    const salesTrain = lines(run, /^ {2}\[sales\] copy train \(table 1\/2\): ([\d,]+)\/20,000 rows$/).map((m) => m[1]);
    expect(salesTrain).toEqual(["5,000", "10,000", "15,000", "20,000"]);
  });

  it("verifies every dataset on its own and prints a summary", () => {
    for (const dataset of ["iris", "sales", "titanic"]) {
      line(run, new RegExp(`^ {2}${dataset} +tables .* checksums equal, metadata source=.* migrated_from=sqlite:new, registry backend=duckdb: verified$`));
      line(run, new RegExp(`^${dataset} +\\d +\\d+ +\\d+ +[\\d,]+ +checksum passed \\(\\d+ checks\\)$`));
    }
    line(run, /^Migrated 3 of 3 datasets \(0 failed\), 23459 rows in \d+ ms/);
    line(run, /^Independent verification: all datasets verified$/);
    expect(run.stdout).not.toMatch(/FAILED|DIFFER|NOT VERIFIED/);
  });

  it("removes its temporary MDM home", () => {
    expect(existsSync(line(run, /^MDM home: (.+)$/)[1]!)).toBe(false);
    expect(run.lines.filter(Boolean).at(-1)).toBe("downstream-migration: done");
  });
});

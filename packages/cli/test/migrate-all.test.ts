import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetRegistry, MdmHome } from "@mdm/storage-core";
import { cleanEnv, dropPostgresDatabases, mdm, postgresAvailable, postgresEnv, removeDir, tempDir } from "./helpers.js";

const pg = postgresEnv();
const pgSkip = await postgresAvailable();

/** `mdm migrate --all` (and several names) past a dataset that cannot start: every other one is tried. */
describe.skipIf(pgSkip)("mdm migrate --all with one dataset whose server cannot be reached", () => {
  let home: string;
  const ROWS = 200_000;
  const registry = (name: string) => new DatasetRegistry(new MdmHome(home)).read(name);
  // The PostgreSQL dataset's server "moved": nothing listens on port 1.
  const unreachable = () => cleanEnv(home, { ...pg.env, MDM_DATABASE_POSTGRESQL_PORT: "1" });

  beforeAll(async () => {
    home = tempDir("migrate-all");
    const big = join(home, "big.csv");
    writeFileSync(big, `id,x,label\n${Array.from({ length: ROWS }, (_, i) => `${i},${(i * 0.37).toFixed(2)},${i % 5 === 0 ? "yes" : "no"}`).join("\n")}\n`);
    const small = join(home, "small.csv");
    writeFileSync(small, "id,v\n1,a\n2,b\n3,c\n");
    // No flag set: SQLite datasets served by legacy; one in PostgreSQL.
    for (const [name, file, extra] of [["alpha", big, []], ["pgset", small, ["--backend", "postgresql"]], ["zeta", small, []]] as const) {
      const r = await mdm(["dataset", "register", name, file, ...extra], cleanEnv(home, pg.env));
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await dropPostgresDatabases(pg.config);
    removeDir(home);
  });

  it("tries every dataset, lists the one that failed with its code, and exits with that code", async () => {
    const r = await mdm(["migrate", "--all", "--to", "duckdb"], unreachable());
    expect(r.code, r.stderr).toBe(6); // backend unavailable (MDM_CONNECTION_FAILED)
    expect(r.stdout).toContain("2 of 3 dataset(s) migrated to duckdb; failed: pgset (MDM_CONNECTION_FAILED).");
    expect(r.stderr).toMatch(/pgset: .*127\.0\.0\.1:1/);
    expect(registry("alpha").database.backend).toBe("duckdb");
    expect(registry("zeta").database.backend).toBe("duckdb");
    expect(registry("pgset").database.backend).toBe("postgresql");
    // The summary counts the dataset's own table and rows; MDM's tables are said apart.
    const alphaRow = r.stdout.split("\n").find((l) => l.includes("alpha")) as string;
    expect(alphaRow).toMatch(/│ 1\s+│ 200,000\s+│/);
    expect(r.stdout).toMatch(/MDM's _metadata, _columns and _statistics came along: [\d,]+ rows/);
    // Without --remove-source the source copies stay, and the summary says where.
    expect(r.stdout).toMatch(/The source copy of alpha stays in sqlite at .*alpha.*no longer registered; rerun with --remove-source/);
  }, 120_000);

  it("--json gives every dataset's result, the failed one with its code; several names behave the same", async () => {
    const r = await mdm(["migrate", "alpha", "pgset", "zeta", "--to", "sqlite", "--overwrite", "--json"], unreachable());
    expect(r.code).toBe(6);
    const results = JSON.parse(r.stdout) as Array<{ dataset: string; success: boolean; dataRows: number; dataTables: string[]; rowsMigrated: number; error: { code: string } | null }>;
    expect(results.map((x) => [x.dataset, x.success, x.error?.code ?? null])).toEqual([
      ["alpha", true, null],
      ["pgset", false, "MDM_CONNECTION_FAILED"],
      ["zeta", true, null],
    ]);
    const alpha = results[0] as (typeof results)[number];
    expect(alpha.dataTables).toEqual(["data"]);
    expect(alpha.dataRows).toBe(ROWS);
    expect(alpha.rowsMigrated).toBeGreaterThan(ROWS); // MDM's own tables came too
    expect(registry("alpha").database.backend).toBe("sqlite");
    // With the server back, the failed one moves too.
    const again = await mdm(["migrate", "pgset", "--to", "sqlite", "--remove-source"], cleanEnv(home, pg.env));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain("stays in");
    expect(registry("pgset").database.backend).toBe("sqlite");
  }, 120_000);
});

import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, isMdmError } from "@mdm/storage-core";
import { CliContext } from "../src/context.js";
import { EXAMPLE_DATASET, cleanEnv, mdm, removeDir, tempDir } from "./helpers.js";

// A reader reads a dataset's registry entry, then opens the database it names. Another process can re-register
// the dataset in another backend in between (register --force), which drops the copy the entry named once the
// registry points at the new one. The reader must then read the new copy, not fail with "database missing".
// Here the other process's work is done inside that window, so the race happens every time.

describe("a reader whose dataset moved to another backend between reading the entry and opening the database", () => {
  let home: string;
  const env = () => cleanEnv(home);

  beforeAll(async () => {
    home = tempDir("entry-race");
    const r = await mdm(["dataset", "register", "moving", join(EXAMPLE_DATASET, "test.csv"), "--backend", "sqlite"], env());
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(() => removeDir(home));

  it("reads the new copy (the entry is read again when the database it named is gone)", async () => {
    const ctx = new CliContext(env());
    try {
      const seen: string[] = [];
      const rows = await ctx.withEntry("moving", async (entry) => {
        seen.push(entry.database.backend);
        if (seen.length === 1) {
          const moved = await mdm(["dataset", "register", "moving", join(EXAMPLE_DATASET, "test.csv"), "--backend", "duckdb", "--force"], env());
          expect(moved.code, moved.stderr).toBe(0);
        }
        const { backend, engine } = await ctx.openRegistered(entry, "moving");
        return (await backend.getTableInfo("data", engine)).rowCount;
      });
      expect(seen).toEqual(["sqlite", "duckdb"]);
      expect(rows).toBe(100);
    } finally {
      await ctx.close();
    }
  });

  it("still says the database is missing when the entry did not change", async () => {
    rmSync(join(home, "datasets", "moving", "moving.duckdb"));
    const info = await mdm(["dataset", "info", "moving"], env());
    expect(info.code).toBe(3);
    expect(info.stderr).toMatch(/MDM_DATABASE_NOT_FOUND/);
    const ctx = new CliContext(env());
    let calls = 0;
    try {
      const error = await ctx
        .withEntry("moving", async (entry) => {
          calls++;
          return ctx.openRegistered(entry, "moving");
        })
        .catch((e: unknown) => e);
      expect(isMdmError(error, ErrorCodes.DATABASE_NOT_FOUND), String(error)).toBe(true);
      expect(calls).toBe(1);
    } finally {
      await ctx.close();
    }
  });
});

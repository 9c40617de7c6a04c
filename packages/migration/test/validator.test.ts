import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { StorageBackendManager, type ColumnDef, type Value } from "@mdm/storage-core";
import { SqliteStorageBackend, backendFactory as sqliteFactory } from "@mdm/storage-sqlite";
import { backendFactory as legacySqliteFactory } from "@mdm/storage-sqlite-legacy";
import { StorageValidator } from "../src/index.js";

function manager(): StorageBackendManager {
  const m = new StorageBackendManager({ homeDir: mkdtempSync(join(tmpdir(), "mdm-validator-home-")), env: {} });
  m.register(sqliteFactory);
  m.register(legacySqliteFactory);
  return m;
}

/** Rounds every float it reads back to 6 digits: a backend that changes values silently. */
class RoundingSqlite extends SqliteStorageBackend {
  protected override async *_streamSelect(...args: Parameters<SqliteStorageBackend["_streamSelect"]>): AsyncIterable<Value[][]> {
    for await (const batch of super._streamSelect(...args)) yield batch.map((row) => row.map((v) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(6)) : v)));
  }
}

describe("StorageValidator", () => {
  it("passes the new SQLite backend: interface compliance, every shared conformance check, performance", async () => {
    const m = manager();
    const report = await new StorageValidator({ type: "sqlite", implementation: "new" }, { manager: m }).validateAll();
    expect(report.failed).toEqual([]);
    expect(report.backend).toBe("sqlite (new)");
    expect(report.passed).toContain("interface compliance: every IStorageBackend member");
    expect(report.passed.some((p) => p.startsWith("datasets: "))).toBe(true);
    expect(report.passed.some((p) => p.startsWith("fidelity: "))).toBe(true);
    expect(report.passed.some((p) => /^performance: wrote \d+ rows\/s, read \d+ rows\/s/.test(p))).toBe(true);
    expect(report.passed.length).toBeGreaterThan(100);
    expect(report.durationMs).toBeGreaterThan(0);
    // The checks ran on scratch homes, never on the manager's home.
    const user = new SqliteStorageBackend({ homeDir: m.homeDir });
    expect(await user.listDatasets()).toEqual([]);
    await user.close();
    rmSync(m.homeDir, { recursive: true, force: true });
  }, 300_000);

  it("fails a backend that changes values, naming the checks", async () => {
    const homes: string[] = [];
    const report = await new StorageValidator("sqlite", {
      createBackend: () => {
        const home = mkdtempSync(join(tmpdir(), "mdm-validator-rounding-"));
        homes.push(home);
        return { backend: new RoundingSqlite({ homeDir: home }), cleanup: () => rmSync(home, { recursive: true, force: true }) };
      },
      filter: (check) => check.group === "fidelity",
    }).validateAll();
    // Exactly the fixture whose values have more than 6 decimals; nothing else in the fidelity group.
    expect(report.failed.map((f) => f.check)).toEqual(["fidelity: fidelity: float64 finite values"]);
    expect(report.failed.find((f) => f.check.includes("float64"))?.error).toMatch(/changed/);
  }, 300_000);

  it("warns when the quick performance check is below the documented floor", async () => {
    class Slow extends SqliteStorageBackend {
      protected override async _insertRows(...args: Parameters<SqliteStorageBackend["_insertRows"]>): Promise<void> {
        await new Promise((r) => setTimeout(r, 1000));
        return super._insertRows(...args);
      }
    }
    const report = await new StorageValidator("sqlite", {
      createBackend: () => {
        const home = mkdtempSync(join(tmpdir(), "mdm-validator-slow-"));
        return { backend: new Slow({ homeDir: home }), cleanup: () => rmSync(home, { recursive: true, force: true }) };
      },
      filter: () => false,
      performanceRows: 10_000,
    }).validateAll();
    expect(report.failed).toEqual([]);
    expect(report.warnings.some((w) => /^performance: write \d+ rows\/s is below the floor of 10000 rows\/s$/.test(w))).toBe(true);
  }, 120_000);

  it("completes in a plain Node process (no test runner keeping the event loop alive), on legacy DuckDB", () => {
    const child = spawnSync(process.execPath, [fileURLToPath(new URL("./support/validate-child.mjs", import.meta.url))], { encoding: "utf8", timeout: 240_000 });
    expect(child.stdout).not.toContain("event loop drained");
    expect(child.stdout).toMatch(/^DONE \d+ passed, 0 failed$/m);
    expect(child.status).toBe(0);
  }, 300_000);
});

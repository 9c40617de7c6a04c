import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCodes,
  MdmError,
  StorageBackendManager,
  TableChecksum,
  conformance,
  getDefaultManager,
  isStorageBackend,
  type BackendFactory,
  type ColumnDef,
  type ConformanceTarget,
  type IStorageBackend,
  type Value,
} from "@mdm/storage-core";
import type { BackendRef } from "./types.js";

/** The documented performance floor: below it the validator warns (it never fails a backend on speed). */
export const PERFORMANCE_FLOOR_ROWS_PER_SECOND = 10_000;

export interface ValidatorOptions {
  /** Resolves backends given by type, and the package of a backend given as an instance. */
  manager?: StorageBackendManager;
  /**
   * Fresh, isolated backends for the checks. Default: a new instance of the same package per check, in a
   * temporary MDM home (and, for PostgreSQL, under a temporary database prefix), removed afterwards. The
   * checks create and drop datasets: they never run on the user's data.
   */
  createBackend?: () => Promise<ConformanceTarget> | ConformanceTarget;
  /** Rows of the quick performance check (default 20,000). */
  performanceRows?: number;
  /** Only the checks whose group or title this returns true for (default all). */
  filter?: (check: { group: string; title: string }) => boolean;
}

export interface ValidationReport {
  /** Titles of the checks that passed. */
  passed: string[];
  failed: Array<{ check: string; error: string }>;
  warnings: string[];
  durationMs: number;
  backend: string;
}

const PERF_COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "value", type: "float64" },
  { name: "label", type: "text" },
  { name: "flag", type: "boolean" },
];

/**
 * Checks a backend and reports passed, failed and warnings: interface compliance, then the conformance
 * checks shared with @mdm/testing's suite (datasets, tables, metadata, error handling, type round trips,
 * ...), then a quick performance check with a warning below a documented floor.
 */
export class StorageValidator {
  private readonly ref: BackendRef;
  private readonly options: ValidatorOptions;

  constructor(backend: BackendRef, options: ValidatorOptions = {}) {
    this.ref = backend;
    this.options = options;
  }

  private async factory(): Promise<{ label: string; make: () => Promise<ConformanceTarget> }> {
    if (this.options.createBackend) {
      const create = this.options.createBackend;
      const probe = await create();
      const label = `${probe.backend.backendType} (${probe.backend.implementation})`;
      await probe.backend.close();
      await probe.cleanup?.();
      return { label, make: async () => create() };
    }
    const manager = this.options.manager ?? getDefaultManager();
    let type: IStorageBackend["backendType"];
    let implementation: IStorageBackend["implementation"];
    if (isStorageBackend(this.ref)) {
      type = this.ref.backendType;
      implementation = this.ref.implementation;
    } else if (typeof this.ref === "string") {
      type = this.ref;
      implementation = manager.implementationFor(type);
    } else {
      type = this.ref.type;
      implementation = this.ref.implementation ?? manager.implementationFor(type);
    }
    const factory: BackendFactory = await manager.loadFactory(type, implementation);
    return {
      label: `${type} (${implementation})`,
      make: async () => {
        const home = mkdtempSync(join(tmpdir(), "mdm-validate-"));
        const config = structuredClone(manager.config);
        config.database.postgresql.database_prefix = `mdmv${randomBytes(3).toString("hex")}_`;
        const backend = factory.create({ homeDir: home, config });
        return {
          backend,
          cleanup: async () => {
            if (type === "postgresql") {
              const sweeper = factory.create({ homeDir: home, config });
              try {
                for (const name of await sweeper.listDatasets()) {
                  for (const staging of await sweeper.listStagingPaths(name)) await sweeper.dropDatabase(staging);
                  await sweeper.dropDataset(name);
                }
              } finally {
                await sweeper.close();
              }
            }
            rmSync(home, { recursive: true, force: true });
          },
        };
      },
    };
  }

  async validateAll(): Promise<ValidationReport> {
    const started = performance.now();
    const { label, make } = await this.factory();
    const report: ValidationReport = { passed: [], failed: [], warnings: [], durationMs: 0, backend: label };

    // Interface compliance: every member of IStorageBackend is there.
    await conformance.withConformanceBackend(make, async (backend) => {
      const engine = { backendType: backend.backendType, database: "x", id: 0 } as never;
      const members = [...conformance.everyAsyncCall(backend, engine, "x").map(([name]) => name), ...conformance.SYNCHRONOUS_MEMBERS];
      const missing = [...new Set(members)].filter((name) => !(name in backend));
      if (missing.length === 0) report.passed.push("interface compliance: every IStorageBackend member");
      else report.failed.push({ check: "interface compliance", error: `missing members: ${missing.join(", ")}` });
    });

    // The conformance checks, shared with @mdm/testing.
    const result = await conformance.runConformanceChecks({ name: label, createBackend: make, filter: this.options.filter });
    for (const r of result.results) {
      const title = `${r.group}: ${r.title}`;
      if (r.status === "passed") report.passed.push(title);
      else if (r.status === "failed") report.failed.push({ check: title, error: r.message ?? "failed" });
      else report.warnings.push(`skipped ${title}${r.message ? `: ${r.message}` : ""}`);
    }

    // A quick performance check.
    try {
      await conformance.withConformanceBackend(make, async (backend) => {
        const rows = this.options.performanceRows ?? 20_000;
        await backend.createDataset("perf");
        const engine = await backend.getDatasetEngine("perf");
        const data = function* () {
          for (let start = 0; start < rows; start += 5_000) {
            const batch: Value[][] = [];
            for (let i = start; i < Math.min(rows, start + 5_000); i++) batch.push([BigInt(i), i / 3, `label ${i}`, i % 2 === 0]);
            yield batch;
          }
        };
        let t = performance.now();
        await backend.writeBatches("perf", PERF_COLUMNS, data(), { engine });
        const write = rows / ((performance.now() - t) / 1000);
        t = performance.now();
        const sum = new TableChecksum(PERF_COLUMNS);
        for await (const batch of backend.readBatches("perf", { engine })) sum.addAll(batch.rows);
        const read = rows / ((performance.now() - t) / 1000);
        if (sum.count !== rows) throw new MdmError(ErrorCodes.VERIFICATION_FAILED, `read ${sum.count} rows of ${rows}`);
        report.passed.push(`performance: wrote ${Math.round(write)} rows/s, read ${Math.round(read)} rows/s (${rows} rows)`);
        for (const [what, rate] of [["write", write], ["read", read]] as const) {
          if (rate < PERFORMANCE_FLOOR_ROWS_PER_SECOND) {
            report.warnings.push(`performance: ${what} ${Math.round(rate)} rows/s is below the floor of ${PERFORMANCE_FLOOR_ROWS_PER_SECOND} rows/s`);
          }
        }
      });
    } catch (error) {
      report.failed.push({ check: "performance", error: error instanceof Error ? error.message : String(error) });
    }
    report.durationMs = performance.now() - started;
    return report;
  }
}

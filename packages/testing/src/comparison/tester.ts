import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BACKEND_TYPES,
  ErrorCodes,
  MdmError,
  StorageBackendManager,
  isMdmError,
  isStorageBackend,
  type BackendType,
  type IStorageBackend,
  type Implementation,
  type MdmConfig,
} from "@mdm/storage-core";
import { firstDifference, sameResult } from "./normalize.js";
import { SCENARIOS, type Scenario, type ScenarioContext } from "./scenarios.js";

/** One side of a comparison: a backend instance, or a type and implementation resolved through core's manager. */
export type ComparisonSide = IStorageBackend | { type: BackendType; implementation: Implementation };

export interface ComparisonOptions {
  /** Default: the legacy implementation of `backendType`. */
  baseline?: ComparisonSide;
  /** Default: the new implementation of `backendType`. */
  candidate?: ComparisonSide;
  backendType?: BackendType;
  /** Rows of the large performance test (default 100,000). */
  largeRows?: number;
  /** Timed runs of each performance test per side, after the warm-up (default 3). */
  repeats?: number;
  /** Untimed warm-up runs of each performance test per side (default 1). */
  warmup?: number;
  /** Configuration for backends made from a type (PostgreSQL server, SQLite PRAGMAs...). */
  config?: MdmConfig;
  /** Environment for the manager (default process.env). */
  env?: NodeJS.ProcessEnv;
  scenarios?: Scenario[];
  /** Called after each test with its result. */
  onResult?: (result: ComparisonResult) => void;
}

export interface SideOutcome {
  result?: unknown;
  error?: { code: string; message: string };
  /** Median duration in milliseconds (a single run for functional tests). */
  timeMs: number;
  runsMs: number[];
  /** (max - min) / 2 / median, in percent, over the timed runs. */
  spreadPct: number;
}

export interface ComparisonResult {
  test: string;
  kind: "functional" | "performance";
  passed: boolean;
  /** Set when both sides skipped the test (it counts neither as passed nor failed). */
  skipped?: string;
  baseline: SideOutcome;
  candidate: SideOutcome;
  /** baseline time / candidate time (above 1: the candidate is faster). */
  speedup: number | null;
  /** Why it failed. */
  reason?: string;
}

export interface ComparisonSummary {
  backendType: string;
  baseline: string;
  candidate: string;
  totalTests: number;
  passed: number;
  failed: number;
  skipped: number;
  /** passed / (passed + failed) × 100. */
  successRate: number;
  /** Sum of the baseline's times (ms). */
  baselineTime: number;
  candidateTime: number;
  /** candidateTime / baselineTime (below 1: the candidate is faster). */
  performanceRatio: number;
  results: ComparisonResult[];
  failedTests: Array<{ test: string; reason: string }>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function errorOf(error: unknown): { code: string; message: string } {
  if (isMdmError(error)) return { code: error.code, message: error.message };
  return { code: "NOT_AN_MDM_ERROR", message: error instanceof Error ? error.message : String(error) };
}

interface ResolvedSide {
  label: string;
  backend: IStorageBackend;
  peer: () => Promise<IStorageBackend>;
  cleanup: () => Promise<void>;
}

/**
 * Runs the same operations on two implementations of the storage interface, each side separately and
 * timed separately, compares the results deeply after normalisation, and reports success rate and speed.
 * An exception fails a test unless it is the error code that test expects on both sides.
 */
export class StorageComparisonTester {
  private readonly options: ComparisonOptions;
  private readonly runId = randomBytes(3).toString("hex");

  /** `new StorageComparisonTester("sqlite")` compares legacy and new SQLite, as the original did. */
  constructor(options: BackendType | ComparisonOptions) {
    this.options = typeof options === "string" ? { backendType: options } : { ...options };
    const type = this.options.backendType;
    if (type !== undefined && !(BACKEND_TYPES as readonly string[]).includes(type)) {
      throw new MdmError(ErrorCodes.BACKEND_UNAVAILABLE, `Unknown backend type ${JSON.stringify(type)}`);
    }
    if (!type && (!this.options.baseline || !this.options.candidate)) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "Give a backendType, or both a baseline and a candidate");
    }
  }

  private async resolve(side: ComparisonSide, role: string): Promise<ResolvedSide> {
    if (isStorageBackend(side)) {
      return { label: `${side.backendType} (${side.implementation})`, backend: side, peer: async () => side, cleanup: async () => undefined };
    }
    // Temporary data lives in a temp MDM home that is always removed, never in the user's home.
    const home = mkdtempSync(join(tmpdir(), `mdm-compare-${role}-`));
    const manager = new StorageBackendManager({ homeDir: home, config: this.options.config, env: this.options.env });
    const peers: IStorageBackend[] = [];
    let backend: IStorageBackend;
    try {
      backend = await manager.getStorageBackend(side.type, { implementation: side.implementation });
    } catch (error) {
      rmSync(home, { recursive: true, force: true });
      throw error;
    }
    return {
      label: `${side.type} (${side.implementation})`,
      backend,
      peer: async () => {
        const factory = await manager.loadFactory(side.type, side.implementation);
        const peer = factory.create({ homeDir: manager.homeDir, config: manager.config });
        peers.push(peer);
        return peer;
      },
      cleanup: async () => {
        for (const peer of peers) await peer.close().catch(() => undefined);
        await manager.clearCache().catch(() => undefined);
        rmSync(home, { recursive: true, force: true });
      },
    };
  }

  private async runSide(scenario: Scenario, side: ResolvedSide, index: number): Promise<SideOutcome> {
    const created = new Set<string>();
    let counter = 0;
    const ctx: ScenarioContext = {
      backend: side.backend,
      dataset: (suffix = "") => {
        // The same names on both sides (they run one after the other, and each side drops what it made),
        // so results that contain a name (metadata's dataset_name) compare equal.
        const name = `cmp${this.runId}_${index}_${counter++}${suffix ? `_${suffix}` : ""}`.slice(0, 59);
        created.add(name);
        return name;
      },
      openPeer: side.peer,
      largeRows: this.options.largeRows ?? 100_000,
    };
    const timed = scenario.kind === "performance";
    const warmup = timed ? (this.options.warmup ?? 1) : 0;
    const repeats = timed ? Math.max(1, this.options.repeats ?? 3) : 1;
    const runsMs: number[] = [];
    let result: unknown;
    try {
      for (let i = 0; i < warmup + repeats; i++) {
        const start = performance.now();
        result = await scenario.run(ctx);
        const elapsed = performance.now() - start;
        if (i >= warmup) runsMs.push(elapsed);
        await this.dropAll(side.backend, created);
      }
    } catch (error) {
      await this.dropAll(side.backend, created);
      return { error: errorOf(error), timeMs: runsMs.length ? median(runsMs) : 0, runsMs, spreadPct: 0 };
    }
    const mid = median(runsMs);
    const spreadPct = runsMs.length > 1 && mid > 0 ? ((Math.max(...runsMs) - Math.min(...runsMs)) / 2 / mid) * 100 : 0;
    return { result, timeMs: mid, runsMs, spreadPct };
  }

  private async dropAll(backend: IStorageBackend, names: Set<string>): Promise<void> {
    for (const name of names) {
      try {
        if (await backend.datasetExists(name)) await backend.dropDataset(name);
      } catch {
        // best effort: a dataset that cannot be dropped is reported by the next run's listing
      }
    }
  }

  /** Run every test on both sides and summarise. */
  async runAllTests(): Promise<ComparisonSummary> {
    const type = this.options.backendType;
    const baselineRef = this.options.baseline ?? { type: type as BackendType, implementation: "legacy" as const };
    const candidateRef = this.options.candidate ?? { type: type as BackendType, implementation: "new" as const };
    const baseline = await this.resolve(baselineRef, "baseline");
    let candidate: ResolvedSide;
    try {
      candidate = await this.resolve(candidateRef, "candidate");
    } catch (error) {
      await baseline.cleanup();
      throw error;
    }
    const results: ComparisonResult[] = [];
    try {
      const scenarios = this.options.scenarios ?? SCENARIOS;
      for (let i = 0; i < scenarios.length; i++) {
        const scenario = scenarios[i] as Scenario;
        const result = await this.runScenario(scenario, baseline, candidate, i);
        results.push(result);
        this.options.onResult?.(result);
      }
    } finally {
      await baseline.cleanup();
      await candidate.cleanup();
    }
    const counted = results.filter((r) => !r.skipped);
    const passed = counted.filter((r) => r.passed).length;
    const baselineTime = counted.reduce((n, r) => n + r.baseline.timeMs, 0);
    const candidateTime = counted.reduce((n, r) => n + r.candidate.timeMs, 0);
    return {
      backendType: type ?? `${baseline.backend.backendType} vs ${candidate.backend.backendType}`,
      baseline: baseline.label,
      candidate: candidate.label,
      totalTests: results.length,
      passed,
      failed: counted.length - passed,
      skipped: results.length - counted.length,
      successRate: counted.length === 0 ? 0 : (passed / counted.length) * 100,
      baselineTime,
      candidateTime,
      performanceRatio: baselineTime > 0 ? candidateTime / baselineTime : 1,
      results,
      failedTests: counted.filter((r) => !r.passed).map((r) => ({ test: r.test, reason: r.reason ?? "" })),
    };
  }

  private async runScenario(scenario: Scenario, baseline: ResolvedSide, candidate: ResolvedSide, index: number): Promise<ComparisonResult> {
    const skipA = scenario.skipReason?.(baseline.backend);
    const skipB = scenario.skipReason?.(candidate.backend);
    const empty: SideOutcome = { timeMs: 0, runsMs: [], spreadPct: 0 };
    if (skipA && skipB) {
      return { test: scenario.name, kind: scenario.kind, passed: true, skipped: skipA, baseline: empty, candidate: empty, speedup: null };
    }
    const a = skipA ? { ...empty, error: { code: "SKIPPED", message: skipA } } : await this.runSide(scenario, baseline, index);
    const b = skipB ? { ...empty, error: { code: "SKIPPED", message: skipB } } : await this.runSide(scenario, candidate, index);
    let reason: string | undefined;
    if (a.error || b.error) {
      reason = [a.error ? `baseline raised ${a.error.code}: ${a.error.message}` : "", b.error ? `candidate raised ${b.error.code}: ${b.error.message}` : ""]
        .filter(Boolean)
        .join("; ");
    } else if (scenario.assess && (scenario.assess(a.result) || scenario.assess(b.result))) {
      const ra = scenario.assess(a.result);
      const rb = scenario.assess(b.result);
      reason = [ra ? `baseline: ${ra}` : "", rb ? `candidate: ${rb}` : ""].filter(Boolean).join("; ");
    } else if (scenario.expected !== undefined) {
      const okA = sameResult(a.result, scenario.expected);
      const okB = sameResult(b.result, scenario.expected);
      if (!okA || !okB) {
        reason = `expected ${JSON.stringify(scenario.expected)}; ${okA ? "" : `baseline gave ${JSON.stringify(a.result)}`}${!okA && !okB ? "; " : ""}${okB ? "" : `candidate gave ${JSON.stringify(b.result)}`}`;
      }
    } else if (!sameResult(a.result, b.result)) {
      reason = `results differ at ${firstDifference(a.result, b.result)}`;
    }
    return {
      test: scenario.name,
      kind: scenario.kind,
      passed: reason === undefined,
      baseline: a,
      candidate: b,
      speedup: a.timeMs > 0 && b.timeMs > 0 ? a.timeMs / b.timeMs : null,
      reason,
    };
  }
}

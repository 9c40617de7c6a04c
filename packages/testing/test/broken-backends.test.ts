import { ErrorCodes, MdmError, SqlTimestamp, type BackendCapabilities, type ColumnDef, type SelectPlan, type Value } from "@mdm/storage-core";
import { describe, expect, it } from "vitest";
import {
  MemoryStorageBackend,
  checkFidelity,
  conformanceChecks,
  getFidelityFixture,
  runCheck,
  runConformanceChecks,
  type ConformanceCheck,
  type MemorySession,
} from "../src/index.js";

// Backends that are wrong in one way each. The checks must report failure for every one of them:
// a suite that passes a broken backend proves nothing.

function withValues(overrides: Partial<BackendCapabilities["values"]>): BackendCapabilities {
  const base = new MemoryStorageBackend().capabilities;
  return { ...base, values: { ...base.values, ...overrides } };
}

/** Stores int64 through a JS number, like better-sqlite3 without safeIntegers. */
class RoundingBackend extends MemoryStorageBackend {
  protected override async _insertRows(session: MemorySession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    const rounded = rows.map((row) => row.map((v) => (typeof v === "bigint" ? BigInt(Number(v)) : v)));
    return super._insertRows(session, table, columns, rounded);
  }
}

/** Turns NaN into NULL (SQLite's behaviour) while claiming to hold NaN. */
class NaNToNullBackend extends MemoryStorageBackend {
  protected override async _insertRows(session: MemorySession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    return super._insertRows(session, table, columns, rows.map((row) => row.map((v) => (typeof v === "number" && Number.isNaN(v) ? null : v))));
  }
}

/** Says it cannot hold NaN but stores it anyway: its capabilities lie. */
class UnderDeclaredBackend extends MemoryStorageBackend {
  override readonly capabilities = withValues({ nan: false });
}

/** Says it cannot hold NaN and refuses it properly: must pass. */
class HonestNoNaNBackend extends MemoryStorageBackend {
  override readonly capabilities = withValues({ nan: false });
  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    if (column.type !== "float64") return undefined;
    return (value) => {
      if (typeof value === "number" && Number.isNaN(value)) throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${column.name}: NaN cannot be stored`);
    };
  }
}

/** Refuses NaN, but with the wrong code. */
class WrongCodeBackend extends HonestNoNaNBackend {
  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    if (column.type !== "float64") return undefined;
    return (value) => {
      if (typeof value === "number" && Number.isNaN(value)) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "no NaN");
    };
  }
}

/** Strips NUL characters from text, like a careless PostgreSQL adapter. */
class NulStrippingBackend extends MemoryStorageBackend {
  protected override async _insertRows(session: MemorySession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    return super._insertRows(session, table, columns, rows.map((row) => row.map((v) => (typeof v === "string" ? v.replace(/\0/g, "") : v))));
  }
}

/** Truncates timestamps to milliseconds, like pg's default parser. */
class MillisecondBackend extends MemoryStorageBackend {
  protected override async *_streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    for await (const batch of super._streamSelect(session, plan, signal)) {
      yield batch.map((row) => row.map((v, i) => (plan.columns[i]?.type === "timestamp" && v !== null && typeof v === "object" && "micros" in v ? new (v.constructor as new (m: bigint) => Value)((v.micros / 1000n) * 1000n) : v)));
    }
  }
}

/** Stores timestamps as the local wall-clock reading of the process time zone (pg's naive-timestamp trap). */
class LocalTimeBackend extends MemoryStorageBackend {
  private static offsetMicros(micros: bigint): bigint {
    return BigInt(new Date(Number(micros / 1000n)).getTimezoneOffset()) * 60_000_000n;
  }
  protected override async _insertRows(session: MemorySession, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    const shifted = rows.map((row) => row.map((v) => (v instanceof SqlTimestamp ? new SqlTimestamp(v.micros - LocalTimeBackend.offsetMicros(v.micros)) : v)));
    return super._insertRows(session, table, columns, shifted);
  }
  protected override async *_streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    for await (const batch of super._streamSelect(session, plan, signal)) {
      yield batch.map((row) => row.map((v) => (v instanceof SqlTimestamp ? new SqlTimestamp(v.micros + LocalTimeBackend.offsetMicros(v.micros)) : v)));
    }
  }
}

/** Reports JSON columns as text: the values survive, the logical type does not. */
class TypeLosingBackend extends MemoryStorageBackend {
  protected override async _describeTable(session: MemorySession, table: string): Promise<ColumnDef[] | undefined> {
    return (await super._describeTable(session, table))?.map((c) => (c.type === "json" ? { ...c, type: "text" } : c));
  }
}

/** updateMetadata replaces the stored metadata instead of merging. */
class ReplacingMetadataBackend extends MemoryStorageBackend {
  protected override async _writeMetadata(session: MemorySession, entries: ReadonlyArray<readonly [string, string]>, updatedAt: string): Promise<void> {
    await this._dropMetadata(session);
    return super._writeMetadata(session, entries, updatedAt);
  }

  private async _dropMetadata(session: MemorySession): Promise<void> {
    if (await this._describeTable(session, "_metadata")) await this._dropTable(session, "_metadata");
  }
}

/** Ignores the batch size: one batch with every row. */
class OneBatchBackend extends MemoryStorageBackend {
  protected override _streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    return super._streamSelect(session, { ...plan, batchSize: Number.MAX_SAFE_INTEGER }, signal);
  }
}

/** No transactions: every write lands at once, so a failed writeBatches leaves its first batches. */
class NonAtomicBackend extends MemoryStorageBackend {
  protected override async _begin(): Promise<void> {}
  protected override async _commit(): Promise<void> {}
  protected override async _rollback(): Promise<void> {}
}

/** Ignores orderBy. */
class UnorderedBackend extends MemoryStorageBackend {
  protected override _streamSelect(session: MemorySession, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    // Ignores orderBy: rows come back in insertion order reversed.
    const inner = super._streamSelect(session, { ...plan, orderBy: [] }, signal);
    return (async function* () {
      const all: Value[][] = [];
      for await (const batch of inner) all.push(...batch);
      all.reverse();
      for (let i = 0; i < all.length; i += plan.batchSize) yield all.slice(i, i + plan.batchSize);
    })();
  }
}

const byTitle = (title: string): ConformanceCheck => {
  const found = conformanceChecks.find((c) => c.title === title);
  if (!found) throw new Error(`no check ${title}`);
  return found;
};

async function runOn(backend: () => MemoryStorageBackend, title: string) {
  return runCheck(byTitle(title), () => ({ backend: backend() }));
}

describe("the fidelity check catches a backend that changes values", () => {
  it("int64 rounded through a JS number fails at 2^53+1 and 2^63-1, and passes on the reference backend", async () => {
    const fixture = getFidelityFixture("int64 boundaries");
    const broken = await checkFidelity(new RoundingBackend(), fixture);
    expect(broken.passed).toBe(false);
    const failed = broken.values.filter((v) => !v.passed).map((v) => v.label);
    expect(failed).toContain("2^53+1");
    expect(failed).toContain("-2^53-1");
    expect(failed).not.toContain("0");
    expect(broken.values.find((v) => v.label === "2^53+1")?.outcome).toBe("changed");
    expect((await checkFidelity(new MemoryStorageBackend(), fixture)).passed).toBe(true);
  });

  it("NaN turned into NULL is a failure when capabilities say NaN is held", async () => {
    const report = await checkFidelity(new NaNToNullBackend(), getFidelityFixture("float64 NaN"));
    expect(report.passed).toBe(false);
    const nan = report.values.find((v) => v.label === "NaN");
    expect(nan).toMatchObject({ expected: "hold", outcome: "changed", passed: false });
    expect(nan?.detail).toContain("NULL");
  });

  it("a value held although capabilities say it cannot be is a failure (capabilities must not lie)", async () => {
    const report = await checkFidelity(new UnderDeclaredBackend(), getFidelityFixture("float64 NaN"));
    expect(report.passed).toBe(false);
    expect(report.values.find((v) => v.label === "NaN")).toMatchObject({ expected: "refuse", outcome: "held", passed: false });
  });

  it("a refusal with MDM_UNSUPPORTED_VALUE passes when capabilities say so, and checkValue agrees", async () => {
    const report = await checkFidelity(new HonestNoNaNBackend(), getFidelityFixture("float64 NaN"));
    expect(report.problems).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.values.find((v) => v.label === "NaN")).toMatchObject({ expected: "refuse", outcome: "refused", passed: true });
    expect(report.values.find((v) => v.label === "1.5")).toMatchObject({ expected: "hold", outcome: "held" });
  });

  it("a refusal with another code is a failure", async () => {
    const report = await checkFidelity(new WrongCodeBackend(), getFidelityFixture("float64 NaN"));
    expect(report.passed).toBe(false);
    expect(report.values.find((v) => v.label === "NaN")).toMatchObject({ outcome: "error", passed: false });
  });

  it("NUL stripped from text is a failure", async () => {
    const report = await checkFidelity(new NulStrippingBackend(), getFidelityFixture("NUL bytes in text"));
    expect(report.passed).toBe(false);
    expect(report.values.filter((v) => !v.passed).map((v) => v.label)).toEqual(["a\\0b", "\\0 alone", "trailing \\0"]);
  });

  it("timestamps truncated to milliseconds are a failure", async () => {
    const report = await checkFidelity(new MillisecondBackend(), getFidelityFixture("timestamps with microseconds"));
    expect(report.passed).toBe(false);
    expect(report.values.find((v) => v.label === "2024-01-01 00:00:00.123456")?.outcome).toBe("changed");
    expect(report.values.find((v) => v.label === "1970-01-01 00:00:00")?.passed).toBe(true);
  });

  it("a logical type that does not come back is a failure even when the values do", async () => {
    const report = await checkFidelity(new TypeLosingBackend(), getFidelityFixture("JSON texts"));
    expect(report.passed).toBe(false);
    expect(report.values.every((v) => v.outcome === "held")).toBe(true);
    expect(report.problems.join("\n")).toContain("read back as text, written as json");
  });
});

describe("the other checks catch broken backends", () => {
  it("updateMetadata that replaces instead of merging fails the merge check", async () => {
    const result = await runOn(() => new ReplacingMetadataBackend(), "updateMetadata merges: given keys replaced or added, other keys kept");
    expect(result.status).toBe("failed");
    expect(result.message).toContain("replaced key: expected \"new\", got undefined");
  });

  it("timestamps stored as local wall-clock time pass in one time zone but fail the time-zone check", async () => {
    expect((await checkFidelity(new LocalTimeBackend(), getFidelityFixture("timestamps with microseconds"))).passed).toBe(true);
    const result = await runOn(() => new LocalTimeBackend(), "fidelity: dates and timestamps do not depend on the process time zone (written under UTC+14, read under UTC-8)");
    expect(result.status).toBe("failed");
    expect(result.message).toContain("under UTC-8");
    expect((await runOn(() => new MemoryStorageBackend(), "fidelity: dates and timestamps do not depend on the process time zone (written under UTC+14, read under UTC-8)")).status).toBe("passed");
  });

  it("readBatches that ignores the batch size fails the batch-size check", async () => {
    const result = await runOn(() => new OneBatchBackend(), "readBatches yields batches of the requested size (7 rows by 3: 3, 3, 1)");
    expect(result).toMatchObject({ status: "failed" });
    expect(result.message).toContain("batch sizes");
  });

  it("writes without transactions fail the atomicity checks", async () => {
    const results = await runConformanceChecks({
      name: "non-atomic",
      createBackend: () => ({ backend: new NonAtomicBackend() }),
      filter: (c) => c.title.startsWith("writeBatches") && c.title.includes("atomic"),
    });
    expect(results.results.length).toBe(3);
    expect(results.failed).toBe(3);
  });

  it("reads that ignore orderBy fail the ordering checks", async () => {
    const result = await runOn(() => new UnorderedBackend(), "readTable orders by columns and applies limit after ordering");
    expect(result.status).toBe("failed");
  });

  it("every check passes on the reference backend through the plain runner", async () => {
    const report = await runConformanceChecks({ name: "memory", createBackend: () => ({ backend: new MemoryStorageBackend() }) });
    expect(report.failed, JSON.stringify(report.results.filter((r) => r.status === "failed"), null, 2)).toBe(0);
    expect(report.passed).toBe(conformanceChecks.length);
  });
});

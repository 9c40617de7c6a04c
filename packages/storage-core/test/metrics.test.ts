import { describe, expect, test } from "vitest";
import { MetricsCollector } from "../src/index.js";

describe("MetricsCollector", () => {
  test("count, mean, median, min, max, p95, p99 of one operation", () => {
    const m = new MetricsCollector();
    // 1..100 in a scrambled order
    for (let i = 0; i < 100; i++) m.record("storage.query", ((i * 37) % 100) + 1);
    const [s] = m.summary();
    expect(s).toEqual({ operation: "storage.query", tags: {}, count: 100, errors: 0, mean: 50.5, median: 50, min: 1, max: 100, p95: 95, p99: 99, rows: 0 });
  });

  test("small series: one sample, two samples", () => {
    const m = new MetricsCollector();
    m.record("one", 7);
    m.record("two", 10);
    m.record("two", 20);
    const byOp = Object.fromEntries(m.summary().map((s) => [s.operation, s]));
    expect(byOp.one).toMatchObject({ count: 1, mean: 7, median: 7, min: 7, max: 7, p95: 7, p99: 7 });
    expect(byOp.two).toMatchObject({ count: 2, mean: 15, median: 10, min: 10, max: 20, p95: 20, p99: 20 });
  });

  test("tags make separate series; the order of tag keys does not", () => {
    const m = new MetricsCollector();
    m.record("storage.write", 1, { table: "train", backend: "sqlite" });
    m.record("storage.write", 3, { backend: "sqlite", table: "train" });
    m.record("storage.write", 100, { backend: "sqlite", table: "test" });
    const summary = m.summary();
    expect(summary).toHaveLength(2);
    const train = summary.find((s) => s.tags.table === "train");
    const testTable = summary.find((s) => s.tags.table === "test");
    expect(train).toMatchObject({ count: 2, mean: 2, max: 3 });
    expect(testTable).toMatchObject({ count: 1, mean: 100 });
    // the summary hands out copies
    (train as { tags: Record<string, string> }).tags.table = "changed";
    expect(m.summary().some((s) => s.tags.table === "train")).toBe(true);
  });

  test("errors and rows are counted", () => {
    const m = new MetricsCollector();
    m.record("op", 1, {}, { rows: 10 });
    m.record("op", 1, {}, { rows: 5, error: true });
    expect(m.summary()[0]).toMatchObject({ count: 2, errors: 1, rows: 15 });
  });

  test("time() records successes with rows and failures as errors, and rethrows", async () => {
    const m = new MetricsCollector();
    const value = await m.time("load", { t: "x" }, async () => [1, 2, 3], (r) => r.length);
    expect(value).toEqual([1, 2, 3]);
    await expect(
      m.time("load", { t: "x" }, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    await m.time("load", { t: "x" }, async () => "no rows");
    const [s] = m.summary();
    expect(s).toMatchObject({ operation: "load", count: 3, errors: 1, rows: 3 });
    expect(s?.min).toBeGreaterThanOrEqual(0);
  });

  test("memory stays bounded past 10,000 samples while count and mean stay exact", () => {
    const m = new MetricsCollector();
    for (let i = 0; i < 12_000; i++) m.record("op", i < 10_000 ? 1 : 1000);
    const [s] = m.summary();
    expect(s?.count).toBe(12_000);
    expect(s?.mean).toBeCloseTo((10_000 + 2_000 * 1000) / 12_000, 10);
    // the ring replaced the oldest samples with the newest ones
    expect(s?.max).toBe(1000);
    expect(s?.p99).toBe(1000);
  });

  test("reset() forgets everything", () => {
    const m = new MetricsCollector();
    m.record("op", 1);
    m.reset();
    expect(m.summary()).toEqual([]);
  });
});

/** Summary statistics of one operation (durations in milliseconds). */
export interface MetricSummary {
  operation: string;
  tags: Record<string, string>;
  count: number;
  errors: number;
  mean: number;
  median: number;
  min: number;
  max: number;
  p95: number;
  p99: number;
  /** Rows moved by this operation, where it moves rows. */
  rows: number;
}

interface Series {
  operation: string;
  tags: Record<string, string>;
  durations: number[];
  errors: number;
  rows: number;
}

/** Keeps at most this many durations per series (a ring); count, errors and rows stay exact. */
const MAX_SAMPLES = 10_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

/**
 * Timings per operation and tag set: count, mean, median, min, max, p95 and p99. Tags are part of the
 * series key, so `{table: "train"}` and `{table: "test"}` are summarised apart.
 */
export class MetricsCollector {
  private readonly series = new Map<string, Series & { total: number; seen: number }>();

  record(operation: string, durationMs: number, tags: Record<string, string> = {}, options: { error?: boolean; rows?: number } = {}): void {
    const key = `${operation}\u0000${Object.keys(tags)
      .sort()
      .map((k) => `${k}=${tags[k]}`)
      .join("\u0000")}`;
    let s = this.series.get(key);
    if (!s) {
      s = { operation, tags: { ...tags }, durations: [], errors: 0, rows: 0, total: 0, seen: 0 };
      this.series.set(key, s);
    }
    if (s.durations.length < MAX_SAMPLES) s.durations.push(durationMs);
    else s.durations[s.seen % MAX_SAMPLES] = durationMs;
    s.seen++;
    s.total += durationMs;
    if (options.error) s.errors++;
    if (options.rows) s.rows += options.rows;
  }

  /** Time an async function and record it, also when it throws. */
  async time<T>(operation: string, tags: Record<string, string>, fn: () => Promise<T>, rowsOf?: (result: T) => number): Promise<T> {
    const start = performance.now();
    try {
      const result = await fn();
      this.record(operation, performance.now() - start, tags, { rows: rowsOf ? rowsOf(result) : 0 });
      return result;
    } catch (error) {
      this.record(operation, performance.now() - start, tags, { error: true });
      throw error;
    }
  }

  summary(): MetricSummary[] {
    return [...this.series.values()].map((s) => {
      const sorted = [...s.durations].sort((a, b) => a - b);
      return {
        operation: s.operation,
        tags: { ...s.tags },
        count: s.seen,
        errors: s.errors,
        mean: s.seen === 0 ? 0 : s.total / s.seen,
        median: percentile(sorted, 50),
        min: sorted[0] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        rows: s.rows,
      };
    });
  }

  reset(): void {
    this.series.clear();
  }
}

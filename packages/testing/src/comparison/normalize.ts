import { canonicalDecimal, isSqlDate, isSqlTimestamp, type Value } from "@mdm/storage-core";

/**
 * The normalisation applied before two results are compared (documented in the README):
 * - integers (bigint) and numbers that hold an integer compare by their decimal value when `looseNumbers`
 *   is on (query results of two engines may type COUNT(*) differently); otherwise a bigint never equals a
 *   number;
 * - floats compare by exact value: NaN equals NaN, -0 differs from 0;
 * - decimals by numeric value (`1.50` = `1.5`);
 * - bytes by content, dates by day, timestamps by microsecond;
 * - rows of unordered results are sorted by their normalised text.
 */
export function normalizeValue(value: Value, looseNumbers = false): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "bigint":
      return looseNumbers ? { num: value.toString() } : { int: value.toString() };
    case "number":
      if (Number.isNaN(value)) return { float: "NaN" };
      if (Object.is(value, -0)) return { float: "-0" };
      if (looseNumbers && Number.isFinite(value)) return { num: canonicalDecimal(String(value)) };
      return { float: String(value) };
    case "boolean":
    case "string":
      return value;
    default:
      if (value instanceof Uint8Array) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.length).toString("hex") };
      if (isSqlDate(value)) return { date: value.toString() };
      if (isSqlTimestamp(value)) return { timestamp: value.micros.toString() };
      return { unknown: String(value) };
  }
}

/** Rows normalised and, when the order is not part of the result, sorted. */
export function normalizeRows(rows: readonly (readonly Value[])[], options: { ordered?: boolean; looseNumbers?: boolean } = {}): unknown[] {
  const out = rows.map((row) => row.map((v) => normalizeValue(v, options.looseNumbers)));
  if (options.ordered) return out;
  return out
    .map((row) => [JSON.stringify(row), row] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, row]) => row);
}

/** Deep equality of two normalised results. */
export function sameResult(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A short text of a normalised result for reports. */
export function describeResult(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** Where two normalised results first differ: a path and both values (for failure reasons). */
export function firstDifference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (sameResult(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const found = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
      if (found) return found;
    }
  }
  return `${path}: baseline ${describeResult(a, 120)}, candidate ${describeResult(b, 120)}`;
}

import { isMdmError, type ErrorCode } from "../errors.js";
import { type ColumnDef, type LogicalType, type Value } from "../types.js";
import { formatValue, valuesEqual } from "../values.js";

/** Thrown by a conformance check that found the backend wrong. Its message says what was expected. */
export class ConformanceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConformanceFailure";
  }
}

export function fail(message: string): never {
  throw new ConformanceFailure(message);
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

/** Rendering of any value for messages (bigints with `n`, strings quoted, bytes counted). */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value === null || typeof value === "string" || value instanceof Uint8Array || typeof value === "boolean") return formatValue(value as Value);
  if (typeof value === "object" && typeof (value as { toString?: unknown }).toString === "function" && (value as object).toString !== Object.prototype.toString) {
    return `${(value as object).constructor?.name ?? "object"}(${String(value)})`;
  }
  try {
    return JSON.stringify(value, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));
  } catch {
    return String(value);
  }
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Same JSON-like structure (arrays, plain objects, primitives; bigint and -0 exact). */
export function sameStructure(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameStructure(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameStructure(ka, kb) && ka.every((k) => sameStructure((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

export function checkDeepEqual(actual: unknown, expected: unknown, what: string): void {
  if (!sameStructure(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Equal in the value model (valuesEqual) and of the JS type the logical type prescribes. */
export function checkValue(type: LogicalType, actual: Value, expected: Value, what: string): void {
  if (!valuesEqual(type, actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Rows (arrays in the order of `columns`) equal cell by cell with valuesEqual. */
export function checkRows(columns: readonly ColumnDef[], actual: readonly (readonly Value[])[], expected: readonly (readonly Value[])[], what: string): void {
  checkEqual(actual.length, expected.length, `${what}: row count`);
  for (let r = 0; r < expected.length; r++) {
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c] as ColumnDef;
      checkValue(column.type, (actual[r] as Value[])[c] as Value, (expected[r] as Value[])[c] as Value, `${what}: row ${r}, column ${JSON.stringify(column.name)}`);
    }
  }
}

/** The MdmError code of a failed call, or a failure when it did not fail as expected. */
export async function rejectsWith(call: () => unknown, codes: ErrorCode | readonly ErrorCode[], what: string): Promise<void> {
  const wanted = typeof codes === "string" ? [codes] : codes;
  let result: unknown;
  try {
    result = await call();
  } catch (error) {
    if (!isMdmError(error)) {
      fail(`${what}: expected an MdmError ${wanted.join(" or ")}, got ${error instanceof Error ? `${error.name}: ${error.message}` : show(error)}`);
    }
    if (!wanted.includes(error.code)) fail(`${what}: expected ${wanted.join(" or ")}, got ${error.code} (${error.message})`);
    if (typeof error.message !== "string" || error.message.trim() === "") fail(`${what}: the ${error.code} error has no message`);
    return;
  }
  fail(`${what}: expected a rejection with ${wanted.join(" or ")}, but it succeeded${result === undefined ? "" : ` with ${show(result)}`}`);
}

/** Drain an async iterable (readBatches) so that its errors surface. */
export async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

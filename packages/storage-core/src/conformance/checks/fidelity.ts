import { ErrorCodes, isMdmError, type ErrorCode } from "../../errors.js";
import { type IStorageBackend } from "../../interface.js";
import { type ColumnDef, type StorageEngine, type Value } from "../../types.js";
import { SqlDate, SqlTimestamp, valuesEqual } from "../../values.js";
import { ConformanceFailure, rejectsWith, show } from "../assert.js";
import { columnMayBeRefused, expectedOutcome, fidelityFixtures, type FidelityExpectation, type FidelityFixture, type FidelityValue } from "../fixtures.js";
import { EVERY_TYPE_COLUMNS, defineCheck, openDataset, type ConformanceCheck } from "./support.js";

const ID: ColumnDef = { name: "id", type: "int64" };

/** What happened to one fixture value. */
export type FidelityOutcome =
  /** Written and read back exactly. */
  | "held"
  /** Refused with MDM_UNSUPPORTED_VALUE (or MDM_UNSUPPORTED_TYPE for a column beyond the backend), nothing left behind. */
  | "refused"
  /** Written, but read back different (or not at all): the silent change this project exists to prevent. */
  | "changed"
  /** Any other error, or a refusal that left a table behind. */
  | "error";

export interface FidelityValueResult {
  label: string;
  expected: FidelityExpectation;
  outcome: FidelityOutcome;
  passed: boolean;
  /** Why it failed (or how it was refused). */
  detail?: string;
}

export interface FidelityReport {
  fixture: string;
  passed: boolean;
  values: FidelityValueResult[];
  /** Problems that are not about one value (the logical type read back, checkValue disagreeing). */
  problems: string[];
}

function errorText(error: unknown): string {
  if (isMdmError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function refusalCodes(fixture: FidelityFixture, backend: IStorageBackend): ErrorCode[] {
  return columnMayBeRefused(fixture.column, backend.capabilities) ? [ErrorCodes.UNSUPPORTED_VALUE, ErrorCodes.UNSUPPORTED_TYPE] : [ErrorCodes.UNSUPPORTED_VALUE];
}

/** Read a fixture table back as a map id -> value, also checking the logical type of the column. */
async function readBack(backend: IStorageBackend, engine: StorageEngine, table: string, column: ColumnDef, problems: string[]): Promise<Map<bigint, Value>> {
  // Read from storage, not from what the connection still holds: DuckDB's checkpoint compresses columns,
  // and its constant/RLE encodings once turned 0.0 into -0.0 only then.
  await backend.releaseEngine(engine);
  const info = await backend.getTableInfo(table, engine);
  const stored = info.columns.find((c) => c.name === column.name);
  if (!stored) problems.push(`table ${table} has no column ${JSON.stringify(column.name)} (columns: ${info.columns.map((c) => c.name).join(", ")})`);
  else {
    if (stored.type !== column.type) problems.push(`column type read back as ${stored.type}, written as ${column.type}`);
    if (column.type === "decimal" && stored.precision !== undefined && (stored.precision !== column.precision || (stored.scale ?? 0) !== (column.scale ?? 0))) {
      problems.push(`decimal(${column.precision},${column.scale}) read back as decimal(${stored.precision},${stored.scale})`);
    }
  }
  const df = await backend.readTable(table, { engine, orderBy: ["id"] });
  const readType = df.columns.find((c) => c.name === column.name)?.type;
  if (readType !== undefined && readType !== column.type) problems.push(`readTable() typed the column ${readType}, written as ${column.type}`);
  const out = new Map<bigint, Value>();
  for (const row of df.rows) {
    const id = row.id;
    if (typeof id !== "bigint") {
      problems.push(`the int64 id column read back as ${typeof id} ${show(id)}`);
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(row, column.name)) {
      problems.push(`a row read back has no key ${JSON.stringify(column.name)}`);
      continue;
    }
    out.set(id, row[column.name] as Value);
  }
  return out;
}

function compare(column: ColumnDef, item: FidelityValue, actual: Value | undefined): string | undefined {
  if (actual === undefined) return "the row did not come back";
  if (!valuesEqual(column.type, actual, item.value)) return `wrote ${show(item.value)}, read back ${show(actual)}`;
  return undefined;
}

/** Does checkValue() agree with what the write did? */
function checkValueAgrees(backend: IStorageBackend, column: ColumnDef, item: FidelityValue, refused: boolean): string | undefined {
  try {
    backend.checkValue(column, item.value);
    return refused ? `checkValue() accepts ${item.label} although the write refused it (a migration preflight would miss it)` : undefined;
  } catch (error) {
    if (!refused) return `checkValue() rejects ${item.label} (${errorText(error)}) although the backend holds it`;
    return isMdmError(error, ErrorCodes.UNSUPPORTED_VALUE) ? undefined : `checkValue() rejected ${item.label} with ${errorText(error)}, expected MDM_UNSUPPORTED_VALUE`;
  }
}

/**
 * Write every value of a fixture and read it back. Values the backend must hold are written together
 * (one writeBatches call into `fx_<fixture>_hold`, then one value per table if that fails, to find
 * the culprit); every other value is written alone into `fx_<fixture>_<index>`, so a refusal can be told apart. Returns a report; never throws for a
 * backend fault (only when the dataset cannot be created).
 */
export async function checkFidelity(backend: IStorageBackend, fixture: FidelityFixture, engine?: StorageEngine): Promise<FidelityReport> {
  const target = engine ?? (await openDataset(backend, "fidelity"));
  const columns = [ID, fixture.column];
  const problems: string[] = [];
  const results: FidelityValueResult[] = fixture.values.map((item) => ({
    label: item.label,
    expected: expectedOutcome(fixture, item, backend.capabilities),
    outcome: "error",
    passed: false,
  }));
  const codes = refusalCodes(fixture, backend);
  const prefix = `fx_${fixture.name.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "")}`;

  /** Write items alone (index i → table fx_i); classify each. */
  const writeAlone = async (index: number): Promise<void> => {
    const item = fixture.values[index] as FidelityValue;
    const result = results[index] as FidelityValueResult;
    const table = `${prefix}_${index}`;
    try {
      await backend.writeBatches(table, columns, [[[BigInt(index), item.value]]], { engine: target });
    } catch (error) {
      const refused = isMdmError(error) && (codes as string[]).includes(error.code);
      const leftover = await backend.tableExists(table, target).catch(() => false);
      if (refused && !leftover) {
        result.outcome = "refused";
        result.detail = errorText(error);
        if (error.code === ErrorCodes.UNSUPPORTED_VALUE) {
          const disagreement = checkValueAgrees(backend, fixture.column, item, true);
          if (disagreement) problems.push(disagreement);
        }
      } else {
        result.outcome = "error";
        result.detail = leftover ? `the refused write left table ${table} behind (${errorText(error)})` : errorText(error);
      }
      return;
    }
    const back = await readBack(backend, target, table, fixture.column, problems);
    const difference = compare(fixture.column, item, back.get(BigInt(index)));
    result.outcome = difference ? "changed" : "held";
    result.detail = difference;
    const disagreement = difference ? undefined : checkValueAgrees(backend, fixture.column, item, false);
    if (disagreement) problems.push(disagreement);
  };

  const mustHold = results.map((r, i) => (r.expected === "hold" ? i : -1)).filter((i) => i >= 0);
  if (mustHold.length > 0) {
    let together = true;
    try {
      await backend.writeBatches(`${prefix}_hold`, columns, [mustHold.map((i) => [BigInt(i), (fixture.values[i] as FidelityValue).value])], { engine: target });
    } catch {
      together = false;
    }
    if (together) {
      const back = await readBack(backend, target, `${prefix}_hold`, fixture.column, problems);
      for (const i of mustHold) {
        const item = fixture.values[i] as FidelityValue;
        const result = results[i] as FidelityValueResult;
        const difference = compare(fixture.column, item, back.get(BigInt(i)));
        result.outcome = difference ? "changed" : "held";
        result.detail = difference;
        const disagreement = difference ? undefined : checkValueAgrees(backend, fixture.column, item, false);
        if (disagreement) problems.push(disagreement);
      }
      if (back.size !== mustHold.length) problems.push(`${back.size} rows read back from ${prefix}_hold, ${mustHold.length} written`);
    } else {
      for (const i of mustHold) await writeAlone(i);
    }
  }
  for (let i = 0; i < results.length; i++) if ((results[i] as FidelityValueResult).expected !== "hold") await writeAlone(i);

  for (const result of results) {
    if (result.expected === "hold") result.passed = result.outcome === "held";
    else if (result.expected === "refuse") {
      result.passed = result.outcome === "refused";
      if (result.outcome === "held") {
        result.detail = `held exactly, but capabilities.values.${fixture.capability} says it cannot be: refuse it or declare the capability`;
      }
    } else result.passed = result.outcome === "held" || result.outcome === "refused";
    if (!result.passed && result.expected === "hold" && result.outcome === "error" && result.detail?.includes(ErrorCodes.UNSUPPORTED_VALUE)) {
      result.detail += fixture.capability ? ` (capabilities.values.${fixture.capability} says it must be held)` : " (every backend must hold it)";
    }
  }
  return { fixture: fixture.name, passed: problems.length === 0 && results.every((r) => r.passed), values: results, problems: [...new Set(problems)] };
}

/** A failure message listing every value that did not behave. */
export function describeFidelityFailures(report: FidelityReport): string {
  const lines = report.values.filter((r) => !r.passed).map((r) => `  ${r.label}: expected ${r.expected}, ${r.outcome}${r.detail ? ` - ${r.detail}` : ""}`);
  for (const p of report.problems) lines.push(`  ${p}`);
  return `fidelity fixture ${JSON.stringify(report.fixture)} failed:\n${lines.join("\n")}`;
}

export function fidelityCheckTitle(fixture: FidelityFixture): string {
  return `fidelity: ${fixture.name}`;
}

export const fidelityChecks: ConformanceCheck[] = [
  ...fidelityFixtures.map((fixture) =>
    defineCheck("fidelity", fidelityCheckTitle(fixture), async (backend) => {
      const report = await checkFidelity(backend, fixture);
      if (!report.passed) throw new ConformanceFailure(describeFidelityFailures(report));
    }),
  ),
  defineCheck("fidelity", "fidelity: a row of NULLs in every type, and a table entirely NULL", async (backend) => {
    const engine = await openDataset(backend, "fidelity");
    const nulls = EVERY_TYPE_COLUMNS.map(() => null);
    await backend.writeBatches("all_null", [ID, ...EVERY_TYPE_COLUMNS], [[[1n, ...nulls], [2n, ...nulls]]], { engine });
    const df = await backend.readTable("all_null", { engine, orderBy: ["id"] });
    if (df.rows.length !== 2) throw new ConformanceFailure(`2 rows written, ${df.rows.length} read back`);
    for (const row of df.rows) {
      for (const column of EVERY_TYPE_COLUMNS) {
        if (row[column.name] !== null) throw new ConformanceFailure(`NULL in column ${column.name} (${column.type}) read back as ${show(row[column.name])}`);
      }
    }
    const info = await backend.getTableInfo("all_null", engine);
    const types = info.columns.slice(1).map((c) => c.type);
    const expected = EVERY_TYPE_COLUMNS.map((c) => c.type);
    if (types.join() !== expected.join()) throw new ConformanceFailure(`logical types read back as ${types.join(", ")}, written as ${expected.join(", ")}`);
  }),

  defineCheck("fidelity", "fidelity: values outside the value model are refused with MDM_UNSUPPORTED_VALUE and leave nothing (2^63, lone surrogate, invalid JSON, sub-microsecond)", async (backend) => {
    const engine = await openDataset(backend, "fidelity");
    const cases: Array<[string, ColumnDef, unknown]> = [
      ["int64 2^63 (A3)", { name: "v", type: "int64" }, 2n ** 63n],
      ["int64 -2^63-1", { name: "v", type: "int64" }, -(2n ** 63n) - 1n],
      ["text with a lone surrogate (A16)", { name: "v", type: "text" }, "\uD800x"],
      ["invalid JSON text", { name: "v", type: "json" }, "{not json"],
      ["timestamp with nanoseconds", { name: "v", type: "timestamp" }, "2024-01-01 00:00:00.1234567"],
      ["timestamp text with an offset in a timestamp column", { name: "v", type: "timestamp" }, "2024-01-01 00:00:00+05"],
      ["decimal(5,2) value with 3 decimals", { name: "v", type: "decimal", precision: 5, scale: 2 }, "1.234"],
    ];
    for (const [label, column, value] of cases) {
      const table = `refused_${label.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}`;
      await rejectsWith(() => backend.writeBatches(table, [ID, column], [[[1n, value as Value]]], { engine }), ErrorCodes.UNSUPPORTED_VALUE, label);
      if (await backend.tableExists(table, engine)) throw new ConformanceFailure(`${label}: the refused write left table ${table} behind`);
      await rejectsWith(() => backend.checkValue(column, value as Value), ErrorCodes.UNSUPPORTED_VALUE, `checkValue(): ${label}`);
    }
  }),

  defineCheck("fidelity", "fidelity: dates and timestamps do not depend on the process time zone (written under UTC+14, read under UTC-8)", async (backend) => {
    const engine = await openDataset(backend, "fidelity");
    const columns: ColumnDef[] = [ID, ...EVERY_TYPE_COLUMNS.filter((c) => c.type === "date" || c.type === "timestamp" || c.type === "timestamptz")];
    const rows: Value[][] = [
      [1n, SqlDate.parse("1969-12-31"), SqlTimestamp.parse("2024-03-31 02:30:00"), SqlTimestamp.parse("2024-03-31 01:30:00.000001Z")],
      [2n, SqlDate.parse("0001-01-01"), SqlTimestamp.parse("1960-01-01 00:00:00.000001"), SqlTimestamp.parse("1969-12-31 23:59:59.999999Z")],
      [3n, SqlDate.parse("2000-02-29"), SqlTimestamp.parse("2024-10-27 02:30:00.5"), SqlTimestamp.parse("2024-01-01 00:00:00+14")],
    ];
    const saved = process.env.TZ;
    try {
      process.env.TZ = "Pacific/Kiritimati";
      await backend.writeBatches("zoned", columns, [rows], { engine });
      await backend.closeConnections(); // the next session starts under the other zone
      process.env.TZ = "America/Los_Angeles";
      const df = await backend.readTable("zoned", { engine, orderBy: ["id"] });
      for (let r = 0; r < rows.length; r++) {
        for (let c = 1; c < columns.length; c++) {
          const column = columns[c] as ColumnDef;
          const wrote = (rows[r] as Value[])[c] as Value;
          const read = df.rows[r]?.[column.name] ?? null;
          if (!valuesEqual(column.type, read, wrote)) {
            throw new ConformanceFailure(`${column.type} written as ${show(wrote)} under UTC+14 read back as ${show(read)} under UTC-8`);
          }
        }
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  }),
];


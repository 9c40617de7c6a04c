import type { BackendCapabilities, ColumnDef, SpecialValue, Value } from "./types.js";
import { SPECIAL_VALUE_TYPES } from "./types.js";

/**
 * The coercion table: what a value becomes when the target cannot hold it and the caller asked for
 * `coerceUnsupported` (CLI `--coerce-unsupported`). One entry per kind of `BackendCapabilities.values`;
 * each is the nearest value every backend holds. Without the option such a value is refused.
 */
export interface Coercion {
  /** The column type the kind occurs in. */
  type: ColumnDef["type"];
  /** What the value is, for a message (`NaN`). */
  value: string;
  /** What it becomes, for a message (`NULL`). */
  becomes: string;
  /** Whether `v` (a value of a column of `type`) is of this kind. */
  test(v: Value): boolean;
  /** The value it becomes (only called where `test` is true). */
  coerce(v: Value): Value;
}

const NUL = /\u0000/g;

/** Whether a parsed JSON value has a U+0000 in a string or a key. */
function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(hasNul);
  if (value !== null && typeof value === "object") return Object.entries(value).some(([k, v]) => k.includes("\u0000") || hasNul(v));
  return false;
}

/** A parsed JSON value with every U+0000 removed from its strings and keys. */
function withoutNul(value: unknown): unknown {
  if (typeof value === "string") return value.replace(NUL, "");
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(NUL, ""), withoutNul(v)]));
  return value;
}

export const COERCIONS: Readonly<Record<SpecialValue, Coercion>> = {
  nan: { type: "float64", value: "NaN", becomes: "NULL", test: (v) => typeof v === "number" && Number.isNaN(v), coerce: () => null },
  infinity: { type: "float64", value: "±Infinity", becomes: "NULL", test: (v) => v === Infinity || v === -Infinity, coerce: () => null },
  negativeZero: { type: "float64", value: "-0.0", becomes: "0.0", test: (v) => v === 0 && 1 / (v as number) < 0, coerce: () => 0 },
  nulInText: { type: "text", value: "text with U+0000", becomes: "the text without its U+0000 characters", test: (v) => typeof v === "string" && v.includes("\u0000"), coerce: (v) => (v as string).replace(NUL, "") },
  nulInJson: { type: "json", value: "JSON with \\u0000", becomes: "the JSON without its \\u0000 characters", test: (v) => typeof v === "string" && v.includes("\\u0000") && hasNul(JSON.parse(v)), coerce: (v) => JSON.stringify(withoutNul(JSON.parse(v as string))) },
};

/** The kinds of value a column of this type may hold that a backend with these capabilities cannot. */
export function unsupportedKinds(column: Pick<ColumnDef, "type">, values: BackendCapabilities["values"]): SpecialValue[] {
  return (Object.keys(SPECIAL_VALUE_TYPES) as SpecialValue[]).filter((kind) => SPECIAL_VALUE_TYPES[kind] === column.type && !values[kind]);
}

/**
 * What a coerced value was: a kind the target cannot hold, or `unconverted`, a value that does not convert to
 * the type the user chose for its column (`--dtype`, `--cast`), stored as NULL.
 */
export type CoercedKind = SpecialValue | "unconverted";

/** Coerced values counted per column and kind (`{ x: { nan: 3 } }`): what a result, a summary and the metadata report. */
export type CoercedCounts = Record<string, Partial<Record<CoercedKind, number>>>;

/** How a summary names each kind and what it became. */
const COERCED_TEXT: Readonly<Record<CoercedKind, { value: string; becomes: string }>> = {
  ...COERCIONS,
  unconverted: { value: "values that do not convert to the chosen type", becomes: "NULL" },
};

/** Count one coerced value of `column`. */
export function countCoerced(counts: CoercedCounts, column: string, kind: CoercedKind): void {
  const ofColumn = (counts[column] ??= {});
  ofColumn[kind] = (ofColumn[kind] ?? 0) + 1;
}

/**
 * Coerce, in place, the values of `rows` the target cannot hold, counting them into `counts`. `columns`
 * are the rows' columns in order. Returns a function for each batch, or undefined when no column needs it.
 */
export function rowCoercer(columns: readonly ColumnDef[], values: BackendCapabilities["values"], counts: CoercedCounts): ((rows: Value[][]) => Value[][]) | undefined {
  const plan = columns
    .map((column, index) => ({ column, index, kinds: unsupportedKinds(column, values).map((kind) => ({ kind, coercion: COERCIONS[kind] })) }))
    .filter((p) => p.kinds.length > 0);
  if (plan.length === 0) return undefined;
  return (rows) => {
    for (const row of rows) {
      for (const { column, index, kinds } of plan) {
        const v = row[index] as Value;
        if (v === null) continue;
        for (const { kind, coercion } of kinds) {
          if (!coercion.test(v)) continue;
          row[index] = coercion.coerce(v);
          countCoerced(counts, column.name, kind);
          break;
        }
      }
    }
    return rows;
  };
}

/** The counts as one line per column for a summary (`x: 2 NaN -> NULL`). */
export function coercedLines(counts: CoercedCounts): string[] {
  return Object.entries(counts).flatMap(([column, kinds]) =>
    Object.entries(kinds).map(([kind, n]) => `${column}: ${n} ${COERCED_TEXT[kind as CoercedKind].value} -> ${COERCED_TEXT[kind as CoercedKind].becomes}`),
  );
}

import {
  COERCIONS,
  ConversionFailure,
  ErrorCodes,
  MdmError,
  columnTypeText,
  compileDateFormat,
  countCoerced,
  formatValue,
  isMdmError,
  parseColumnType,
  unsupportedKinds,
  valueConverter,
  type BackendCapabilities,
  type CoercedCounts,
  type ColumnDef,
  type Value,
} from "@mdm/storage-core";
import { UsageError } from "../exit-codes.js";
import type { TableSource } from "./table-source.js";

/**
 * Column types the user chooses at registration: `--dtype col=type` (repeatable), `--parse-dates col[,col]`
 * with an optional `--date-format` (Python `strptime` directives) for those columns, as pandas' `parse_dates`
 * and `date_format`; a `--dtype` of a date or timestamp type reads ISO texts. A chosen column is read as the file's
 * text (CSV, JSON; a Parquet column as its own type) and each value converted in JavaScript by core's
 * `valueConverter`, the same conversions `mdm migrate --cast` makes: a value that does not convert is refused
 * naming its file line, or with `--coerce-unsupported` stored as NULL and counted.
 */

export interface ChosenType {
  type: ColumnDef["type"];
  precision?: number;
  scale?: number;
  dateFormat?: string;
  /** The option as the user gave it, for messages and `dataset info`. */
  option: string;
  /** `--parse-dates` without a format: the type inference found when it is a date or a timestamp. */
  keepTemporal?: boolean;
}

/** What `dataset info` says of a column's type: where it came from. */
export interface ColumnTypeOrigin {
  origin: "chosen" | "cast";
  option: string;
  /** The type it was converted from (the file's text, or the source dataset's type). */
  from: string;
}

export function chosenTypes(options: { dtype?: string[]; parseDates?: string; dateFormat?: string }): Map<string, ChosenType> {
  const chosen = new Map<string, ChosenType>();
  const format = options.dateFormat === undefined ? undefined : usage(() => compileDateFormat(options.dateFormat as string), "--date-format");
  for (const spec of options.dtype ?? []) {
    const at = spec.lastIndexOf("=");
    const column = spec.slice(0, at).trim();
    if (at < 0 || column === "") throw new UsageError(`--dtype takes column=type (for example --dtype zip=text), got ${JSON.stringify(spec)}`);
    const type = usage(() => parseColumnType(spec.slice(at + 1)), `--dtype ${spec}`);
    if (chosen.has(column)) throw new UsageError(`--dtype: column ${JSON.stringify(column)} is given twice`);
    chosen.set(column, { ...type, option: `--dtype ${spec}` });
  }
  const dates = (options.parseDates ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (format && dates.length === 0) throw new UsageError("--date-format applies to the columns of --parse-dates; name them");
  for (const column of dates) {
    if (chosen.has(column)) throw new UsageError(`Column ${JSON.stringify(column)} is in both --dtype and --parse-dates; keep one`);
    const option = `--parse-dates ${column}${options.dateFormat === undefined ? "" : ` --date-format ${options.dateFormat}`}`;
    if (format) chosen.set(column, { type: format.hasOffset ? "timestamptz" : format.hasTime ? "timestamp" : "date", dateFormat: options.dateFormat, option });
    else chosen.set(column, { type: "timestamp", keepTemporal: true, option });
  }
  return chosen;
}

function usage<T>(f: () => T, option: string): T {
  try {
    return f();
  } catch (error) {
    if (isMdmError(error, ErrorCodes.INVALID_ARGUMENT)) throw new UsageError(`${option}: ${error.message}`);
    throw error;
  }
}

/** Every chosen column names a column of some table. */
export function checkChosenColumns(chosen: Map<string, ChosenType>, tables: Array<{ table: string; source: TableSource }>): void {
  for (const [column, choice] of chosen) {
    if (!tables.some((t) => t.source.columns.some((c) => c.name === column))) {
      const names = tables.map((t) => `${t.table}: ${t.source.columns.map((c) => c.name).join(", ")}`).join("; ");
      throw new UsageError(`${choice.option}: no table has a column ${JSON.stringify(column)} (${names})`);
    }
  }
}

interface ColumnPlan {
  index: number;
  column: ColumnDef;
  choice: ChosenType;
  convert: (v: Value) => Value;
  kinds: ReturnType<typeof unsupportedKinds>;
}

/**
 * The source with the chosen columns converted, and where each chosen type came from; the source itself when
 * none of its columns is chosen. `counts` receives the coerced values (with `coerce`).
 */
export function withChosenTypes(
  source: TableSource,
  table: string,
  chosen: Map<string, ChosenType>,
  target: { backendType: string; values: BackendCapabilities["values"] },
  coerce: boolean,
  counts: CoercedCounts,
): { source: TableSource; origins: Record<string, ColumnTypeOrigin> } {
  const plans: ColumnPlan[] = [];
  const origins: Record<string, ColumnTypeOrigin> = {};
  const columns = source.columns.map((from, index) => {
    const choice = chosen.get(from.name);
    if (!choice) return from;
    const inferred = source.inferred[index]?.type ?? from.type;
    const type = choice.keepTemporal && (inferred === "date" || inferred === "timestamp" || inferred === "timestamptz") ? inferred : choice.type;
    const column: ColumnDef = { name: from.name, type, nullable: true, ...(choice.precision === undefined ? {} : { precision: choice.precision, scale: choice.scale ?? 0 }) };
    const convert = usage(() => valueConverter(from, column, choice.dateFormat === undefined ? {} : { dateFormat: choice.dateFormat }), `${choice.option} (table ${table})`);
    plans.push({ index, column, choice, convert, kinds: unsupportedKinds(column, target.values) });
    origins[from.name] = { origin: "chosen", option: choice.option, from: columnTypeText(from) };
    return column;
  });
  if (plans.length === 0) return { source, origins };
  const refused = async (record: number, plan: ColumnPlan, value: Value, what: string, instead: string, cause: unknown): Promise<MdmError> => {
    const line = await source.lineOf?.(record);
    const where = line === undefined ? `record ${record}` : `line ${line}`;
    return new MdmError(
      ErrorCodes.UNSUPPORTED_VALUE,
      `${source.file}, ${where}: column ${JSON.stringify(plan.column.name)} of table ${JSON.stringify(table)} holds ${formatValue(value)}, ${what} (${plan.choice.option}); ` +
        `nothing was registered. Pass --coerce-unsupported to store ${instead} instead (each such value counted in the summary)`,
      { cause, details: { table, file: source.file, column: plan.column.name, ...(line === undefined ? {} : { line }), record, option: "--coerce-unsupported" } },
    );
  };
  const wrapped: TableSource = {
    ...source,
    columns,
    inferred: source.inferred.map((c, i) => ({ ...c, type: (columns[i] as ColumnDef).type })),
    withQuery: (query) => withChosenTypes(source.withQuery(query), table, chosen, target, coerce, counts).source,
    async *batches(signal?: AbortSignal) {
      let record = 0;
      for await (const rows of source.batches(signal)) {
        for (const row of rows) {
          record++;
          for (const plan of plans) {
            const raw = row[plan.index] as Value;
            let value: Value;
            try {
              value = plan.convert(raw);
            } catch (error) {
              if (!(error instanceof ConversionFailure)) throw error;
              if (!coerce) throw await refused(record, plan, raw, `which ${error.what}`, "NULL", error);
              countCoerced(counts, plan.column.name, "unconverted");
              value = null;
            }
            // A converted value the backend cannot hold (NaN into SQLite), as for inferred columns.
            if (value !== null) {
              for (const kind of plan.kinds) {
                if (!COERCIONS[kind].test(value)) continue;
                if (!coerce) throw await refused(record, plan, raw, `${COERCIONS[kind].value} once converted, which ${target.backendType} cannot hold`, COERCIONS[kind].becomes, undefined);
                value = COERCIONS[kind].coerce(value);
                countCoerced(counts, plan.column.name, kind);
                break;
              }
            }
            row[plan.index] = value;
          }
        }
        yield rows;
      }
    },
  };
  // Written by the backend's bulk writer, which the converted values go through.
  delete wrapped.createTableIn;
  return { source: wrapped, origins };
}

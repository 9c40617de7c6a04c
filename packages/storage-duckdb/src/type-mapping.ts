import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DATE,
  DECIMAL,
  DOUBLE,
  DuckDBTypeId,
  TIMESTAMP,
  TIMESTAMPTZ,
  VARCHAR,
  DuckDBVarCharType,
  type DuckDBType,
} from "@duckdb/node-api";
import { ErrorCodes, MdmError, type ColumnDef, type LogicalType } from "@mdm/storage-core";

/** JSON is a VARCHAR with the alias JSON in DuckDB. */
const JSON_TEXT = DuckDBVarCharType.create("JSON");

/** The largest DECIMAL width DuckDB has. */
export const DUCKDB_MAX_DECIMAL_PRECISION = 38;

/**
 * A decimal DuckDB's DECIMAL cannot hold (unconstrained, or more than 38 digits) is stored as
 * VARCHAR holding its exact plain text, marked by the column comment `mdm:decimal` or
 * `mdm:decimal(p,s)` so that it reads back as a decimal. Never a DOUBLE, never DECIMAL(18,3).
 */
export function isTextDecimal(column: ColumnDef): boolean {
  return column.type === "decimal" && (column.precision === undefined || column.precision > DUCKDB_MAX_DECIMAL_PRECISION);
}

/** The column comment that marks a text-encoded decimal. */
export function textDecimalComment(column: ColumnDef): string {
  return column.precision === undefined ? "mdm:decimal" : `mdm:decimal(${column.precision},${column.scale ?? 0})`;
}

const TEXT_DECIMAL_COMMENT = /^mdm:decimal(?:\((\d+),(\d+)\))?$/;

/** The decimal column a VARCHAR column with that comment stands for, if it is one. */
export function textDecimalOf(name: string, comment: unknown): ColumnDef | undefined {
  const m = typeof comment === "string" ? TEXT_DECIMAL_COMMENT.exec(comment) : null;
  if (!m) return undefined;
  return m[1] === undefined ? { name, type: "decimal", nullable: true } : { name, type: "decimal", nullable: true, precision: Number(m[1]), scale: Number(m[2]) };
}

/** The DuckDB type a logical column is stored as (a decimal of 1 to 38 digits is DECIMAL(p,s)). */
export function duckdbTypeOf(column: ColumnDef): DuckDBType {
  switch (column.type) {
    case "boolean":
      return BOOLEAN;
    case "int64":
      return BIGINT;
    case "float64":
      return DOUBLE;
    case "decimal": {
      if (isTextDecimal(column)) return VARCHAR;
      const { precision, scale = 0 } = column as { precision: number; scale?: number };
      if (!Number.isInteger(precision) || precision < 1 || !Number.isInteger(scale) || scale < 0 || scale > precision) {
        throw new MdmError(
          ErrorCodes.UNSUPPORTED_TYPE,
          `Column ${JSON.stringify(column.name)}: DECIMAL(${precision},${scale}) is not a decimal type (0 <= scale <= precision)`,
          { details: { column: column.name, type: column.type, precision, scale } },
        );
      }
      return DECIMAL(precision, scale);
    }
    case "text":
      return VARCHAR;
    case "blob":
      return BLOB;
    case "date":
      return DATE;
    case "timestamp":
      return TIMESTAMP;
    case "timestamptz":
      return TIMESTAMPTZ;
    case "json":
      return JSON_TEXT;
    default:
      throw new MdmError(ErrorCodes.UNSUPPORTED_TYPE, `Unknown logical type ${JSON.stringify((column as ColumnDef).type)}`);
  }
}

/** The SQL text of that type, for CREATE TABLE. */
export function duckdbTypeSql(column: ColumnDef): string {
  const type = duckdbTypeOf(column);
  return type.alias === "JSON" ? "JSON" : type.toString();
}

/**
 * The logical column of a DuckDB type (from a result or a table). Integers narrower than BIGINT
 * widen to int64; UBIGINT, HUGEINT and UHUGEINT are exact decimals (20,0), (38,0), (39,0); FLOAT
 * widens exactly to float64; TIMESTAMP_S/_MS/_NS are timestamps; every other type (UUID, TIME,
 * INTERVAL, LIST, STRUCT...) reads as its DuckDB text rendering.
 */
export function logicalOfDuckdbType(name: string, type: DuckDBType): ColumnDef {
  const column = (t: LogicalType, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type: t, nullable: true, ...extra });
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return column("boolean");
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return column("int64");
    case DuckDBTypeId.UBIGINT:
      return column("decimal", { precision: 20, scale: 0 });
    case DuckDBTypeId.HUGEINT:
      return column("decimal", { precision: 38, scale: 0 });
    case DuckDBTypeId.UHUGEINT:
      return column("decimal", { precision: 39, scale: 0 });
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return column("float64");
    case DuckDBTypeId.DECIMAL: {
      const decimal = type as DuckDBType & { width: number; scale: number };
      return column("decimal", { precision: decimal.width, scale: decimal.scale });
    }
    case DuckDBTypeId.VARCHAR:
      return column(type.alias === "JSON" ? "json" : "text");
    case DuckDBTypeId.BLOB:
      return column("blob");
    case DuckDBTypeId.DATE:
      return column("date");
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return column("timestamp");
    case DuckDBTypeId.TIMESTAMP_TZ:
      return column("timestamptz");
    default:
      return column("text");
  }
}

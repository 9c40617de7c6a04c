import { quoteIdentifier, type ColumnDef } from "@mdm/storage-core";

/**
 * The SELECT expression of one column for `COPY ... TO (FORMAT CSV)`: the text core's `csvText` gives
 * its value, computed by DuckDB. Doubles are DuckDB's shortest exact text (`1.0`, `-0.0`, `1e+21`)
 * with NaN and the infinities spelled as csvText spells them; timestamps `YYYY-MM-DD HH:MM:SS.ffffff`
 * (timestamptz in UTC with `T` and `Z`; years outside 1000-9999 and infinities as DuckDB writes them);
 * BLOBs `\x` and lowercase hex. The other types are DuckDB's own text (booleans `true`/`false`,
 * decimals with their scale, dates `YYYY-MM-DD`), which is csvText's; a TIMESTAMP_NS column (a table
 * another tool made) is DuckDB's own text, nanoseconds included. The column keeps its name.
 */
export function duckdbCsvColumn(column: ColumnDef, nativeType: string): string {
  const c = quoteIdentifier(column.name);
  // Nanoseconds have no place in six fractional digits: DuckDB's own text keeps them (the read path refuses them).
  if (nativeType === "TIMESTAMP_NS") return `CAST(${c} AS VARCHAR) AS ${c}`;
  switch (column.type) {
    case "float64": {
      const d = `CAST(${c} AS DOUBLE)`;
      return `CASE WHEN isnan(${d}) THEN 'NaN' WHEN ${d} = 'infinity'::DOUBLE THEN 'Infinity' WHEN ${d} = '-infinity'::DOUBLE THEN '-Infinity' ELSE CAST(${d} AS VARCHAR) END AS ${c}`;
    }
    case "timestamp":
      return `CASE WHEN isfinite(${c}) AND year(${c}) BETWEEN 1000 AND 9999 THEN strftime(${c}, '%Y-%m-%d %H:%M:%S.%f') ELSE CAST(${c} AS VARCHAR) END AS ${c}`;
    case "timestamptz": {
      // make_timestamp(epoch µs) is the UTC wall clock whatever the session's time zone.
      const utc = `make_timestamp(epoch_us(${c}))`;
      return `CASE WHEN isfinite(${c}) AND year(${utc}) BETWEEN 1000 AND 9999 THEN strftime(${utc}, '%Y-%m-%dT%H:%M:%S.%fZ') ELSE CAST(${c} AS VARCHAR) END AS ${c}`;
    }
    case "blob":
      return `'\\x' || lower(hex(${c})) AS ${c}`;
    case "boolean":
      return `CASE WHEN ${c} THEN 'true' WHEN NOT ${c} THEN 'false' END AS ${c}`;
    default:
      return c;
  }
}

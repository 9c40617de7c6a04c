import { ErrorCodes, MdmError } from "./errors.js";
import { SqlTimestamp, daysFromCivil, civilFromDays } from "./values.js";

/**
 * Dates and times in a format the user names, with the directives of Python's `strptime` (what pandas'
 * `format=` takes, so an ML engineer's `--date-format "%m/%d/%Y"` means what it meant there):
 *
 * | directive | matches |
 * |---|---|
 * | `%Y` | a four-digit year |
 * | `%y` | a two-digit year (69-99: 1900s, 00-68: 2000s, as Python) |
 * | `%m` `%d` `%H` `%I` `%M` `%S` | one or two digits (month, day, hour, 12-hour hour, minute, second) |
 * | `%b` `%B` | an English month name, abbreviated or full, any case |
 * | `%p` | AM or PM, any case (with `%I`) |
 * | `%f` | one to six digits of fraction of a second |
 * | `%z` | `Z`, or an offset `+HH[:]MM` / `-HH[:]MM` |
 * | `%j` | the day of the year, one to three digits |
 * | `%%` | `%` |
 *
 * Every other character matches itself. The whole text must match, and the date must exist.
 */

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

interface Directive {
  /** The regular-expression source of what it matches (one capturing group). */
  pattern: string;
  field: "year" | "year2" | "month" | "monthName" | "day" | "hour" | "hour12" | "minute" | "second" | "fraction" | "ampm" | "offset" | "dayOfYear";
}

const DIRECTIVES: Record<string, Directive> = {
  Y: { pattern: "(\\d{4})", field: "year" },
  y: { pattern: "(\\d{2})", field: "year2" },
  m: { pattern: "(\\d{1,2})", field: "month" },
  d: { pattern: "(\\d{1,2})", field: "day" },
  H: { pattern: "(\\d{1,2})", field: "hour" },
  I: { pattern: "(\\d{1,2})", field: "hour12" },
  M: { pattern: "(\\d{1,2})", field: "minute" },
  S: { pattern: "(\\d{1,2})", field: "second" },
  f: { pattern: "(\\d{1,6})", field: "fraction" },
  b: { pattern: "([A-Za-z]{3})", field: "monthName" },
  B: { pattern: "([A-Za-z]{3,9})", field: "monthName" },
  p: { pattern: "([AaPp][Mm])", field: "ampm" },
  z: { pattern: "(Z|[+-]\\d{2}:?\\d{2})", field: "offset" },
  j: { pattern: "(\\d{1,3})", field: "dayOfYear" },
};

/** A format compiled once: what it gives (a date or a timestamp, with an offset or not) and its parser. */
export interface DateFormat {
  format: string;
  /** Whether the format holds a time of day (`%H`, `%I`, `%M`, `%S`, `%f`). */
  hasTime: boolean;
  /** Whether it holds an offset (`%z`): its texts are instants. */
  hasOffset: boolean;
  /** The text as a timestamp (µs; the UTC instant where the format has an offset), or undefined if it does not match. */
  parse(text: string): SqlTimestamp | undefined;
}

export function compileDateFormat(format: string): DateFormat {
  let source = "^";
  const fields: Directive["field"][] = [];
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== "%") {
      source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      continue;
    }
    const d = format[++i];
    if (d === "%") {
      source += "%";
      continue;
    }
    const directive = d === undefined ? undefined : DIRECTIVES[d];
    if (!directive) {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Date format ${JSON.stringify(format)}: %${d ?? ""} is not a directive (use %Y %y %m %d %H %I %M %S %f %b %B %p %z %j %%)`);
    }
    source += directive.pattern;
    fields.push(directive.field);
  }
  const re = new RegExp(`${source}$`);
  const has = (...f: Directive["field"][]) => f.some((x) => fields.includes(x));
  if (!has("year", "year2")) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Date format ${JSON.stringify(format)} has no year (%Y or %y)`);
  if (has("hour12") !== has("ampm")) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `Date format ${JSON.stringify(format)}: %I needs %p and %p needs %I`);
  return {
    format,
    hasTime: has("hour", "hour12", "minute", "second", "fraction"),
    hasOffset: has("offset"),
    parse(text: string): SqlTimestamp | undefined {
      const m = re.exec(text);
      if (!m) return undefined;
      let year = 0;
      let month = 1;
      let day = 1;
      let dayOfYear: number | undefined;
      let hour = 0;
      let pm: boolean | undefined;
      let minute = 0;
      let second = 0;
      let micro = 0;
      let offsetMinutes = 0;
      for (let k = 0; k < fields.length; k++) {
        const v = m[k + 1] as string;
        switch (fields[k]) {
          case "year":
            year = Number(v);
            break;
          case "year2":
            year = Number(v) + (Number(v) >= 69 ? 1900 : 2000);
            break;
          case "month":
            month = Number(v);
            break;
          case "monthName": {
            const lower = v.toLowerCase();
            const index = MONTHS.findIndex((name) => (v.length === 3 ? name.startsWith(lower) : name === lower));
            if (index < 0) return undefined;
            month = index + 1;
            break;
          }
          case "day":
            day = Number(v);
            break;
          case "dayOfYear":
            dayOfYear = Number(v);
            break;
          case "hour":
          case "hour12":
            hour = Number(v);
            break;
          case "ampm":
            pm = v.toLowerCase() === "pm";
            break;
          case "minute":
            minute = Number(v);
            break;
          case "second":
            second = Number(v);
            break;
          case "fraction":
            micro = Number(v.padEnd(6, "0"));
            break;
          case "offset": {
            if (v === "Z") break;
            const digits = v.slice(1).replace(":", "");
            const oh = Number(digits.slice(0, 2));
            const om = Number(digits.slice(2, 4));
            if (oh > 23 || om > 59) return undefined;
            offsetMinutes = (v[0] === "-" ? -1 : 1) * (oh * 60 + om);
            break;
          }
        }
      }
      if (pm !== undefined) {
        if (hour < 1 || hour > 12) return undefined;
        hour = (hour % 12) + (pm ? 12 : 0);
      }
      if (hour > 23 || minute > 59 || second > 59) return undefined;
      let days: number;
      if (dayOfYear !== undefined) {
        days = daysFromCivil(year, 1, 1) + dayOfYear - 1;
        if (dayOfYear < 1 || civilFromDays(days)[0] !== year) return undefined;
      } else {
        days = daysFromCivil(year, month, day);
        const [y2, m2, d2] = civilFromDays(days);
        if (month < 1 || month > 12 || y2 !== year || m2 !== month || d2 !== day) return undefined;
      }
      const micros = BigInt(days) * 86_400_000_000n + BigInt(((hour * 60 + minute) * 60 + second) * 1_000_000 + micro) - BigInt(offsetMinutes) * 60_000_000n;
      return new SqlTimestamp(micros);
    },
  };
}

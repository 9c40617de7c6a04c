import { totalmem } from "node:os";
import { ErrorCodes, MdmError } from "./errors.js";
import { BACKEND_TYPES } from "./types.js";

/**
 * The schema of `mdm.yaml`: what every key we read accepts. `loadConfig` checks the file and the
 * `MDM_<SECTION>_<KEY>` variables against it; the PostgreSQL backends check a section handed to them in
 * code against it too, so no configuration value reaches SQL text or an engine option unchecked.
 */
export type SettingRule =
  | { type: "enum"; values: readonly string[]; upperCase?: boolean }
  | { type: "integer" | "number"; min: number; max?: number }
  | { type: "boolean" }
  | { type: "string"; nullable?: boolean; expected: string; valid?: (value: string) => boolean }
  | { type: "size" };

const INT32_MAX = 2_147_483_647;
const integer = (min: number, max?: number): SettingRule => ({ type: "integer", min, max });
const seconds: SettingRule = { type: "number", min: 0 };
const milliseconds: SettingRule = integer(0, INT32_MAX);
const bool: SettingRule = { type: "boolean" };
const upper = (...values: string[]): SettingRule => ({ type: "enum", values, upperCase: true });
const noNul = (value: string) => !value.includes("\0");
const path = (nullable = false, empty = false): SettingRule => ({
  type: "string",
  nullable,
  expected: empty ? "a path (or empty for none)" : "a path",
  valid: (v) => noNul(v) && (empty || v.trim() !== ""),
});
/** A PostgreSQL name (role, database): PostgreSQL keeps 63 bytes of it. */
const pgName = (nullable: boolean): SettingRule => ({
  type: "string",
  nullable,
  expected: "a PostgreSQL name (1 to 63 bytes, no NUL)",
  valid: (v) => noNul(v) && v.length > 0 && Buffer.byteLength(v) <= 63,
});

/**
 * Longest `database_prefix`: a staging database is `{prefix}{16 hex}.staging.{12 hex}` at worst, and must
 * fit PostgreSQL's 63-byte names (a longer one would be truncated, and no longer be found as staging).
 */
export const DATABASE_PREFIX_MAX_BYTES = 26;

/** Every key of mdm.yaml that we read, by its dotted path. */
export const CONFIG_RULES: Readonly<Record<string, SettingRule>> = {
  "database.default_backend": { type: "enum", values: BACKEND_TYPES },
  "database.connection_timeout": integer(1),
  "database.sqlalchemy.echo": bool,
  "database.sqlalchemy.pool_size": integer(1),
  "database.sqlalchemy.max_overflow": integer(0),
  "database.sqlalchemy.pool_timeout": integer(1),
  "database.sqlalchemy.pool_recycle": integer(-1),
  "database.sqlite.journal_mode": upper("DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF"),
  "database.sqlite.synchronous": upper("OFF", "NORMAL", "FULL", "EXTRA"),
  "database.sqlite.cache_size": integer(Number.MIN_SAFE_INTEGER),
  "database.sqlite.temp_store": upper("DEFAULT", "FILE", "MEMORY"),
  "database.sqlite.mmap_size": integer(0),
  "database.sqlite.busy_timeout": milliseconds,
  "database.duckdb.memory_limit": { type: "size" },
  "database.duckdb.threads": integer(1),
  "database.duckdb.temp_directory": path(false, true),
  "database.duckdb.access_mode": upper("READ_WRITE", "READ_ONLY", "AUTOMATIC"),
  "database.postgresql.host": { type: "string", expected: "a host name, an IP address or a socket directory", valid: (v) => /^[^\s\0]+$/.test(v) },
  "database.postgresql.port": integer(1, 65535),
  "database.postgresql.user": pgName(true),
  "database.postgresql.password": { type: "string", nullable: true, expected: "a password without NUL", valid: noNul },
  "database.postgresql.database_prefix": {
    type: "string",
    expected: `lower-case letters, digits and _, starting with a letter or _, at most ${DATABASE_PREFIX_MAX_BYTES} characters (such as mdm_)`,
    valid: (v) => new RegExp(`^[a-z_][a-z0-9_]{0,${DATABASE_PREFIX_MAX_BYTES - 1}}$`).test(v),
  },
  "database.postgresql.sslmode": { type: "enum", values: ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] },
  "database.postgresql.sslrootcert": path(true),
  "database.postgresql.sslcert": path(true),
  "database.postgresql.sslkey": path(true),
  "database.postgresql.pool_size": integer(1),
  "database.postgresql.max_overflow": integer(0),
  "database.postgresql.pool_timeout": seconds,
  "database.postgresql.pool_recycle": seconds,
  "database.postgresql.connect_timeout": seconds,
  "database.postgresql.statement_timeout": milliseconds,
  "database.postgresql.lock_timeout": milliseconds,
  "database.postgresql.idle_in_transaction_session_timeout": milliseconds,
  "database.postgresql.application_name": {
    type: "string",
    expected: "printable ASCII, at most 63 characters (what PostgreSQL keeps)",
    valid: (v) => /^[\x20-\x7e]{0,63}$/.test(v),
  },
  "database.postgresql.database": pgName(true),
  "database.postgresql.schema_per_dataset": bool,
  "performance.batch_size": integer(100),
  "performance.max_concurrent_operations": integer(1),
  "paths.datasets_path": path(),
  "paths.configs_path": path(),
  "paths.logs_path": path(),
  "paths.custom_features_path": path(),
};

/**
 * Keys Python MDM has or documented that we do not read: accepted with any value (a whole section for a
 * section) and ignored, so a Python MDM home keeps working. Research notes, mdm-original.md §3.6 and §8.
 */
export const PYTHON_MDM_CONFIG_KEYS: ReadonlySet<string> = new Set([
  // Sections of Python MDM's own model (src/mdm/models/config.py) that are not storage.
  "logging",
  "feature_engineering",
  "export",
  "validation",
  "cli",
  "development",
  // What Python MDM's docs once called `paths` (it read neither).
  "storage",
  // Documented but not in Python MDM's model (pydantic ignored them).
  "database.sqlite.foreign_keys",
  "database.sqlite.recursive_triggers",
  "database.sqlite.max_page_count",
  "database.sqlite.max_sql_length",
  "database.sqlite.pragmas",
  "database.duckdb.enable_progress_bar",
  "database.duckdb.max_memory",
  "database.duckdb.enable_profiling",
  "database.duckdb.max_open_files",
  "database.duckdb.enable_external_access",
  "database.duckdb.autoload_extensions",
  "database.duckdb.settings",
  "database.duckdb.checkpoint_threshold",
  "database.postgresql.echo",
  "database.postgresql.connect_args",
  "database.postgresql.pool_pre_ping",
  "performance.max_workers",
  "performance.chunk_size",
  "performance.memory_limit",
  "performance.cache",
  // Keys of Python MDM's new backends (a flat dict in code, §3.6).
  "database.sqlite.timeout",
  "database.duckdb.explain_output",
  "database.duckdb.extensions",
  "database.postgresql.extensions",
  "database.postgresql.reindex_on_optimize",
]);

/** Sections: every proper prefix of a known key ("database", "database.sqlite", ...). */
const SECTIONS: ReadonlySet<string> = new Set(
  Object.keys(CONFIG_RULES).flatMap((key) => {
    const parts = key.split(".");
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
  }),
);

/** The `MDM_<SECTION>_<KEY>` variable of a dotted key. */
export function environmentName(dotted: string): string {
  return `MDM_${dotted.split(".").join("_").toUpperCase()}`;
}

/** Variables of the sections we own: an unknown one among them is a misspelling, not someone else's. */
const OWN_VARIABLES = /^MDM_(DATABASE|PERFORMANCE|PATHS)_/;

// ---------------------------------------------------------------------------------------------
// Memory sizes

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

export const MEMORY_SIZE_EXPECTED = "a size such as 8GB, 512MiB or 75% (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; a percentage of the physical memory)";

/**
 * A memory size as DuckDB's `memory_limit` reads it ("512MB" = 512·10^6 bytes, "1GiB" = 2^30), or a
 * percentage of the physical memory ("75%"): its bytes (more than 0), and whether it was a percentage.
 * Undefined for anything else: a number without a unit, a negative or empty size, text around it.
 */
export function parseMemorySize(value: string, physicalMemory: number = totalmem()): { bytes: number; percent: boolean } | undefined {
  const text = value.trim();
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (percent) {
    const share = Number(percent[1]);
    return share > 0 && share <= 100 ? { bytes: Math.floor((share / 100) * physicalMemory), percent: true } : undefined;
  }
  const sized = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text);
  const unit = sized ? SIZE_UNITS[(sized[2] as string).toLowerCase()] : undefined;
  if (!sized || unit === undefined) return undefined;
  const bytes = Math.floor(Number(sized[1]) * unit);
  return bytes > 0 && Number.isSafeInteger(bytes) ? { bytes, percent: false } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checking values

/** What a rule expects, for messages. */
export function expectedOf(rule: SettingRule): string {
  switch (rule.type) {
    case "enum":
      return `one of ${rule.values.join(", ")}`;
    case "integer":
    case "number": {
      const kind = rule.type === "integer" ? "an integer" : "a number";
      if (rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
      return rule.min === Number.MIN_SAFE_INTEGER ? kind : `${kind} >= ${rule.min}`;
    }
    case "boolean":
      return "true or false";
    case "string":
      return rule.expected + (rule.nullable ? ", or null" : "");
    case "size":
      return MEMORY_SIZE_EXPECTED;
  }
}

/** A value as a message shows it: `null`, `a list ([1,2])`, `a mapping`, `the number 5`, `"text"`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `a list (${JSON.stringify(value).slice(0, 40)})`;
  if (typeof value === "object") return "a mapping";
  return `${typeof value === "string" ? "" : `the ${typeof value} `}${JSON.stringify(value)}`;
}

/** The value a rule makes of a raw value (YAML or the text of a variable), or why it cannot. */
function coerceSetting(rule: SettingRule, raw: unknown): { value: unknown } | { problem: string } {
  const bad = { problem: `must be ${expectedOf(rule)}, got ${describeValue(raw)}` };
  if (raw === null || raw === undefined) return rule.type === "string" && rule.nullable ? { value: null } : bad;
  if (typeof raw === "object") return bad;
  const text = String(raw).trim();
  switch (rule.type) {
    case "enum": {
      if (typeof raw !== "string") return bad;
      const value = rule.upperCase ? text.toUpperCase() : text;
      return rule.values.includes(value) ? { value } : bad;
    }
    case "integer":
    case "number": {
      const pattern = rule.type === "integer" ? /^[+-]?\d+$/ : /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
      const n = typeof raw === "number" ? raw : typeof raw === "string" && pattern.test(text) ? Number(text) : NaN;
      const ok = rule.type === "integer" ? Number.isSafeInteger(n) : Number.isFinite(n);
      return ok && n >= rule.min && (rule.max === undefined || n <= rule.max) ? { value: n } : bad;
    }
    case "boolean": {
      if (typeof raw === "boolean") return { value: raw };
      const s = text.toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return { value: true };
      if (["false", "0", "no", "off"].includes(s)) return { value: false };
      return bad;
    }
    case "string": {
      // A number where text goes loses what YAML dropped (a password 0123 reads as 123): quote it.
      if (typeof raw !== "string") return { problem: `${bad.problem}; quote the value to make it text` };
      return rule.valid === undefined || rule.valid(raw) ? { value: raw } : bad;
    }
    case "size":
      return typeof raw === "string" && parseMemorySize(raw) !== undefined ? { value: text } : bad;
  }
}

/** Where a value came from: a file (and the key in it), a variable, or code. */
export type ConfigSource = { file: string } | { variable: string } | { code: true };

function invalid(source: ConfigSource, key: string, problem: string): MdmError {
  if ("file" in source) return new MdmError(ErrorCodes.INVALID_CONFIG, `${source.file}: ${key} ${problem}`, { details: { file: source.file, key } });
  if ("variable" in source) {
    return new MdmError(ErrorCodes.INVALID_CONFIG, `${source.variable} (${key}) ${problem}`, { details: { variable: source.variable, key } });
  }
  return new MdmError(ErrorCodes.INVALID_CONFIG, `${key} ${problem}`, { details: { key } });
}

/** Check one known key's value; returns it as the config holds it (numbers parsed, enums upper-cased). */
export function checkSetting(key: string, raw: unknown, source: ConfigSource): unknown {
  const rule = CONFIG_RULES[key];
  if (!rule) throw new MdmError(ErrorCodes.INTERNAL, `No rule for configuration key ${key}`);
  if ("file" in source && typeof raw === "string" && /\$\{[^}]*\}/.test(raw)) {
    throw invalid(source, key, `holds ${JSON.stringify(raw)}: \${VAR} interpolation is not supported (Python MDM documented it but never did it); set ${environmentName(key)} instead`);
  }
  const result = coerceSetting(rule, raw);
  if ("problem" in result) throw invalid(source, key, result.problem);
  return result.value;
}

/**
 * Check a section handed to a backend in code (`database.postgresql`, ...): every known key present in
 * it. Throws MDM_INVALID_CONFIG naming the key.
 */
export function checkConfigSection(section: string, values: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && CONFIG_RULES[`${section}.${key}`]) checkSetting(`${section}.${key}`, value, { code: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Whole files and the environment

/** Levenshtein distance (a few dozen keys: no library needed). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The known key an unknown one most likely meant: the same name in another section (a key put in the
 * wrong place), else the nearest by edit distance when it is close enough.
 */
export function nearestKey(unknown: string, known: readonly string[] = [...Object.keys(CONFIG_RULES), ...SECTIONS, ...PYTHON_MDM_CONFIG_KEYS]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/-/g, "_");
  const wanted = norm(unknown);
  const last = wanted.split(".").pop() as string;
  const exact = known.find((k) => norm(k) === wanted);
  if (exact) return exact;
  const moved = known.filter((k) => k.split(".").pop() === last && CONFIG_RULES[k]);
  if (moved.length > 0) return moved[0];
  // Close enough: within 40% of the part that differs, from the word where it starts (at least 2 edits).
  const separator = wanted.includes(".") ? "." : "_";
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const candidate = norm(k);
    let common = 0;
    while (common < wanted.length && wanted[common] === candidate[common]) common++;
    const start = wanted.lastIndexOf(separator, common - 1) + 1;
    const d = distance(wanted, candidate);
    if (d <= Math.max(2, Math.floor((Math.max(wanted.length, candidate.length) - start) * 0.4)) && d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function unknownKeyProblem(key: string): string {
  const parent = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
  const suggestion = nearestKey(key);
  if (suggestion) return `is not a key of mdm.yaml; did you mean ${suggestion}?`;
  const siblings = [...Object.keys(CONFIG_RULES), ...SECTIONS, ...PYTHON_MDM_CONFIG_KEYS]
    .filter((k) => (parent === "" ? !k.includes(".") : k.startsWith(`${parent}.`) && !k.slice(parent.length + 1).includes(".")))
    .map((k) => k.slice(parent === "" ? 0 : parent.length + 1));
  return `is not a key of mdm.yaml (keys ${parent === "" ? "at the top" : `of ${parent}`}: ${[...new Set(siblings)].join(", ")})`;
}

export interface CheckedConfig {
  /** Known keys and their checked values, by dotted path. */
  values: Map<string, unknown>;
  /** Python MDM's keys that we accept and do not read, with their raw values. */
  ignored: Map<string, unknown>;
}

/**
 * Check a parsed mdm.yaml: a mapping of sections (null for an empty one), known keys with values they
 * can take, Python MDM's keys, nothing else. The first problem is thrown as MDM_INVALID_CONFIG naming
 * the file and the key.
 */
export function checkConfigFile(parsed: unknown, file: string): CheckedConfig {
  const checked: CheckedConfig = { values: new Map(), ignored: new Map() };
  const visit = (node: unknown, prefix: string) => {
    if (node === null || node === undefined) return;
    if (typeof node !== "object" || Array.isArray(node)) {
      if (prefix === "") throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} must hold a mapping of sections (database, performance, paths), got ${describeValue(node)}`, { details: { file } });
      throw invalid({ file }, prefix, `must be a mapping of settings, got ${describeValue(node)}`);
    }
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const dotted = prefix === "" ? key : `${prefix}.${key}`;
      if (CONFIG_RULES[dotted]) checked.values.set(dotted, checkSetting(dotted, value, { file }));
      else if (SECTIONS.has(dotted)) visit(value, dotted);
      else if (PYTHON_MDM_CONFIG_KEYS.has(dotted)) checked.ignored.set(dotted, value);
      else throw invalid({ file }, dotted, unknownKeyProblem(dotted));
    }
  };
  visit(parsed, "");
  return checked;
}

/** Check the `MDM_<SECTION>_<KEY>` variables of an environment: known ones by their rule, unknown ones of our sections refused. */
export function checkConfigEnvironment(env: NodeJS.ProcessEnv): Map<string, unknown> {
  const byName = new Map(Object.keys(CONFIG_RULES).map((k) => [environmentName(k), k]));
  const python = [...PYTHON_MDM_CONFIG_KEYS].map(environmentName);
  const values = new Map<string, unknown>();
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !OWN_VARIABLES.test(name)) continue;
    const key = byName.get(name);
    if (key) values.set(key, checkSetting(key, raw, { variable: name }));
    else if (!python.some((p) => name === p || name.startsWith(`${p}_`))) {
      const suggestion = nearestKey(name, [...byName.keys()]);
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${name} is not a configuration variable${suggestion ? `; did you mean ${suggestion}?` : ""}`, { details: { variable: name } });
    }
  }
  return values;
}

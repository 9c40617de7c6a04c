import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Document, isMap, isSeq, parse as parseYaml, parseDocument } from "yaml";
import { nearestKey } from "./config-schema.js";
import { ErrorCodes, MdmError } from "./errors.js";
import { BACKEND_TYPES, type BackendType, type Implementation } from "./types.js";

/**
 * Every flag, its type and default. The same snake_case name is used in code (`flags.set(name, v)`),
 * in `feature_flags.yaml` (top-level key) and in the environment (`MDM_FEATURE_<NAME>`).
 */
export const FLAG_DEFAULTS = {
  /** Use the new implementation of every backend type (legacy is the default during the transition). */
  use_new_storage: false as boolean,
  /** Per-type overrides; null = follow use_new_storage / the rollout. */
  use_new_storage_sqlite: null as boolean | null,
  use_new_storage_duckdb: null as boolean | null,
  use_new_storage_postgresql: null as boolean | null,
  /** 0..100: share of datasets (by a stable hash of the dataset name) that get the new implementation. */
  rollout_percentage: 0 as number,
  /** When the new implementation fails to start, use legacy instead (and record that it did). */
  auto_fallback: true as boolean,
};

export type FlagName = keyof typeof FLAG_DEFAULTS;
export type FlagValues = { -readonly [K in FlagName]: (typeof FLAG_DEFAULTS)[K] };
export type FlagSource = "default" | "file" | "env" | "code";

export interface FlagChange {
  timestamp: string;
  flag: FlagName;
  oldValue: unknown;
  newValue: unknown;
  source: FlagSource;
}

export type FlagListener = (change: FlagChange) => void;

export const FLAG_NAMES = Object.keys(FLAG_DEFAULTS) as FlagName[];

/**
 * Flags of Python MDM (`core/feature_flags.py`) that mean nothing here. An MDM home or environment
 * set up for Python MDM may carry them; they are ignored rather than refused as misspellings.
 */
export const PYTHON_MDM_FLAGS: ReadonlySet<string> = new Set([
  "use_new_backend",
  "use_new_registrar",
  "use_new_features",
  "enable_compatibility_warnings",
  "enable_performance_tracking",
  "enable_comparison_tests",
  "enable_memory_profiling",
]);

export function isFlagName(name: string): name is FlagName {
  return (FLAG_NAMES as string[]).includes(name);
}

/**
 * Parse a flag value from text or YAML (booleans: true/false/1/0/yes/no/on/off; null clears an override).
 * `source` names where it came from: a file (`{ file }`, the message starts with its path), a variable
 * (`{ variable }`) or a free text ("code", "the command line"); MDM_INVALID_CONFIG's details name it and the flag.
 */
export function parseFlagValue(flag: FlagName, raw: unknown, source: string | { file: string } | { variable: string }): FlagValues[FlagName] {
  const where =
    typeof source === "string" ? `Feature flag ${flag} (from ${source})` : "file" in source ? `${source.file}: ${flag}` : `${source.variable} (feature flag ${flag})`;
  const fail = (expected: string) =>
    new MdmError(ErrorCodes.INVALID_CONFIG, `${where} must be ${expected}, got ${JSON.stringify(raw)}`, { details: { ...(typeof source === "string" ? {} : source), key: flag } });
  if (flag === "rollout_percentage") {
    const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim().replace(/%$/, "")) : NaN;
    if (!Number.isFinite(n) || n < 0 || n > 100 || String(raw).trim() === "") throw fail("a number from 0 to 100");
    return n;
  }
  const nullable = flag.startsWith("use_new_storage_");
  if (raw === null || (typeof raw === "string" && ["", "null", "none", "auto"].includes(raw.trim().toLowerCase()))) {
    if (nullable) return null;
    throw fail("true or false");
  }
  if (typeof raw === "boolean") return raw;
  const s = typeof raw === "string" || typeof raw === "number" ? String(raw).trim().toLowerCase() : "";
  if (["true", "1", "yes", "on"].includes(s)) return true;
  if (["false", "0", "no", "off"].includes(s)) return false;
  throw fail(`true or false${nullable ? " (or null)" : ""}`);
}

/** Keys of Python MDM's `save_to_file` format besides its flags: accepted and ignored. */
const PYTHON_MDM_FLAG_FILE_KEYS = ["history", "last_updated"];

/** "did you mean ...?" (ours or Python MDM's flags), else the list of ours. */
function unknownFlagHint(name: string, spell: (flag: string) => string = (f) => f): string {
  if (PYTHON_MDM_FLAGS.has(name)) return `it is a flag of Python MDM, which means nothing here; known flags: ${FLAG_NAMES.join(", ")}`;
  const suggestion = nearestKey(name, [...FLAG_NAMES, ...PYTHON_MDM_FLAGS].map(spell));
  return suggestion ? `did you mean ${suggestion}?` : `known flags: ${FLAG_NAMES.map(spell).join(", ")}`;
}

/** The stable rollout bucket (0..99) of a dataset for a backend type. */
export function rolloutBucket(backendType: string, datasetName: string): number {
  const digest = createHash("sha256").update(`new_storage:${backendType}:${datasetName}`).digest();
  return digest.readUInt32BE(0) % 100;
}

export interface FeatureFlagsOptions {
  /** Path of feature_flags.yaml (usually `<MDM home>/feature_flags.yaml`). */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Feature flags with a documented precedence: code > environment > file > defaults. `set()` is the
 * code source; `reload()` re-reads file and environment. Every change (from any source) is kept in
 * the history and sent to listeners.
 */
export class FeatureFlags {
  private readonly file: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private fileValues: Partial<FlagValues> = {};
  private envValues: Partial<FlagValues> = {};
  private codeValues: Partial<FlagValues> = {};
  private readonly listeners = new Set<FlagListener>();
  private readonly changes: FlagChange[] = [];

  constructor(options: FeatureFlagsOptions = {}) {
    this.file = options.file;
    this.env = options.env ?? process.env;
    this.loadSources("default");
  }

  /** The effective value of a flag. */
  get<K extends FlagName>(flag: K): FlagValues[K] {
    this.assertFlag(flag);
    for (const layer of [this.codeValues, this.envValues, this.fileValues]) {
      if (flag in layer) return layer[flag] as FlagValues[K];
    }
    return FLAG_DEFAULTS[flag] as FlagValues[K];
  }

  /** Which source decides a flag now. */
  sourceOf(flag: FlagName): FlagSource {
    this.assertFlag(flag);
    if (flag in this.codeValues) return "code";
    if (flag in this.envValues) return "env";
    if (flag in this.fileValues) return "file";
    return "default";
  }

  getAll(): FlagValues {
    const out = {} as Record<FlagName, unknown>;
    for (const flag of FLAG_NAMES) out[flag] = this.get(flag);
    return out as FlagValues;
  }

  /** Set a flag from code (the highest precedence). Accepts text as the other sources do. */
  set<K extends FlagName>(flag: K, value: FlagValues[K] | string): void {
    this.assertFlag(flag);
    const parsed = parseFlagValue(flag, value, "code");
    this.applyLayer(() => {
      (this.codeValues as Record<string, unknown>)[flag] = parsed;
    }, "code");
  }

  /** Remove the code-level value of a flag (environment, file or default decide again). */
  unset(flag: FlagName): void {
    this.assertFlag(flag);
    this.applyLayer(() => {
      delete this.codeValues[flag];
    }, "code");
  }

  /** Re-read feature_flags.yaml and the environment. */
  reload(): void {
    this.loadSources("file");
  }

  onChange(listener: FlagListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  history(flag?: FlagName): FlagChange[] {
    return this.changes.filter((c) => flag === undefined || c.flag === flag);
  }

  /**
   * Write flags to feature_flags.yaml in the format the loader reads (top-level flag keys).
   * `values` defaults to the flags currently set from code merged over the file's own.
   */
  saveToFile(values?: Partial<FlagValues>): void {
    if (!this.file) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "These flags have no file");
    const toWrite = values ?? { ...this.fileValues, ...this.codeValues };
    for (const [k, v] of Object.entries(toWrite)) {
      this.assertFlag(k as FlagName);
      parseFlagValue(k as FlagName, v, "saveToFile");
    }
    mkdirSync(dirname(this.file), { recursive: true });
    const text = existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, editedFlagFile(text, toWrite, this.fileValues));
    renameSync(tmp, this.file);
    this.reload();
  }

  /** Values written in feature_flags.yaml. */
  fileFlags(): Partial<FlagValues> {
    return { ...this.fileValues };
  }

  /** Whether a backend type gets the new implementation, for a dataset when given. */
  implementationFor(backendType: BackendType, datasetName?: string): Implementation {
    if (!(BACKEND_TYPES as readonly string[]).includes(backendType)) {
      throw new MdmError(ErrorCodes.BACKEND_UNAVAILABLE, `Unknown backend type ${JSON.stringify(backendType)}`);
    }
    const override = this.get(`use_new_storage_${backendType}` as FlagName) as boolean | null;
    if (override !== null) return override ? "new" : "legacy";
    if (this.get("use_new_storage")) return "new";
    const pct = this.get("rollout_percentage");
    if (pct >= 100) return "new";
    // Keyed by the normalised name (as MDM stores it): "Titanic" and "titanic" are one dataset.
    if (pct > 0 && datasetName !== undefined && rolloutBucket(backendType, datasetName.trim().toLowerCase()) < pct) return "new";
    return "legacy";
  }

  private assertFlag(flag: string): asserts flag is FlagName {
    if (!isFlagName(flag)) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `Unknown feature flag ${JSON.stringify(flag)}; ${unknownFlagHint(flag)}`, { details: { key: flag } });
    }
  }

  private loadSources(source: FlagSource): void {
    this.applyLayer(() => {
      this.fileValues = this.readFile();
      this.envValues = this.readEnv();
    }, source === "default" ? "default" : "file");
  }

  private readFile(): Partial<FlagValues> {
    if (!this.file || !existsSync(this.file)) return {};
    const file = this.file;
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} is not valid YAML`, { cause: error, details: { file } });
    }
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file} must hold a mapping of flags (such as use_new_storage: true)`, { details: { file } });
    }
    const out: Partial<FlagValues> = {};
    const top = parsed as Record<string, unknown>;
    // Python MDM's save_to_file wrote {flags: {...}, history, last_updated}: read the flags it holds.
    const saved = top.flags;
    if (saved !== undefined && saved !== null && (typeof saved !== "object" || Array.isArray(saved))) {
      throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: flags must be a mapping of flags, got ${JSON.stringify(saved)}`, { details: { file, key: "flags" } });
    }
    const entries = [
      ...Object.entries(top).filter(([k]) => k !== "flags" && !PYTHON_MDM_FLAG_FILE_KEYS.includes(k)),
      ...Object.entries((saved ?? {}) as Record<string, unknown>).map(([k, v]) => [k, v, `flags.${k}`] as const),
    ];
    for (const [key, raw, path = key] of entries as Array<readonly [string, unknown, string?]>) {
      // Python MDM's own flags and its per-feature rollout map mean nothing here.
      if (PYTHON_MDM_FLAGS.has(key)) continue;
      if (key === "rollout_percentage" && raw !== null && typeof raw === "object") continue;
      if (!isFlagName(key)) {
        throw new MdmError(ErrorCodes.INVALID_CONFIG, `${file}: ${path} is not a feature flag; ${unknownFlagHint(key)}`, { details: { file, key: path } });
      }
      (out as Record<string, unknown>)[key] = parseFlagValue(key, raw, { file });
    }
    return out;
  }

  private readEnv(): Partial<FlagValues> {
    const out: Partial<FlagValues> = {};
    const variable = (flag: string) => `MDM_FEATURE_${flag.toUpperCase()}`;
    for (const name of Object.keys(this.env)) {
      // A misspelt MDM_FEATURE_* variable would otherwise be ignored without a word.
      const flag = name.slice("MDM_FEATURE_".length).toLowerCase();
      if (name.startsWith("MDM_FEATURE_") && !isFlagName(flag) && !PYTHON_MDM_FLAGS.has(flag)) {
        const hint = unknownFlagHint(name, variable);
        throw new MdmError(ErrorCodes.INVALID_CONFIG, `${name} is not a feature flag variable; ${hint}`, { details: { variable: name } });
      }
    }
    for (const flag of FLAG_NAMES) {
      const raw = this.env[variable(flag)];
      if (raw !== undefined) (out as Record<string, unknown>)[flag] = parseFlagValue(flag, raw, { variable: variable(flag) });
    }
    return out;
  }

  /** Apply a change to the layers and record every effective value that moved. */
  private applyLayer(mutate: () => void, source: FlagSource): void {
    const before = this.getAll();
    mutate();
    const after = this.getAll();
    for (const flag of FLAG_NAMES) {
      if (before[flag] === after[flag]) continue;
      const change: FlagChange = {
        timestamp: new Date().toISOString(),
        flag,
        oldValue: before[flag],
        newValue: after[flag],
        source: source === "code" ? "code" : this.sourceOf(flag),
      };
      this.changes.push(change);
      if (this.changes.length > 1000) this.changes.shift();
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch {
          // A listener's failure must not undo or block a flag change.
        }
      }
    }
  }
}

/**
 * feature_flags.yaml with our flags set to `values`, edited in place: every other key (Python MDM's own
 * flags, its rollout map, comments) is kept; in Python MDM's layout (`flags:`, `history:`, `last_updated:`)
 * the flags go under `flags:`, each change is appended to `history:` as Python MDM writes it
 * (`{timestamp, flag, old_value, new_value}`) and `last_updated` is renewed. A flag of ours that `values`
 * leaves out is removed (`mdm flags unset`).
 */
function editedFlagFile(text: string, values: Partial<FlagValues>, before: Partial<FlagValues>): string {
  const parsed: Document = parseDocument(text);
  const doc = isMap(parsed.contents) ? parsed : new Document({});
  const python = isMap(doc.get("flags"));
  const at = (flag: string) => (python ? ["flags", flag] : [flag]);
  const now = new Date().toISOString();
  const history = doc.get("history");
  for (const flag of FLAG_NAMES) {
    const had = flag in before;
    const has = flag in values;
    const value = (values as Record<string, unknown>)[flag];
    if (has) doc.setIn(at(flag), value);
    else if (had || doc.hasIn(at(flag))) doc.deleteIn(at(flag));
    const old = (before as Record<string, unknown>)[flag];
    if ((has || had) && (has !== had || old !== value) && isSeq(history)) {
      history.flow = false; // Python's `history: []` grows as a block list
      history.add(doc.createNode({ timestamp: now, flag, old_value: had ? old : null, new_value: has ? value : null }));
    }
  }
  if (doc.has("last_updated")) doc.set("last_updated", now);
  return doc.toString();
}

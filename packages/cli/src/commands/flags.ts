import { FLAG_NAMES, FeatureFlags, isFlagName, parseFlagValue, type FlagName, type FlagValues } from "@mdm/storage-core";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { print, printJson, table } from "../output.js";

function flagName(raw: string): FlagName {
  const name = raw.trim().toLowerCase().replace(/-/g, "_");
  if (!isFlagName(name)) throw new UsageError(`Unknown feature flag ${JSON.stringify(raw)}; known flags: ${FLAG_NAMES.join(", ")}`);
  return name;
}

function flagsOf(ctx: CliContext): FeatureFlags {
  return new FeatureFlags({ file: ctx.home.flagsFile, env: process.env });
}

function shown(value: unknown): string {
  return value === null ? "null" : String(value);
}

/** `mdm flags list --json`: `{ "<flag>": { "value": ..., "source": "default" | "file" | "env" } }`. */
export function flagsListCommand(ctx: CliContext, options: { json?: boolean }): void {
  const flags = flagsOf(ctx);
  const all = Object.fromEntries(FLAG_NAMES.map((f) => [f, { value: flags.get(f), source: flags.sourceOf(f) }]));
  if (options.json) {
    printJson(all);
    return;
  }
  print(table(["flag", "value", "source"], FLAG_NAMES.map((f) => [f, shown(all[f]?.value), all[f]?.source ?? ""])));
  print(`file: ${ctx.home.flagsFile}`);
}

export function flagsGetCommand(ctx: CliContext, raw: string, options: { json?: boolean }): void {
  const flag = flagName(raw);
  const flags = flagsOf(ctx);
  if (options.json) printJson({ flag, value: flags.get(flag), source: flags.sourceOf(flag) });
  else print(shown(flags.get(flag)));
}

function warnIfOverridden(flags: FeatureFlags, flag: FlagName): void {
  if (flags.sourceOf(flag) === "env") {
    process.stderr.write(`mdm: note: MDM_FEATURE_${flag.toUpperCase()} is set in the environment and takes precedence over the file\n`);
  }
}

export function flagsSetCommand(ctx: CliContext, raw: string, value: string): void {
  const flag = flagName(raw);
  let parsed: FlagValues[FlagName];
  try {
    parsed = parseFlagValue(flag, value, "the command line");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags = flagsOf(ctx);
  flags.saveToFile({ ...flags.fileFlags(), [flag]: parsed });
  print(`${flag} = ${shown(parsed)} (written to ${ctx.home.flagsFile})`);
  warnIfOverridden(flags, flag);
}

export function flagsUnsetCommand(ctx: CliContext, raw: string): void {
  const flag = flagName(raw);
  const flags = flagsOf(ctx);
  const values = flags.fileFlags();
  delete values[flag];
  flags.saveToFile(values);
  print(`${flag} removed from ${ctx.home.flagsFile}; now ${shown(flags.get(flag))} (${flags.sourceOf(flag)})`);
  warnIfOverridden(flags, flag);
}

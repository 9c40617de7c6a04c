import Table from "cli-table3";
import pc from "picocolors";

/** JSON for stdout: bigints as strings, dates and timestamps through their toJSON. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

let printedJson = false;

export function printJson(value: unknown): void {
  printJsonText(toJson(value));
}

/** A JSON document already written as text (a report formatter's), on stdout. */
export function printJsonText(text: string): void {
  printedJson = true;
  process.stdout.write(`${text}\n`);
}

/** Whether this process printed a JSON document on stdout (`--json` then prints no second one for an error). */
export function jsonPrinted(): boolean {
  return printedJson;
}

export function print(text = ""): void {
  process.stdout.write(`${text}\n`);
}

/** A terminal table (plain borders; colours only where the terminal has them, through picocolors). */
export function table(head: string[], rows: Array<Array<string | number>>, options: { compact?: boolean } = {}): string {
  const compact = options.compact ? { chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" } } : {};
  const t = new Table({ head: head.map((h) => colour.bold(h)), style: { head: [], border: [] }, ...compact });
  for (const row of rows) t.push(row.map((c) => (typeof c === "number" ? c.toLocaleString("en-US") : c)));
  return t.toString();
}

/** Colours of every message: picocolors' choice (a terminal, NO_COLOR, FORCE_COLOR), or off (`--no-color`). */
export let colour: ReturnType<typeof pc.createColors> = pc;

export function useColour(on: boolean): void {
  colour = pc.createColors(on);
}

export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

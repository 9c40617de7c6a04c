import {
  isMdmError,
  listLeftovers,
  lockDirOf,
  lockedDatasets,
  isNormalizedDatasetName,
  removeLeftover,
  type IStorageBackend,
  type Leftover,
  type LockState,
} from "@mdm/storage-core";
import { existsSync, readdirSync } from "node:fs";
import type { CliContext } from "../context.js";
import { ExitCodes, exitCodeOf, type ExitCode } from "../exit-codes.js";
import { colour, formatBytes, print, printJson, table } from "../output.js";

/** One element of `mdm doctor --json`'s `leftovers`. */
export interface DoctorItem {
  kind: Leftover["kind"] | "staging-database";
  dataset: string;
  /** A file path, or for PostgreSQL the staging database (or schema) name. */
  path: string;
  /** Size on disk (null for a PostgreSQL database). */
  bytes: number | null;
  /** found (without --clean), removed, kept (in use: see reason), failed (see reason). */
  status: "found" | "removed" | "kept" | "failed";
  reason?: string;
  lock?: LockState;
}

export interface DoctorReport {
  home: string;
  leftovers: DoctorItem[];
  postgresql: { checked: boolean; note?: string };
}

/** Names this home knows: registered, with a directory under datasets/, or named by a lock. */
function knownDatasetNames(ctx: CliContext, leftovers: Leftover[]): string[] {
  const names = new Set<string>(ctx.registry.list());
  if (existsSync(ctx.home.datasetsDir)) for (const d of readdirSync(ctx.home.datasetsDir)) names.add(d);
  for (const l of leftovers) names.add(l.dataset);
  return [...names].filter(isNormalizedDatasetName).sort();
}

/** Staging databases of the given datasets in a backend, `keep` set for a dataset another process has locked. */
async function stagingDatabases(ctx: CliContext, backend: IStorageBackend, names: string[]): Promise<Array<{ dataset: string; path: string; keep?: string }>> {
  const locked = lockedDatasets(lockDirOf(ctx.home));
  const out: Array<{ dataset: string; path: string; keep?: string }> = [];
  for (const dataset of names) {
    for (const path of await backend.listStagingPaths(dataset)) {
      const keep = locked.get(dataset);
      out.push(keep ? { dataset, path, keep } : { dataset, path });
    }
  }
  return out;
}

/**
 * Remove what earlier runs left for one dataset: staging files with their sidecars, DuckDB databases
 * under creation, registry entries half written, and the staging databases of `backend` (PostgreSQL).
 * Never a lock, a journal, or anything of a dataset another live process has locked. Register and
 * remove call it before they start; it never fails them (a leftover that cannot go is reported).
 */
export async function removeDatasetLeftovers(ctx: CliContext, name: string, backend: IStorageBackend | undefined, note: (text: string) => void): Promise<void> {
  const removed: string[] = [];
  const failed: string[] = [];
  const files = listLeftovers(ctx.home, { dataset: name }).filter((l) => !l.keep && (l.kind === "staging" || l.kind === "database-temp" || l.kind === "registry-temp"));
  for (const leftover of files) {
    try {
      removeLeftover(leftover);
      removed.push(leftover.path);
    } catch (error) {
      failed.push(`${leftover.path} (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (backend) {
    try {
      for (const staging of await stagingDatabases(ctx, backend, [name])) {
        if (staging.keep) continue;
        await backend.dropDatabase(staging.path);
        removed.push(staging.path);
      }
    } catch (error) {
      failed.push(`staging of ${name} in ${backend.backendType} (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (removed.length > 0) note(`removed ${removed.length} leftover(s) of an earlier run of ${name}: ${removed.join(", ")}`);
  if (failed.length > 0) note(`could not remove leftover(s) of ${name}: ${failed.join("; ")} (see "mdm doctor")`);
}

/** Whether PostgreSQL is in use in this home: the default backend, or a registered dataset's. */
function postgresInUse(ctx: CliContext): boolean {
  if (ctx.config.database.default_backend === "postgresql") return true;
  return ctx.registry.list().some((n) => {
    try {
      return ctx.entry(n).database.backend === "postgresql";
    } catch {
      return false;
    }
  });
}

export interface DoctorOptions {
  clean?: boolean;
  json?: boolean;
  postgresql?: boolean;
}

/** `mdm doctor`: list (and with --clean remove) what interrupted runs left in the home and on the PostgreSQL server. */
export async function doctorCommand(ctx: CliContext, options: DoctorOptions): Promise<ExitCode> {
  const files = listLeftovers(ctx.home);
  const items: DoctorItem[] = files.map((l) => ({
    kind: l.kind,
    dataset: l.dataset,
    path: l.path,
    bytes: l.bytes,
    status: l.keep ? "kept" : "found",
    ...(l.keep ? { reason: l.keep } : {}),
    ...(l.lock ? { lock: l.lock } : {}),
  }));
  const report: DoctorReport = { home: ctx.home.root, leftovers: items, postgresql: { checked: false } };

  let postgres: IStorageBackend | undefined;
  if (options.postgresql || postgresInUse(ctx)) {
    try {
      postgres = await ctx.backend({ type: "postgresql" });
      for (const s of await stagingDatabases(ctx, postgres, knownDatasetNames(ctx, files))) {
        items.push({ kind: "staging-database", dataset: s.dataset, path: s.path, bytes: null, status: s.keep ? "kept" : "found", ...(s.keep ? { reason: s.keep } : {}) });
      }
      report.postgresql = { checked: true };
    } catch (error) {
      postgres = undefined;
      const message = isMdmError(error) ? `${error.message} [${error.code}]` : String(error);
      report.postgresql = { checked: false, note: `PostgreSQL not checked: ${message}` };
    }
  } else {
    report.postgresql = { checked: false, note: "PostgreSQL not checked: no dataset of this home uses it (pass --postgresql to check the server)" };
  }

  let exit: ExitCode = ExitCodes.OK;
  if (options.clean) {
    for (const [i, item] of items.entries()) {
      if (item.status === "kept") continue;
      try {
        if (item.kind === "staging-database") await (postgres as IStorageBackend).dropDatabase(item.path);
        else removeLeftover(files[i] as Leftover);
        item.status = "removed";
      } catch (error) {
        item.status = "failed";
        item.reason = isMdmError(error) ? `${error.message} [${error.code}]` : String(error);
        if (exit === ExitCodes.OK) exit = exitCodeOf(error);
      }
    }
  }

  if (options.json) {
    printJson(report);
    return exit;
  }
  if (items.length === 0) print(`No leftovers in ${ctx.home.root}.`);
  else {
    print(
      table(
        ["dataset", "kind", "path", "size", "status"],
        items.map((i) => [
          i.dataset,
          i.kind === "lock" && i.lock ? `lock (${i.lock.state})` : i.kind,
          i.path,
          formatBytes(i.bytes),
          i.status === "removed" ? colour.green(i.status) : i.status === "found" ? i.status : colour.yellow(`${i.status}: ${i.reason ?? ""}`),
        ]),
      ),
    );
    const found = items.filter((i) => i.status === "found").length;
    const removed = items.filter((i) => i.status === "removed").length;
    print(options.clean ? `${removed} of ${items.length} leftover(s) removed.` : `${items.length} leftover(s)${found > 0 ? `; "mdm doctor --clean" removes ${found}` : ""}.`);
  }
  if (report.postgresql.note) process.stderr.write(`mdm: ${report.postgresql.note}\n`);
  return exit;
}

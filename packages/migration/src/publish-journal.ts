import { mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileSystemError, writeFileDurably } from "@mdm/storage-core";

/**
 * What a migration writes before it publishes and removes once the registry points at the target:
 * `<lock dir>/<name>.publish.json`. A run that dies between the two leaves it behind; the next run of
 * that dataset (holding the dataset lock, so the dead run is not running) reads it to recover:
 *
 * - the registry points at the journal's target: the run had finished; the journal is removed;
 * - the registry still points at the source: the target, if it exists and its `_metadata` carries the
 *   journal's `migration_id`, is the dead run's unregistered copy. It is dropped (the source is the
 *   registered dataset, and may have been written since the dead run let it go), then the migration
 *   runs as usual.
 */
export interface PublishJournal {
  runId: string;
  dataset: string;
  source: string;
  target: string;
  startedAt: string;
}

export function journalPath(lockDir: string, dataset: string): string {
  return join(lockDir, `${dataset}.publish.json`);
}

export function readJournal(lockDir: string, dataset: string): PublishJournal | undefined {
  try {
    const value = JSON.parse(readFileSync(journalPath(lockDir, dataset), "utf8")) as Partial<PublishJournal>;
    if (typeof value.runId !== "string" || typeof value.target !== "string" || typeof value.source !== "string") return undefined;
    return value as PublishJournal;
  } catch {
    return undefined;
  }
}

/** Write the journal durably (temp name, fsync, rename). MDM_DISK_FULL and friends before anything is published. */
export function writeJournal(lockDir: string, journal: PublishJournal): void {
  const path = journalPath(lockDir, journal.dataset);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(lockDir, { recursive: true, mode: 0o700 });
    writeFileDurably(tmp, JSON.stringify(journal), { exclusive: false });
    renameSync(tmp, path);
  } catch (error) {
    removeQuietly(tmp);
    throw fileSystemError(error, path, "write the publish journal");
  }
}

/** Remove the journal; where the directory does not let us, the next run of the dataset reads it and removes it. */
export function removeJournal(lockDir: string, dataset: string): void {
  removeQuietly(journalPath(lockDir, dataset));
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // see removeJournal
  }
}

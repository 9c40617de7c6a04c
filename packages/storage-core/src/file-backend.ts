import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, statfsSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BaseStorageBackend, type BaseBackendOptions } from "./base.js";
import { ErrorCodes, MdmError, fileSystemError } from "./errors.js";
import { MdmHome } from "./layout.js";
import { DATABASE_SIDECARS as SIDECARS, classifyDatasetFile, stagingFileName } from "./leftovers.js";
import { normalizeDatasetName } from "./names.js";

/** Remove a sidecar, file or (DuckDB's spill) directory. */
function removeSidecar(path: string): void {
  rmSync(path, { force: true, recursive: true });
}

export interface FileBackendOptions extends BaseBackendOptions {
  /** The MDM home (datasets live in `<home>/datasets/{name}/{name}.<ext>`). */
  homeDir?: string;
  /** `datasets_path` from mdm.yaml, relative to the home unless absolute. */
  datasetsPath?: string;
}

/**
 * The base of the file engines (SQLite, DuckDB): the dataset layout of Python MDM, databases created
 * owner-only (0600, never over an existing file), drop with sidecar files, staging files beside the
 * final one and publish by an atomic rename after fsync.
 */
export abstract class FileStorageBackend<TEngine, TSession> extends BaseStorageBackend<TEngine, TSession> {
  /** `sqlite` or `duckdb`: the extension of database files. */
  protected abstract readonly extension: "sqlite" | "duckdb";
  readonly home: MdmHome;

  protected constructor(options: FileBackendOptions = {}) {
    super(options);
    this.home = new MdmHome(options.homeDir, {
      datasets_path: options.datasetsPath ?? "datasets/",
      configs_path: "config/datasets/",
      logs_path: "logs/",
      custom_features_path: "config/custom_features/",
    });
  }

  /** Make the new, empty database file an engine database (default: leave it empty, as SQLite accepts). */
  protected async _initializeDatabaseFile(_path: string): Promise<void> {}

  protected _resolveDatabasePath(datasetName: string): string {
    return join(this.home.datasetsDir, datasetName, `${datasetName}.${this.extension}`);
  }

  protected _normalizeDatabasePath(databasePath: string): string {
    if (typeof databasePath !== "string" || databasePath.trim() === "") {
      throw new MdmError(ErrorCodes.INVALID_ARGUMENT, "A database path must be a non-empty string");
    }
    if (databasePath.includes("\0")) throw new MdmError(ErrorCodes.INVALID_NAME, "A database path cannot contain NUL");
    if (databasePath === ":memory:") return databasePath;
    return resolve(databasePath);
  }

  protected async _databaseExists(path: string): Promise<boolean> {
    if (path === ":memory:") return true;
    try {
      return lstatSync(path).isFile();
    } catch {
      return false;
    }
  }

  protected async _createDatabase(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (error) {
      throw this.fileError(error, path, "create");
    }
    closeSync(fd);
    try {
      await this._initializeDatabaseFile(path);
    } catch (error) {
      this.removeDatabaseFiles(path);
      throw error;
    }
  }

  protected async _dropDatabase(path: string): Promise<void> {
    this.removeDatabaseFiles(path);
    const dir = dirname(path);
    if (dir !== this.home.datasetsDir && basename(dir) === basename(path).replace(/\.[^.]+$/, "")) {
      try {
        rmdirSync(dir); // only when empty
      } catch {
        // not empty: leave the user's other files
      }
    }
  }

  /**
   * Remove a database file, its sidecars and any database being created under its name (DuckDB's
   * `.{file}.init-*`). Unlinks only: it needs no free space. A staging file goes last, so an interrupted
   * cleanup leaves the file by which the next run finds the rest; a dataset's file goes first, so it never
   * stays without its WAL looking complete.
   */
  protected removeDatabaseFiles(path: string): void {
    const staging = this.isStagingPath(path);
    if (!staging) rmSync(path, { force: true });
    for (const s of SIDECARS) removeSidecar(path + s);
    const dir = dirname(path);
    const prefix = `.${basename(path)}.init-`;
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      // no directory: nothing beside it
    }
    for (const f of files) if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
    if (staging) rmSync(path, { force: true });
  }

  protected async _listDatasetNames(): Promise<string[]> {
    if (!existsSync(this.home.datasetsDir)) return [];
    const names: string[] = [];
    for (const entry of readdirSync(this.home.datasetsDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (existsSync(join(this.home.datasetsDir, entry.name, `${entry.name}.${this.extension}`))) names.push(entry.name);
    }
    return names;
  }

  /** Whether `file` (a base name) is a staging file of the dataset in this engine (not a sidecar of one). */
  private isStagingFile(datasetName: string, file: string): boolean {
    let kind: ReturnType<typeof classifyDatasetFile>;
    try {
      kind = classifyDatasetFile(datasetName, file);
    } catch {
      return false; // not a dataset's directory
    }
    return kind?.kind === "staging" && kind.extension === this.extension && kind.sidecar === undefined;
  }

  protected override _stagingPath(datasetName: string, runId: string): string {
    return join(this.home.datasetsDir, datasetName, stagingFileName(datasetName, this.extension, runId));
  }

  /** Whether a database path is a migration's staging file (`datasets/{name}/.{name}.{extension}.staging-{runId}`). */
  protected isStagingPath(path: string): boolean {
    return this.isStagingFile(basename(dirname(path)), basename(path));
  }

  protected override async _listStagingPaths(datasetName: string): Promise<string[]> {
    const dir = join(this.home.datasetsDir, normalizeDatasetName(datasetName));
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => this.isStagingFile(datasetName, f))
      .map((f) => join(dir, f))
      .sort();
  }

  protected override async _publishStaging(stagingPath: string, finalPath: string, replace: boolean): Promise<void> {
    for (const s of SIDECARS) {
      if (existsSync(stagingPath + s) && statSync(stagingPath + s).size > 0 && s !== ".tmp") {
        throw new MdmError(ErrorCodes.INTERNAL, `Staging database ${stagingPath} still has a ${s} file; it was not closed cleanly`);
      }
    }
    try {
      const fd = openSync(stagingPath, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw this.fileError(error, stagingPath, "make durable");
    }
    try {
      if (replace) {
        // Sidecars of the replaced database would be applied to the new file: remove them first.
        for (const s of SIDECARS) removeSidecar(finalPath + s);
        renameSync(stagingPath, finalPath);
      } else {
        linkSync(stagingPath, finalPath); // fails with EEXIST: never replaces a dataset by accident
        unlinkSync(stagingPath);
      }
    } catch (error) {
      throw this.fileError(error, finalPath, "publish");
    }
    for (const s of SIDECARS) removeSidecar(stagingPath + s);
    const dirFd = openSync(dirname(finalPath), "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  protected override async _databaseSize(_engine: TEngine, path: string): Promise<number> {
    let total = 0;
    for (const file of [path, ...SIDECARS.map((s) => path + s)]) {
      try {
        total += statSync(file).size;
      } catch {
        // absent sidecar
      }
    }
    return total;
  }

  /**
   * Errors of this backend's operations; a full disk names the file system that is full (the datasets
   * directory, where databases, staging files, WALs and spill files live) with its free bytes, whatever
   * the engine's own message says ("database or disk is full").
   */
  protected override wrapError(error: unknown, context: string): MdmError {
    const mapped = super.wrapError(error, context);
    // export_file writes where the caller said: the engine's message names that file.
    if (mapped.code !== ErrorCodes.DISK_FULL || mapped.details.path !== undefined || context === "export_file") return mapped;
    const dir = this.home.datasetsDir;
    let free = "";
    try {
      const fs = statfsSync(existsSync(dir) ? dir : this.home.root);
      free = ` (${Number(fs.bavail) * Number(fs.bsize)} bytes free)`;
    } catch {
      // not measurable: the message names the directory anyway
    }
    return new MdmError(ErrorCodes.DISK_FULL, `No space left on the file system of ${dir}${free}: ${mapped.message}`, {
      cause: mapped.cause ?? error,
      details: { ...mapped.details, path: dir },
    });
  }

  /** Map a file-system error to a stable code (an error that is none of the known ones: cannot connect). */
  protected fileError(error: unknown, path: string, action: string): MdmError {
    return fileSystemError(error, path, action, ErrorCodes.CONNECTION_FAILED);
  }
}

import type { DuckDBConnection, DuckDBInstance, DuckDBResult } from "@duckdb/node-api";
import { ErrorCodes, MdmError, isMdmError } from "@mdm/storage-core";
import { INFERENCE_MACROS } from "./inference-sql.js";

/**
 * The in-memory DuckDB that reads data files for registration: its CSV, Parquet and JSON readers scan a
 * file in C++ on every core, and the inference rules run over it as SQL. Memory is capped, so a file of any
 * size is streamed rather than held (DuckDB spills nothing: it reads, aggregates and hands out chunks).
 */
export class ScanEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    /** What errors name: the file being read. */
    public label: string,
    private readonly signal?: AbortSignal,
  ) {}

  private readonly interrupt = () => this.connection.interrupt();

  /** `label` names the file in errors. An abort interrupts the running query. */
  static async open(label: string, signal?: AbortSignal): Promise<ScanEngine> {
    // Imported here: DuckDB's native library is loaded only when a file is registered.
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(":memory:", { memory_limit: "160MB", preserve_insertion_order: "true" });
    const connection = await instance.connect();
    const engine = new ScanEngine(instance, connection, label, signal);
    try {
      // Time-zone arithmetic in UTC (ICU is built into the node binary; without it UTC is the only zone).
      await connection.run("LOAD icu").catch(() => undefined);
      await connection.run("SET TimeZone = 'UTC'").catch(() => undefined);
      for (const macro of INFERENCE_MACROS) await connection.run(macro);
    } catch (error) {
      engine.close();
      throw engine.failure(error);
    }
    signal?.addEventListener("abort", engine.interrupt, { once: true });
    return engine;
  }

  /** Every row of a (small) result. */
  async rows(sql: string): Promise<unknown[][]> {
    try {
      this.throwIfAborted();
      return (await this.connection.runAndReadAll(sql)).getRows() as unknown[][];
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** `afterAbort`: clean-up that must run after an abort too (a DETACH), so the signal is not checked first. */
  async run(sql: string, { afterAbort = false }: { afterAbort?: boolean } = {}): Promise<void> {
    try {
      if (!afterAbort) this.throwIfAborted();
      await this.connection.run(sql);
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** A streaming result, fetched one chunk at a time by the caller. */
  async stream(sql: string): Promise<DuckDBResult> {
    try {
      this.throwIfAborted();
      return await this.connection.stream(sql);
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** An abort that came between two queries stops the next one before it starts. */
  private throwIfAborted(): void {
    if (this.signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "Registration interrupted; nothing was registered");
  }

  /** How far the running query is, 0–100 (DuckDB's estimate; -1 when it has none). */
  progress(): number {
    try {
      return this.connection.progress.percentage;
    } catch {
      return -1;
    }
  }

  close(): void {
    this.signal?.removeEventListener("abort", this.interrupt);
    try {
      this.connection.closeSync();
    } finally {
      this.instance.closeSync();
    }
  }

  /** A DuckDB error as an MdmError: the file is malformed (INVALID_ARGUMENT), the disk is full, or the run was interrupted. */
  failure(error: unknown): MdmError {
    if (isMdmError(error)) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/INTERRUPT/i.test(message)) return new MdmError(ErrorCodes.ABORTED, "Registration interrupted; nothing was registered", { cause: error });
    if (/No space left on device|disk is full/i.test(message)) return new MdmError(ErrorCodes.DISK_FULL, `${this.label}: ${message}`, { cause: error });
    return new MdmError(ErrorCodes.INVALID_ARGUMENT, `${this.label}: ${message}`, { cause: error, details: { file: this.label } });
  }
}

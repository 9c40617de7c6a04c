import { chmodSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection, type DuckDBType, type DuckDBValue } from "@duckdb/node-api";
import {
  ErrorCodes,
  FileStorageBackend,
  MdmError,
  quoteIdentifier,
  quoteLiteral,
  selectSql,
  type ColumnDef,
  type DatabaseHold,
  type FileBackendOptions,
  type MdmError as MdmErrorType,
  type QueryResult,
  type SelectPlan,
  type Value,
} from "@mdm/storage-core";
import { chunkRows, resultShape } from "./chunks.js";
import { mapDuckdbError } from "./errors.js";
import { acquireInstance, type InstanceLease } from "./instance-cache.js";
import { instanceOptions, stagingInstanceOptions, type DuckdbSettings } from "./settings.js";
import { duckdbTypeOf, duckdbTypeSql, isTextDecimal, logicalOfDuckdbType, textDecimalComment, textDecimalOf } from "./type-mapping.js";
import { parameterOf, writerFor } from "./value-conversion.js";
import { keepByteOrderMarks } from "./text-decoding.js";

/** What a DuckDB backend keeps per open database file. */
export interface DuckdbEngine {
  readonly path: string;
  readonly lease: InstanceLease;
}

/** What the shared hooks need of a connection: running SQL with typed parameters. */
export type DuckdbStatementRunner = Pick<DuckDBConnection, "run">;

/** What one operation uses: something that runs SQL on that file's instance. */
export interface DuckdbSession {
  readonly connection: DuckdbStatementRunner;
  readonly path: string;
}

export interface DuckdbBackendOptions extends FileBackendOptions {
  /** DuckDB settings (memory_limit, threads, temp_directory, access_mode). */
  duckdb?: DuckdbSettings;
}

/**
 * What the legacy and the new DuckDB backends share: the type mapping, value conversion, catalog
 * queries, SQL execution with typed parameters, error mapping and owner-only database files. It
 * extends core's FileStorageBackend and overrides hooks only; the two implementations differ in
 * how they hold connections, write rows and read them.
 */
export abstract class DuckdbFileBackend<TEngine extends DuckdbEngine, TSession extends DuckdbSession = DuckdbSession> extends FileStorageBackend<TEngine, TSession> {
  protected readonly extension = "duckdb" as const;
  protected readonly settings: DuckdbSettings;
  /** Options every instance of this backend is opened with (validated in the constructor). */
  protected readonly instanceOptions: Record<string, string>;
  /** Options of a migration's staging database: the same with the staging memory limit. */
  protected readonly stagingOptions: Record<string, string>;

  protected constructor(options: DuckdbBackendOptions = {}) {
    super(options);
    keepByteOrderMarks();
    this.settings = { ...(options.duckdb ?? {}) };
    this.instanceOptions = instanceOptions(this.settings);
    this.stagingOptions = stagingInstanceOptions(this.settings);
  }

  /**
   * DuckDB refuses an empty file, so the database is created by DuckDB under a temporary name in
   * the same directory, made owner-only (0600) and renamed onto the placeholder core created with
   * O_EXCL: the final path never holds anything but an owner-only DuckDB file.
   */
  protected override async _initializeDatabaseFile(path: string): Promise<void> {
    const temporary = join(dirname(path), `.${basename(path)}.init-${randomBytes(6).toString("hex")}`);
    try {
      const instance = await DuckDBInstance.create(temporary);
      instance.closeSync();
      chmodSync(temporary, 0o600);
      renameSync(temporary, path);
    } catch (error) {
      throw this.wrapError(error, "create database");
    } finally {
      rmSync(temporary, { force: true });
      rmSync(`${temporary}.wal`, { force: true });
    }
  }

  /** The shared instance of a file, opened with this backend's settings (a staging file: with staging's memory limit). */
  protected async leaseInstance(path: string): Promise<InstanceLease> {
    const lease = await acquireInstance(path, this.isStagingPath(path) ? this.stagingOptions : this.instanceOptions, this.settings.lockWaitMs ?? 0);
    this.restrictWal(path);
    return lease;
  }

  /**
   * Held by keeping the file's instance open: DuckDB lets no other process open it for writing meanwhile
   * (nor at all, when this backend opened it for writing). The file and its WAL are stamped (size, mtime,
   * inode) so `changes()` can prove nothing wrote them; the last lease of a read-write instance
   * checkpoints, which happens only after the hold ends.
   */
  protected override async _holdDatabase(path: string): Promise<DatabaseHold> {
    const lease = await this.leaseInstance(path);
    const stamp = () =>
      [path, `${path}.wal`]
        .map((file) => {
          try {
            const s = statSync(file, { bigint: true });
            return `${s.ino}:${s.size}:${s.mtimeNs}`;
          } catch {
            return "-";
          }
        })
        .join("|");
    const before = stamp();
    return {
      changes: async () => (stamp() === before ? undefined : "its file or WAL changed on disk"),
      release: () => lease.release(),
      retire: async (remove) => {
        try {
          await remove();
        } finally {
          await lease.release();
        }
      },
    };
  }

  /** DuckDB creates `<db>.wal` with the process umask; keep it owner-only like the database file. */
  protected restrictWal(path: string): void {
    if (path === ":memory:") return;
    const wal = `${path}.wal`;
    try {
      if (existsSync(wal)) chmodSync(wal, 0o600);
    } catch {
      // removed by a checkpoint in between
    }
  }

  protected override async _commit(session: TSession): Promise<void> {
    await session.connection.run("COMMIT");
    this.restrictWal(session.path);
  }

  protected async _listTables(session: TSession): Promise<string[]> {
    const result = await this._query(session, "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = current_schema()", []);
    return result.rows.map((r) => r[0] as string);
  }

  protected async _describeTable(session: TSession, table: string): Promise<ColumnDef[] | undefined> {
    // Table names are case-insensitive in DuckDB: "Train" and "train" are one table.
    const found = await this._query(
      session,
      "SELECT table_name, column_name, is_nullable, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = current_schema() AND lower(table_name) = lower($1) ORDER BY column_index",
      [table],
    );
    if (found.rows.length === 0) return undefined;
    const actual = found.rows[0]?.[0] as string;
    const result = await session.connection.run(`SELECT * FROM ${quoteIdentifier(actual)} LIMIT 0`);
    const names = result.columnNames();
    return result.columnTypes().map((type, i) => {
      const name = names[i] as string;
      const column = (type.typeId === DuckDBTypeId.VARCHAR && !type.alias && textDecimalOf(name, found.rows[i]?.[3])) || logicalOfDuckdbType(name, type);
      return { ...column, nullable: found.rows[i]?.[2] !== false };
    });
  }

  protected async _createTable(session: TSession, table: string, columns: ColumnDef[]): Promise<void> {
    const definitions = columns.map((c) => `${quoteIdentifier(c.name)} ${duckdbTypeSql(c)}${c.nullable === false ? " NOT NULL" : ""}`);
    await session.connection.run(`CREATE TABLE ${quoteIdentifier(table)} (${definitions.join(", ")})`);
    for (const column of columns.filter(isTextDecimal)) {
      await session.connection.run(`COMMENT ON COLUMN ${quoteIdentifier(table)}.${quoteIdentifier(column.name)} IS ${quoteLiteral(textDecimalComment(column))}`);
    }
  }

  /** Parameters as DuckDB values, typed by their columns when known. */
  protected bindParameters(params: Value[], columns?: Array<ColumnDef | undefined>): { values: DuckDBValue[]; types: Array<DuckDBType | undefined> } {
    const values: DuckDBValue[] = new Array(params.length);
    const types: Array<DuckDBType | undefined> = new Array(params.length);
    params.forEach((param, i) => {
      const bound = parameterOf(param ?? null, columns?.[i]);
      values[i] = bound.value;
      types[i] = bound.type;
    });
    return { values, types };
  }

  protected async _query(session: TSession, sql: string, params: Value[]): Promise<QueryResult> {
    const { values, types } = this.bindParameters(params);
    const result = params.length > 0 ? await session.connection.run(sql, values, types as DuckDBType[]) : await session.connection.run(sql);
    const { columns, readers } = resultShape(result);
    const rows: Value[][] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const row of chunkRows(chunk, readers)) rows.push(row);
    }
    return { columns, rows };
  }

  protected async _execute(session: TSession, sql: string, params: Value[]): Promise<{ rowsAffected: number }> {
    const { values, types } = this.bindParameters(params);
    const result = params.length > 0 ? await session.connection.run(sql, values, types as DuckDBType[]) : await session.connection.run(sql);
    this.restrictWal(session.path);
    return { rowsAffected: result.rowsChanged };
  }

  /** Per column: the DuckDB type its parameters are bound as (when it has one) and the value writer. */
  protected columnBinders(columns: ColumnDef[]): Array<{ type: DuckDBType | undefined; write: (value: Value) => DuckDBValue }> {
    return columns.map((column) => {
      let type: DuckDBType | undefined;
      try {
        type = duckdbTypeOf(column);
      } catch {
        return { type: undefined, write: (value: Value) => parameterOf(value).value };
      }
      return { type, write: writerFor(type) };
    });
  }

  /** SQL and typed parameters of a planned read. */
  protected selectStatement(plan: SelectPlan): { sql: string; values: DuckDBValue[]; types: Array<DuckDBType | undefined> } {
    const { sql, params } = selectSql(plan, (i) => this._placeholder(i));
    const columns = plan.where && "equals" in plan.where ? plan.where.equals.filter(([, v]) => v !== null).map(([c]) => c) : [];
    return { sql, ...this.bindParameters(params, columns) };
  }

  protected _placeholder(index: number): string {
    return `$${index + 1}`;
  }

  protected _mapError(error: unknown, context: string): MdmErrorType {
    return mapDuckdbError(error, context);
  }

  /** Statistics of a text-encoded decimal: MIN/MAX and moments by numeric value (as DOUBLE), not by text. */
  protected override async _columnStats(session: TSession, table: string, column: ColumnDef): ReturnType<FileStorageBackend<TEngine, TSession>["_columnStats"]> {
    if (!isTextDecimal(column)) return super._columnStats(session, table, column);
    const c = quoteIdentifier(column.name);
    const n = `TRY_CAST(${c} AS DOUBLE)`;
    const result = await this._query(
      session,
      `SELECT COUNT(*), COUNT(${c}), COUNT(DISTINCT ${c}), arg_min(${c}, ${n}), arg_max(${c}, ${n}), AVG(${n}) FILTER (WHERE isfinite(${n})), AVG(${n} * ${n}) FILTER (WHERE isfinite(${n})) FROM ${quoteIdentifier(table)}`,
      [],
    );
    const row = result.rows[0] ?? [];
    const nonNull = Number(row[1] ?? 0);
    return {
      total: Number(row[0] ?? 0),
      nonNull,
      unique: Number(row[2] ?? 0),
      min: row[3] ?? null,
      max: row[4] ?? null,
      m1: nonNull > 0 && row[5] !== null ? Number(row[5]) : null,
      m2: nonNull > 0 && row[6] !== null ? Number(row[6]) : null,
    };
  }

  /**
   * Values DuckDB cannot hold exactly: -0.0 in DOUBLE (its constant and RLE segment encodings treat 0.0
   * and -0.0 as equal, so after a checkpoint a column holding both reads back with one sign for all), and
   * NaN and ±Infinity in a DECIMAL(p,s) column (text-encoded decimals hold them).
   */
  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    if (column.type === "float64") {
      return (value) => {
        if (value === 0 && Object.is(value, -0)) {
          throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)}: DuckDB cannot keep -0.0 apart from 0.0 once a column is compressed`, {
            details: { column: column.name, type: column.type },
          });
        }
      };
    }
    if (column.type !== "decimal" || isTextDecimal(column)) return undefined;
    return (value) => {
      if (value === "NaN" || value === "Infinity" || value === "-Infinity") {
        throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `Column ${JSON.stringify(column.name)}: DuckDB DECIMAL(${column.precision},${column.scale ?? 0}) cannot hold ${value}`, {
          details: { column: column.name, type: column.type },
        });
      }
    };
  }
}

import pg from "pg";
import {
  pgConnectionLost,
  BaseStorageBackend,
  checksumBatches,
  checkConfigSection,
  ErrorCodes,
  MdmError,
  defaultConfig,
  isMdmError,
  mapPostgresError,
  pgConnectWithPlan,
  pgConnectionConfig,
  pgCreateDatabaseSql,
  pgCreateOnce,
  pgCreateTableSql,
  pgDatabaseExists,
  pgDatasetDatabaseName,
  pgDescribeTable,
  pgExecute,
  pgHold,
  pgIdentifier,
  pgListPrefixedDatabases,
  pgListTables,
  pgPublishByRename,
  pgQuery,
  pgSessionSetSql,
  pgSslPlan,
  pgStagingNames,
  pgStagingStem,
  pgStartupOptions,
  pgTerminateSessions,
  pgValueChecker,
  quoteIdentifier,
  selectSql,
  type BackendCapabilities,
  type ColumnDef,
  type FileFormat,
  type PgSslOptions,
  type PostgresqlConfig,
  type QueryResult,
  type SelectPlan,
  type SpecialValue,
  type TableChecksum,
  type Value,
  type DatabaseHold,
  type PgHoldClient,
} from "@mdm/storage-core";
import { copyBatchesIn, type CopyFormat } from "./copy-writer.js";
import { binaryFits } from "./copy-binary.js";
import { copyBinaryChecksum } from "./copy-checksum.js";
import { copyCsvToFile } from "./csv-export.js";
import { copyBinaryBatches } from "./copy-reader.js";
import { cursorBatches } from "./cursor-reader.js";
import { OVERFLOW_IDLE_MILLIS, PoolRegistry } from "./pools.js";

export interface PostgresqlBackendOptions {
  /** `database.postgresql` of mdm.yaml; missing keys take the defaults. */
  config?: Partial<PostgresqlConfig>;
  /**
   * A pool the caller owns. Datasets are then schemas of the pool's database (schema per dataset),
   * and the backend never ends the pool, not even on close().
   */
  pool?: pg.Pool;
  /** COPY format of writes: "auto" (default) is binary when the table's column types are exactly ours, else text. */
  copyFormat?: CopyFormat | "auto";
  /** Streaming reads: "auto" (default) is COPY BINARY TO STDOUT when possible, else a cursor; "cursor" always uses the cursor. */
  readFormat?: "auto" | "cursor";
}

/** What the backend keeps per dataset database (database mode) or schema (schema mode). */
export interface PostgresqlEngine {
  pool: pg.Pool;
  /** The database the pool connects to. */
  database: string;
  /** Where the dataset's tables are: `public` in database mode, the dataset schema otherwise. */
  schema: string;
}

type Layout = "database" | "schema";

/**
 * The new PostgreSQL backend: real pooling with an error listener on every pool, SSL modes with
 * libpq semantics, COPY BINARY writes and reads (text COPY and a cursor where types are foreign),
 * database or schema per dataset, staging with atomic publish by rename, session timeouts and
 * application_name, metrics on every operation.
 */
export class PostgresqlStorageBackend extends BaseStorageBackend<PostgresqlEngine, pg.PoolClient> {
  readonly backendType = "postgresql" as const;
  readonly implementation = "new" as const;
  readonly capabilities: BackendCapabilities = {
    values: { nan: true, infinity: true, negativeZero: true, nulInText: false, nulInJson: true, maxDecimalPrecision: Infinity },
    sql: true,
    concurrentReads: true,
    serializedWrites: false,
    fileImportExport: [],
    metrics: true,
  };
  readonly config: Readonly<Omit<PostgresqlConfig, "password">>;
  /** `database`: one database per dataset; `schema`: one schema per dataset inside `homeDatabase`. */
  readonly layout: Layout;
  /** The database that holds the schemas (schema mode) or runs CREATE/DROP DATABASE (database mode). */
  readonly homeDatabase: string;
  /** COPY format of writes (see PostgresqlBackendOptions.copyFormat). */
  readonly copyFormat: CopyFormat | "auto";
  /** Streaming read path (see PostgresqlBackendOptions.readFormat). */
  readonly readFormat: "auto" | "cursor";
  readonly #password: string | undefined;
  #ssl: PgSslOptions | undefined;
  readonly #pools: PoolRegistry;
  /** Schema each client of a shared pool has as its search_path (schema mode). */
  readonly #clientSchema = new WeakMap<pg.PoolClient, string>();
  #poolErrors = 0;
  /** Clients whose COPY TO was left unfinished (the consumer stopped early): destroyed on release. */
  readonly #abandoned = new WeakSet<pg.PoolClient>();

  constructor(options: PostgresqlBackendOptions = {}) {
    const merged = { ...defaultConfig().database.postgresql, ...(options.config ?? {}) };
    // The rules of mdm.yaml, also for a config given in code: timeouts, names and application_name reach the server.
    checkConfigSection("database.postgresql", merged);
    const password = merged.password ?? undefined;
    super({ metrics: true, secrets: () => [password] });
    this.#password = password;
    const { password: _omit, ...rest } = merged;
    this.config = Object.freeze(rest);
    const callerDatabase = (options.pool as unknown as { options?: { database?: string } } | undefined)?.options?.database;
    this.copyFormat = options.copyFormat ?? "auto";
    this.readFormat = options.readFormat ?? "auto";
    if (!["auto", "cursor"].includes(this.readFormat)) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `readFormat must be "auto" or "cursor"; got ${JSON.stringify(this.readFormat)}`);
    if (!["auto", "binary", "text"].includes(this.copyFormat)) throw new MdmError(ErrorCodes.INVALID_ARGUMENT, `copyFormat must be "auto", "binary" or "text"; got ${JSON.stringify(this.copyFormat)}`);
    this.layout = options.pool || merged.schema_per_dataset ? "schema" : "database";
    if (this.layout === "schema") {
      const home = callerDatabase ?? merged.database;
      if (!home) throw new MdmError(ErrorCodes.INVALID_CONFIG, "database.postgresql.schema_per_dataset needs database.postgresql.database: the database that holds one schema per dataset");
      this.homeDatabase = pgIdentifier(home, "database");
    } else {
      this.homeDatabase = pgIdentifier(merged.database ?? "postgres", "database");
    }
    this.#pools = new PoolRegistry(
      {
        min: merged.pool_size,
        max: merged.pool_size + merged.max_overflow,
        idleTimeoutMillis: OVERFLOW_IDLE_MILLIS,
        maxLifetimeSeconds: merged.pool_recycle,
        acquireTimeoutMillis: merged.pool_timeout * 1000,
      },
      (database) => this.clientConfig(database, this.#ssl ?? pgSslPlan(this.config).ssl),
      (error) => this.onPoolError(error),
      options.pool,
    );
  }

  /** Connections dropped by the server outside a statement (each recorded as the metric `storage.pool_error`). */
  get poolErrors(): number {
    return this.#poolErrors;
  }

  private onPoolError(error: Error): void {
    this.#poolErrors++;
    const code = mapPostgresError(error, "pool").code;
    this.metrics.record("storage.pool_error", 0, { backend: this.backendType, implementation: this.implementation, code }, { error: true });
  }

  private fullConfig(): PostgresqlConfig {
    return { ...this.config, password: this.#password ?? null };
  }

  /**
   * A pg config for one database; session settings and timeouts travel in the startup packet. The
   * statement, lock and idle-in-transaction timeouts apply to dataset sessions, not to the CREATE /
   * DROP / RENAME DATABASE work on the maintenance database (database mode).
   */
  private clientConfig(database: string, ssl: PgSslOptions): pg.PoolConfig {
    const c = this.layout === "database" && database === this.homeDatabase ? { statement_timeout: 0, lock_timeout: 0, idle_in_transaction_session_timeout: 0 } : this.config;
    return {
      ...pgConnectionConfig(this.fullConfig()),
      password: this.#password,
      database,
      ssl,
      keepAlive: true,
      options: pgStartupOptions(this.layout === "database" ? "public" : undefined),
      ...(c.statement_timeout > 0 ? { statement_timeout: c.statement_timeout } : {}),
      ...(c.lock_timeout > 0 ? { lock_timeout: c.lock_timeout } : {}),
      ...(c.idle_in_transaction_session_timeout > 0 ? { idle_in_transaction_session_timeout: c.idle_in_transaction_session_timeout } : {}),
    };
  }

  /** Check the server and settle the TLS options once (libpq allow/prefer may fall back; the stricter modes never do). */
  protected override async _init(): Promise<void> {
    if (this.#pools.callerOwned) {
      await this.withHome((client) => client.query("SELECT 1"));
      return;
    }
    const plan = pgSslPlan(this.config);
    try {
      const { ssl } = await pgConnectWithPlan(plan, async (candidate) => {
        const client = new pg.Client(this.clientConfig(this.homeDatabase, candidate));
        client.on("error", () => undefined);
        try {
          await client.connect();
          await client.query("SELECT 1");
        } finally {
          await client.end().catch(() => undefined);
        }
      });
      this.#ssl = ssl;
    } catch (error) {
      throw this._mapError(error, "connect", this.homeDatabase);
    }
  }

  /** A session on the home database (admin work in database mode, schema work in schema mode). */
  private async withHome<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.#pools.pool(this.homeDatabase);
    const client = await this.acquireFrom(pool, this.homeDatabase);
    let failure: unknown;
    try {
      return await fn(client);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      this.releaseClient(client, failure);
    }
  }

  private async acquireFrom(pool: pg.Pool, database: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.#pools.acquire(pool);
    } catch (error) {
      throw this._mapError(error, "connect", database);
    }
    if (this.#pools.callerOwned && !this.#clientSchema.has(client)) {
      // A pool we did not build: its sessions get our settings once.
      try {
        await client.query(pgSessionSetSql());
      } catch (error) {
        client.release(true);
        throw error;
      }
      this.#clientSchema.set(client, "");
    }
    return client;
  }

  private releaseClient(client: pg.PoolClient, error?: unknown): void {
    // A broken connection is destroyed, and so is one left in the middle of a COPY TO; one that only
    // saw an SQL error (or our own refusal) is reused. A server that ends the session (SQLSTATE class 57,
    // e.g. pg_terminate_backend's 57P01, or 08 connection exceptions) reports it as a DatabaseError, and
    // our mapping may have wrapped it: look through to the cause.
    const abandoned = this.#abandoned.delete(client);
    client.release(abandoned || (error !== undefined && pgConnectionLost(error)));
  }

  // --- names and layout ----------------------------------------------------------------------

  protected _resolveDatabasePath(datasetName: string): string {
    return pgDatasetDatabaseName(this.config.database_prefix, datasetName);
  }

  protected _normalizeDatabasePath(databasePath: string): string {
    return pgIdentifier(databasePath, this.layout === "schema" ? "schema" : "database");
  }

  protected override _stagingPath(datasetName: string, runId: string): string {
    return pgStagingStem(this.config.database_prefix, datasetName) + runId;
  }

  protected override async _listStagingPaths(datasetName: string): Promise<string[]> {
    const stem = pgStagingStem(this.config.database_prefix, datasetName);
    const suffixes = await this.withHome((c) => (this.layout === "schema" ? listPrefixedSchemas(c, stem) : pgListPrefixedDatabases(c, stem)));
    return pgStagingNames(stem, suffixes);
  }

  protected async _databaseExists(path: string): Promise<boolean> {
    if (this.layout === "schema") return this.withHome(async (c) => (await c.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [path])).rows.length > 0);
    return this.withHome((c) => pgDatabaseExists(c, path));
  }

  protected async _createDatabase(path: string): Promise<void> {
    const sql = this.layout === "schema" ? `CREATE SCHEMA ${quoteIdentifier(path)}` : pgCreateDatabaseSql(path);
    await pgCreateOnce("dataset", path, () => this.withHome((c) => c.query(sql)));
  }

  protected async _dropDatabase(path: string): Promise<void> {
    if (this.layout === "schema") {
      await this.withHome((c) => c.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(path)} CASCADE`));
      return;
    }
    await this.#pools.end(path);
    await this.withHome(async (c) => {
      await pgTerminateSessions(c, path);
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(path)}`);
    });
  }

  protected _listDatasetNames(): Promise<string[]> {
    const prefix = this.config.database_prefix;
    if (this.layout === "schema") return this.withHome((c) => listPrefixedSchemas(c, prefix));
    return this.withHome((c) => pgListPrefixedDatabases(c, prefix));
  }

  /** Rename the staging database (or schema) onto the dataset's name in one transaction (see pgPublishByRename). */
  protected override async _publishStaging(staging: string, final: string, replace: boolean): Promise<void> {
    if (this.layout === "database") {
      await this.#pools.end(staging);
      await this.#pools.end(final);
    }
    await this.withHome(async (c) => {
      if (this.layout === "database") {
        await pgTerminateSessions(c, staging);
        if (replace) await pgTerminateSessions(c, final);
      }
      await pgPublishByRename(c, this.layout, staging, final, replace, this.config.database_prefix);
    });
  }

  // --- engines and sessions --------------------------------------------------------------------

  /**
   * SHARE locks on every table, in a transaction of a client of its own (see core's pgHold); a caller's
   * pool lends that client instead, so it needs room for one more. A writer with an open transaction is
   * waited for up to `connect_timeout`.
   */
  protected override async _holdDatabase(path: string): Promise<DatabaseHold> {
    const database = this.layout === "schema" ? this.homeDatabase : path;
    const schema = this.layout === "schema" ? path : "public";
    let client: PgHoldClient;
    if (this.#pools.callerOwned) {
      const lent = await this.acquireFrom(this.#pools.pool(database), database);
      client = Object.assign(lent, { end: async () => lent.release(true) });
    } else {
      const own = new pg.Client(this.clientConfig(database, this.#ssl ?? pgSslPlan(this.config).ssl));
      own.on("error", () => undefined);
      try {
        await own.connect();
      } catch (error) {
        throw this._mapError(error, "connect", database);
      }
      client = own;
    }
    try {
      return await pgHold(client, schema, this.config.connect_timeout * 1000);
    } catch (error) {
      throw this._mapError(error, "hold", database);
    }
  }

  protected async _openEngine(path: string): Promise<PostgresqlEngine> {
    if (this.layout === "schema") {
      if (!(await this._databaseExists(path))) {
        throw new MdmError(ErrorCodes.DATABASE_NOT_FOUND, `Schema ${JSON.stringify(path)} does not exist in database ${JSON.stringify(this.homeDatabase)}`, { details: { schema: path } });
      }
      return { pool: this.#pools.pool(this.homeDatabase), database: this.homeDatabase, schema: path };
    }
    const pool = this.#pools.pool(path);
    try {
      const client = await this.#pools.acquire(pool);
      client.release();
    } catch (error) {
      await this.#pools.end(path).catch(() => undefined);
      throw this._mapError(error, "connect", path);
    }
    return { pool, database: path, schema: "public" };
  }

  protected async _closeEngine(engine: PostgresqlEngine): Promise<void> {
    // The shared pool of schema mode (and a caller's pool) outlives the engines of its schemas.
    if (this.layout === "database") await this.#pools.end(engine.database);
  }

  /** Also ends the pools that are not an engine's (the home database's); a caller's pool is never ended. */
  override async closeConnections(): Promise<void> {
    await super.closeConnections();
    await this.#pools.endAll();
  }

  protected async _acquire(engine: PostgresqlEngine): Promise<pg.PoolClient> {
    const client = await this.acquireFrom(engine.pool, engine.database);
    if (this.layout === "schema" && this.#clientSchema.get(client) !== engine.schema) {
      try {
        await client.query(`SET search_path TO ${quoteIdentifier(engine.schema)}, pg_catalog`);
      } catch (error) {
        client.release(true);
        throw this._mapError(error, "connect", engine.database);
      }
      this.#clientSchema.set(client, engine.schema);
    }
    return client;
  }

  protected async _release(_engine: PostgresqlEngine, session: pg.PoolClient, error?: unknown): Promise<void> {
    this.releaseClient(session, error);
  }

  protected _rawConnection(engine: PostgresqlEngine): unknown {
    return engine.pool;
  }

  private schemaOf(session: pg.PoolClient): string {
    return this.layout === "schema" ? (this.#clientSchema.get(session) as string) : "public";
  }

  // --- tables, reads, writes --------------------------------------------------------------------

  protected _listTables(session: pg.PoolClient): Promise<string[]> {
    return pgListTables(session, this.schemaOf(session));
  }

  protected _describeTable(session: pg.PoolClient, table: string): Promise<ColumnDef[] | undefined> {
    return pgDescribeTable(session, this.schemaOf(session), table);
  }

  protected async _createTable(session: pg.PoolClient, table: string, columns: ColumnDef[]): Promise<void> {
    await pgCreateOnce("table", table, () => session.query(pgCreateTableSql(table, columns)));
  }

  /** COPY FROM STDIN (binary when the table's types are ours, else text), inside the caller's transaction. */
  protected async _insertRows(session: pg.PoolClient, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    await this._insertBatches(session, table, columns, [rows]);
  }

  /** All batches of a write (or of a segment between commits) as one COPY, fed as they come. */
  protected override async _insertBatches(session: pg.PoolClient, table: string, columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): Promise<void> {
    await copyBatchesIn(session, this.schemaOf(session), table, columns, batches, this.copyFormat);
  }

  /**
   * The SELECT of a plan, and whether it is read with COPY BINARY: when it binds no parameter and every
   * column has exactly our server type (the server formats nothing, we decode binary); else a cursor.
   */
  private async planRead(session: pg.PoolClient, plan: SelectPlan): Promise<{ sql: string; params: Value[]; binary: boolean }> {
    const { sql, params } = selectSql(plan, (i) => this._placeholder(i));
    const binary = this.readFormat === "auto" && params.length === 0 && (await binaryFits(session, this.schemaOf(session), plan.table, plan.columns));
    return { sql, params, binary };
  }

  /** COPY BINARY or a cursor (see planRead), both in `batchSize` batches. */
  protected async *_streamSelect(session: pg.PoolClient, plan: SelectPlan, signal?: AbortSignal): AsyncIterable<Value[][]> {
    const { sql, params, binary } = await this.planRead(session, plan);
    if (binary) yield* copyBinaryBatches(session, sql, plan.columns, plan.batchSize, signal, (client) => this.#abandoned.add(client));
    else yield* cursorBatches(session, sql, params, plan.batchSize, signal);
  }

  /** From COPY BINARY, the fields hashed as they arrive (see copy-checksum.ts); through a cursor, the rows. */
  protected override async _checksumRows(session: pg.PoolClient, plan: SelectPlan, checksum: TableChecksum, signal?: AbortSignal): Promise<void> {
    const { sql, params, binary } = await this.planRead(session, plan);
    if (binary) await copyBinaryChecksum(session, sql, plan.columns, checksum, signal, (client) => this.#abandoned.add(client));
    else await checksumBatches(checksum, cursorBatches(session, sql, params, plan.batchSize, signal), signal);
  }

  protected _query(session: pg.PoolClient, sql: string, params: Value[], hints?: Array<ColumnDef | undefined>): Promise<QueryResult> {
    return pgQuery(session, sql, params, hints);
  }

  protected _execute(session: pg.PoolClient, sql: string, params: Value[]): Promise<{ rowsAffected: number }> {
    return pgExecute(session, sql, params);
  }

  protected _placeholder(index: number): string {
    return `$${index + 1}`;
  }

  protected _mapError(error: unknown, context: string, database?: string): MdmError {
    if (isMdmError(error)) return error;
    return mapPostgresError(error, context, { host: this.config.host, port: this.config.port, user: this.config.user, database, secrets: [this.#password] });
  }

  protected override _valueChecker(column: ColumnDef): ((value: Value) => void) | undefined {
    return pgValueChecker(column);
  }

  /** float8 keeps NaN (equal to itself here), the infinities and -0.0 (which equals 0 and prints as "-0"). */
  protected override _containsSql(column: string, kind: SpecialValue): string | undefined {
    if (kind === "nan") return `${column} = 'NaN'::float8`;
    if (kind === "infinity") return `${column} IN ('Infinity'::float8, '-Infinity'::float8)`;
    if (kind === "negativeZero") return `${column} = 0 AND ${column}::text = '-0'`;
    return undefined;
  }

  /** CSV by the server's COPY (csv-export.ts); no other format is native here. */
  protected override async _exportFile(session: pg.PoolClient, table: string, columns: ColumnDef[], filePath: string, format: FileFormat): Promise<number> {
    if (format !== "csv") return super._exportFile(session, table, columns, filePath, format);
    return copyCsvToFile(session, table, columns, filePath, (client) => this.#abandoned.add(client));
  }

  protected override async _optimize(session: pg.PoolClient): Promise<void> {
    if (this.layout === "database") {
      await session.query("VACUUM ANALYZE");
      return;
    }
    const schema = this.schemaOf(session);
    for (const table of await pgListTables(session, schema)) await session.query(`VACUUM ANALYZE ${quoteIdentifier(schema)}.${quoteIdentifier(table)}`);
  }

  protected override async _databaseSize(engine: PostgresqlEngine): Promise<number> {
    const client = await this._acquire(engine);
    try {
      const sql =
        this.layout === "database"
          ? "SELECT pg_database_size(current_database())"
          : "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')";
      const result = await pgQuery(client, sql, this.layout === "database" ? [] : [engine.schema], [{ name: "size", type: "int64" }]);
      return Number(result.rows[0]?.[0] ?? 0);
    } finally {
      this.releaseClient(client);
    }
  }
}

async function listPrefixedSchemas(client: pg.PoolClient, prefix: string): Promise<string[]> {
  const result = await client.query<{ nspname: string }>("SELECT nspname FROM pg_catalog.pg_namespace WHERE left(nspname, length($1)) = $1 ORDER BY nspname", [prefix]);
  return result.rows.map((r) => r.nspname.slice(prefix.length));
}


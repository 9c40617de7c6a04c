import { createHash } from "node:crypto";
import pg from "pg";
import {
  pgConnectionLost,
  BaseStorageBackend,
  MdmError,
  checkConfigSection,
  defaultConfig,
  isMdmError,
  mapPostgresError,
  pgConnectWithPlan,
  pgConnectionConfig,
  pgHold,
  pgCreateDatabaseSql,
  pgCreateOnce,
  pgCreateTableSql,
  pgDatabaseExists,
  pgDatasetDatabaseName,
  pgDescribeTable,
  pgExecute,
  pgIdentifier,
  pgListPrefixedDatabases,
  pgListTables,
  pgPublishByRename,
  pgQuery,
  pgSslPlan,
  pgStagingNames,
  pgStagingStem,
  pgStartupOptions,
  pgTerminateSessions,
  pgTextEncoder,
  pgTypes,
  pgValueChecker,
  quoteIdentifier,
  selectSql,
  type BackendCapabilities,
  type ColumnDef,
  type PgSslOptions,
  type PostgresqlConfig,
  type QueryResult,
  type SelectPlan,
  type Value,
  type DatabaseHold,
} from "@mdm/storage-core";

/** PostgreSQL's limit of bind parameters in one statement. */
export const MAX_BIND_PARAMETERS = 65_535;
/**
 * Rows per INSERT statement (fewer when 65,535 parameters would not hold them). pandas
 * `to_sql(chunksize=10000)` sent up to 10,000 rows per statement, parsed anew each time. What pays is parsing
 * once: prepared statements of 64 to 2,048 rows were within the noise of each other, and 256 was faster than
 * 2,048 in the quieter run (see the README, "Speed").
 */
export const INSERT_CHUNK_ROWS = 256;

export interface LegacyPostgresqlOptions {
  /** `database.postgresql` of mdm.yaml; missing keys take the defaults. */
  config?: Partial<PostgresqlConfig>;
}

export interface LegacyEngine {
  pool: pg.Pool;
  database: string;
}

/** Tables live in the `public` schema of each dataset database, as Python MDM wrote them. */
const SCHEMA = "public";

/**
 * Today's PostgreSQL backend: one database `{prefix}{name}` per dataset, one pool of `pool_size`
 * connections per database, multi-row INSERTs in chunks under 65,535 parameters, plain reads,
 * database create and drop (other sessions terminated first). No metrics.
 */
export class LegacyPostgresqlStorageBackend extends BaseStorageBackend<LegacyEngine, pg.PoolClient> {
  readonly backendType = "postgresql" as const;
  readonly implementation = "legacy" as const;
  readonly capabilities: BackendCapabilities = {
    values: { nan: true, infinity: true, negativeZero: true, nulInText: false, nulInJson: true, maxDecimalPrecision: Infinity },
    sql: true,
    concurrentReads: true,
    serializedWrites: false,
    fileImportExport: [],
    metrics: false,
  };
  readonly config: Readonly<Omit<PostgresqlConfig, "password">>;
  readonly #password: string | undefined;
  #ssl: PgSslOptions | undefined;
  readonly #listening = new WeakSet<pg.PoolClient>();

  constructor(options: LegacyPostgresqlOptions = {}) {
    const merged = { ...defaultConfig().database.postgresql, ...(options.config ?? {}) };
    checkConfigSection("database.postgresql", merged);
    const password = merged.password ?? undefined;
    super({ secrets: () => [password] });
    this.#password = password;
    const { password: _omit, ...rest } = merged;
    this.config = Object.freeze(rest);
  }

  private fullConfig(): PostgresqlConfig {
    return { ...this.config, password: this.#password ?? null };
  }

  private get adminDatabase(): string {
    return this.config.database ?? "postgres";
  }

  /** A pg config for one database (the password is handed to pg, never kept elsewhere). */
  private clientConfig(database: string, ssl: PgSslOptions): pg.PoolConfig {
    return {
      ...pgConnectionConfig(this.fullConfig()),
      password: this.#password,
      database,
      ssl,
      options: pgStartupOptions(SCHEMA),
    };
  }

  /** The TLS options to use, resolved once with libpq's sslmode semantics (allow/prefer may fall back). */
  private async ssl(database: string): Promise<PgSslOptions> {
    if (this.#ssl !== undefined) return this.#ssl;
    const plan = pgSslPlan(this.config);
    const { ssl } = await pgConnectWithPlan(plan, async (candidate) => {
      const client = new pg.Client(this.clientConfig(database, candidate));
      client.on("error", () => undefined);
      await client.connect();
      await client.end();
    });
    this.#ssl = ssl;
    return ssl;
  }

  /** A throw-away connection to the maintenance database, as the original's admin engine. */
  private async withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const database = this.adminDatabase;
    const client = new pg.Client(this.clientConfig(database, await this.ssl(database)));
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw this._mapError(error, "connect", database);
    }
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  protected override async _init(): Promise<void> {
    await this.withAdmin(async (client) => {
      await client.query("SELECT 1");
    });
  }

  protected _resolveDatabasePath(datasetName: string): string {
    return pgDatasetDatabaseName(this.config.database_prefix, datasetName);
  }

  protected _normalizeDatabasePath(databasePath: string): string {
    return pgIdentifier(databasePath, "database");
  }

  protected _databaseExists(database: string): Promise<boolean> {
    return this.withAdmin((client) => pgDatabaseExists(client, database));
  }

  protected async _createDatabase(database: string): Promise<void> {
    await pgCreateOnce("dataset", database, () => this.withAdmin((client) => client.query(pgCreateDatabaseSql(database))));
  }

  protected async _dropDatabase(database: string): Promise<void> {
    await this.withAdmin(async (client) => {
      await pgTerminateSessions(client, database);
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`);
    });
  }

  protected _listDatasetNames(): Promise<string[]> {
    return this.withAdmin((client) => pgListPrefixedDatabases(client, this.config.database_prefix));
  }

  protected override _stagingPath(datasetName: string, runId: string): string {
    return pgStagingStem(this.config.database_prefix, datasetName) + runId;
  }

  protected override async _listStagingPaths(datasetName: string): Promise<string[]> {
    const stem = pgStagingStem(this.config.database_prefix, datasetName);
    return pgStagingNames(stem, await this.withAdmin((client) => pgListPrefixedDatabases(client, stem)));
  }

  /** ALTER DATABASE ... RENAME in one transaction, other sessions terminated first (see pgPublishByRename). */
  protected override async _publishStaging(staging: string, final: string, replace: boolean): Promise<void> {
    await this.withAdmin(async (client) => {
      await pgTerminateSessions(client, staging);
      if (replace) await pgTerminateSessions(client, final);
      await pgPublishByRename(client, "database", staging, final, replace, this.config.database_prefix);
    });
  }

  /** SHARE locks on every table, in a transaction of a connection of its own (see core's pgHold). */
  protected override async _holdDatabase(database: string): Promise<DatabaseHold> {
    const client = new pg.Client(this.clientConfig(database, await this.ssl(database)));
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw this._mapError(error, "connect", database);
    }
    try {
      return await pgHold(client, SCHEMA, this.config.connect_timeout * 1000);
    } catch (error) {
      throw this._mapError(error, "hold", database);
    }
  }

  protected async _openEngine(database: string): Promise<LegacyEngine> {
    const pool = new pg.Pool({ ...this.clientConfig(database, await this.ssl(database)), max: this.config.pool_size });
    // An idle connection the server drops emits 'error' on the pool; without a listener the process dies.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      client.release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw this._mapError(error, "connect", database);
    }
    return { pool, database };
  }

  protected async _closeEngine(engine: LegacyEngine): Promise<void> {
    await engine.pool.end();
  }

  protected async _acquire(engine: LegacyEngine): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await engine.pool.connect();
    } catch (error) {
      throw this._mapError(error, "connect", engine.database);
    }
    // pg-pool removes its own listener while a client is checked out: a connection dropped between
    // two statements of an operation would otherwise crash the process (the next statement fails instead).
    if (!this.#listening.has(client)) {
      this.#listening.add(client);
      client.on("error", () => undefined);
    }
    return client;
  }

  protected async _release(_engine: LegacyEngine, session: pg.PoolClient, error?: unknown): Promise<void> {
    // A connection that broke (or that the server ended) is destroyed; one that saw an SQL error is reused.
    session.release(error !== undefined && pgConnectionLost(error));
  }

  protected _rawConnection(engine: LegacyEngine): unknown {
    return engine.pool;
  }

  protected _listTables(session: pg.PoolClient): Promise<string[]> {
    return pgListTables(session, SCHEMA);
  }

  protected _describeTable(session: pg.PoolClient, table: string): Promise<ColumnDef[] | undefined> {
    return pgDescribeTable(session, SCHEMA, table);
  }

  protected async _createTable(session: pg.PoolClient, table: string, columns: ColumnDef[]): Promise<void> {
    await pgCreateOnce("table", table, () => session.query(pgCreateTableSql(table, columns)));
  }

  /**
   * Multi-row `INSERT ... VALUES ($1::type, ...), (...)` of INSERT_CHUNK_ROWS rows (fewer when 65,535
   * parameters would not hold them), prepared once per connection as a named statement and executed for every
   * full chunk of every batch; a last, shorter chunk is an unnamed statement. Each parameter is cast to its
   * column's type as the server has it (`format_type`, without the typmod, so the column's own length or
   * precision still applies as on assignment): the statement's text, hence its name, pins its parameter types,
   * so a table recreated with other types gets a statement of its own. Parsing a 2,048-row VALUES list of 11
   * columns for every batch had kept this backend at 28,500 rows/s (see the README).
   */
  protected override async _insertBatches(session: pg.PoolClient, table: string, columns: ColumnDef[], batches: AsyncIterable<Value[][]> | Iterable<Value[][]>): Promise<void> {
    const width = columns.length;
    const perStatement = Math.max(1, Math.min(INSERT_CHUNK_ROWS, Math.floor(MAX_BIND_PARAMETERS / width)));
    const encoders = columns.map(pgTextEncoder);
    const types = await this.serverTypes(session, table);
    const casts = columns.map((c) => {
      const type = types.get(c.name);
      return type === undefined ? "" : `::${type}`;
    });
    const head = `INSERT INTO ${quoteIdentifier(table)} (${columns.map((c) => quoteIdentifier(c.name)).join(", ")}) VALUES `;
    const sqlFor = (count: number) => {
      const tuples: string[] = new Array(count);
      for (let r = 0, p = 0; r < count; r++) {
        const marks: string[] = new Array(width);
        for (let c = 0; c < width; c++) marks[c] = `$${++p}${casts[c]}`;
        tuples[r] = `(${marks.join(", ")})`;
      }
      return head + tuples.join(", ");
    };
    let prepared: { name: string; text: string } | undefined;
    for await (const rows of batches) {
      for (let start = 0; start < rows.length; start += perStatement) {
        const count = Math.min(perStatement, rows.length - start);
        const values: Array<string | null> = new Array(count * width);
        for (let r = 0, p = 0; r < count; r++) {
          const row = rows[start + r] as Value[];
          for (let c = 0; c < width; c++, p++) {
            const v = row[c] as Value;
            values[p] = v === null ? null : (encoders[c] as (value: Value) => string)(v);
          }
        }
        if (count < perStatement) {
          await session.query(sqlFor(count), values);
          continue;
        }
        if (!prepared) {
          const text = sqlFor(count);
          prepared = { text, name: `mdm_insert_${createHash("sha256").update(text).digest("hex").slice(0, 32)}` };
        }
        await session.query({ name: prepared.name, text: prepared.text, values });
      }
    }
  }

  protected async _insertRows(session: pg.PoolClient, table: string, columns: ColumnDef[], rows: Value[][]): Promise<void> {
    await this._insertBatches(session, table, columns, [rows]);
  }

  /** The server's type of every column of a table, without typmod (`bigint`, `character varying`, `numeric`). */
  private async serverTypes(session: pg.PoolClient, table: string): Promise<Map<string, string>> {
    const result = await session.query<{ attname: string; type: string }>(
      "SELECT a.attname, format_type(a.atttypid, NULL) AS type FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
      [`${quoteIdentifier(SCHEMA)}.${quoteIdentifier(table)}`],
    );
    return new Map(result.rows.map((r) => [r.attname, r.type]));
  }

  /** A plain read: the whole result at once, handed out in batches. */
  protected async *_streamSelect(session: pg.PoolClient, plan: SelectPlan): AsyncIterable<Value[][]> {
    const { sql, params } = selectSql(plan, (i) => this._placeholder(i));
    const result = await pgQuery(session, sql, params);
    for (let start = 0; start < result.rows.length; start += plan.batchSize) {
      yield result.rows.slice(start, start + plan.batchSize);
    }
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

  protected override async _optimize(session: pg.PoolClient): Promise<void> {
    await session.query("VACUUM ANALYZE");
  }

  protected override async _databaseSize(engine: LegacyEngine): Promise<number> {
    const result = await pgQuery(engine.pool, "SELECT pg_database_size(current_database())", [], [{ name: "size", type: "int64" }]);
    return Number(result.rows[0]?.[0] ?? 0);
  }
}


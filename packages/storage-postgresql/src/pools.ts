import pg from "pg";
import { ErrorCodes, MdmError } from "@mdm/storage-core";

/** Pool settings derived from mdm.yaml, in pg-pool's terms. */
export interface PoolSettings {
  /** Connections kept open when idle (`pool_size`). */
  min: number;
  /** Connections at most (`pool_size + max_overflow`). */
  max: number;
  /** An idle connection above `min` is closed after this long. */
  idleTimeoutMillis: number;
  /** Connections are replaced after this many seconds (`pool_recycle`; 0 = never). */
  maxLifetimeSeconds: number;
  /** How long `acquire` waits for a free connection (`pool_timeout`). */
  acquireTimeoutMillis: number;
}

/** Idle connections above pool_size close after this many milliseconds (SQLAlchemy closes overflow at once). */
export const OVERFLOW_IDLE_MILLIS = 10_000;

/**
 * The pools of one backend, one per database, each with an `error` listener (an idle connection the
 * server drops must never crash the process). A caller-owned pool is used as given and never ended.
 */
export class PoolRegistry {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly callerPool: pg.Pool | undefined;
  private readonly guarded = new WeakSet<pg.PoolClient>();

  constructor(
    private readonly settings: PoolSettings,
    private readonly configFor: (database: string) => pg.PoolConfig,
    private readonly onPoolError: (error: Error) => void,
    callerPool?: pg.Pool,
  ) {
    this.callerPool = callerPool;
    if (callerPool) callerPool.on("error", onPoolError);
  }

  get callerOwned(): boolean {
    return this.callerPool !== undefined;
  }

  /** The pool of a database, created on first use. */
  pool(database: string): pg.Pool {
    if (this.callerPool) return this.callerPool;
    let pool = this.pools.get(database);
    if (!pool) {
      pool = new pg.Pool({
        ...this.configFor(database),
        min: this.settings.min,
        max: this.settings.max,
        idleTimeoutMillis: this.settings.idleTimeoutMillis,
        maxLifetimeSeconds: this.settings.maxLifetimeSeconds,
      });
      pool.on("error", this.onPoolError);
      this.pools.set(database, pool);
    }
    return pool;
  }

  /** A client of the pool, waiting at most `pool_timeout`; a client that errors while checked out never crashes the process either. */
  async acquire(pool: pg.Pool): Promise<pg.PoolClient> {
    const pending = pool.connect();
    const limit = this.settings.acquireTimeoutMillis;
    let timer: NodeJS.Timeout | undefined;
    const client = await (limit > 0
      ? Promise.race([
          pending,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              pending.then((late) => late.release(), () => undefined);
              reject(new MdmError(ErrorCodes.TIMEOUT, `No PostgreSQL connection became free within pool_timeout (${limit / 1000} s); ${pool.totalCount} open, ${pool.waitingCount} waiting`));
            }, limit);
          }),
        ])
      : pending
    ).finally(() => clearTimeout(timer));
    if (!this.guarded.has(client)) {
      this.guarded.add(client);
      client.on("error", this.onPoolError);
    }
    return client;
  }

  /** End the pool of one database (never a caller's). */
  async end(database: string): Promise<void> {
    const pool = this.pools.get(database);
    if (!pool) return;
    this.pools.delete(database);
    await pool.end();
  }

  async endAll(): Promise<void> {
    const all = [...this.pools.keys()];
    await Promise.all(all.map((d) => this.end(d)));
  }
}

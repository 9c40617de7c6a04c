import { ErrorCodes, MdmError } from "./errors.js";
import type { DatabaseHold } from "./hold.js";
import { pgExecute, pgListTables, pgQualified, type PgQueryable } from "./postgres.js";

/** A pg client of the hold's own: queries, and `end()`. */
export interface PgHoldClient extends PgQueryable {
  end(): Promise<void>;
}

async function statement(client: PgHoldClient, sql: string): Promise<void> {
  await pgExecute(client, sql, []);
}

/** End the sessions waiting for a lock on a table of the schema `$1` (never our own). */
const TERMINATE_WAITERS_SQL = `SELECT pg_terminate_backend(w.pid) FROM pg_catalog.pg_locks w
 WHERE NOT w.granted AND w.locktype = 'relation' AND w.pid <> pg_backend_pid()
   AND w.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND w.relation IN (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1)`;

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Hold a PostgreSQL database or schema against writers (both PostgreSQL backends): a transaction of a
 * client of its own takes SHARE locks on every table of the schema and keeps them. SELECT and COPY TO go
 * on; INSERT, UPDATE, DELETE, TRUNCATE and DDL on those tables wait. A table created meanwhile is not
 * locked, so `changes()` compares the table list, and a lost connection (the locks gone with it) is a
 * change too. A writer with an open transaction is waited for up to `lockTimeoutMs`, then MDM_LOCKED;
 * other errors are the caller's to map.
 */
export async function pgHold(client: PgHoldClient, schema: string, lockTimeoutMs: number): Promise<DatabaseHold> {
  let tables: string[];
  let lost: string | undefined;
  try {
    await statement(client, "BEGIN ISOLATION LEVEL READ COMMITTED");
    await statement(client, `SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    await statement(client, "SET LOCAL idle_in_transaction_session_timeout = 0");
    await statement(client, "SET LOCAL statement_timeout = 0");
    // Lock what is there, then look again: a table created before the lock was granted is locked too.
    tables = [];
    for (;;) {
      const now = await pgListTables(client, schema);
      const fresh = now.filter((t) => !tables.includes(t));
      if (fresh.length === 0 && same(now, tables)) break;
      if (fresh.length > 0) await statement(client, `LOCK TABLE ${fresh.map((t) => pgQualified(schema, t)).join(", ")} IN SHARE MODE`);
      tables = now;
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    if ((error as { code?: unknown }).code === "55P03") {
      throw new MdmError(ErrorCodes.LOCKED, `Schema ${JSON.stringify(schema)} is being written by another session: its tables could not be locked within ${Math.round(lockTimeoutMs / 1000)} s; try again when it is done`, {
        details: { schema, sqlstate: "55P03" },
      });
    }
    throw error;
  }
  (client as unknown as { on?: (event: string, listener: (error: Error) => void) => void }).on?.("error", (error) => {
    lost = `the connection that held it was lost (${error.message})`;
  });
  let ended = false;
  let committed = false;
  const end = async (moved = false) => {
    if (ended) return;
    ended = true;
    try {
      // Sessions queued behind our locks would write into a copy that is no longer the dataset.
      if (moved && !committed) await pgExecute(client, TERMINATE_WAITERS_SQL, [schema]);
    } catch {
      // not allowed to (another role without pg_signal_backend): they go on
    }
    try {
      if (!committed) await statement(client, "ROLLBACK");
    } catch {
      // the connection is gone: so are its locks
    }
    await client.end().catch(() => undefined);
  };
  return {
    changes: async () => {
      if (lost) return lost;
      let now: string[];
      try {
        now = await pgListTables(client, schema);
      } catch (error) {
        return `the connection that held it failed (${(error as Error).message})`;
      }
      if (same(now, tables)) return undefined;
      const added = now.filter((t) => !tables.includes(t));
      const removed = tables.filter((t) => !now.includes(t));
      return [added.length ? `table ${added.join(", ")} was created` : "", removed.length ? `table ${removed.join(", ")} was dropped` : ""].filter(Boolean).join("; ");
    },
    release: (options) => end(options?.moved === true),
    retire: async (remove) => {
      try {
        const now = await pgListTables(client, schema);
        if (now.length > 0) await statement(client, `DROP TABLE ${now.map((t) => pgQualified(schema, t)).join(", ")} CASCADE`);
        await statement(client, "COMMIT");
        committed = true;
      } finally {
        await end();
      }
      await remove();
    },
  };
}

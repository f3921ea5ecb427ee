// The job system's own small pg pool: the raw SQL of src/queue/sql.ts runs on it, so one process keeps a
// handful of connections (PGlite serves 40 in all) and a job row change and its event commit in one transaction.
import pg from 'pg';
import { DEFAULT_DB_TIMEOUTS, GuardedPool, type DbTimeouts } from '../db/pg-pool.ts';

/** Rows come back untyped: each statement's caller names the row shape it selected (`executeSql<Row>`). */
export interface SqlClient {
  executeSql<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

// Prisma's DateTime columns are `timestamp without time zone` holding UTC: read them as UTC, and make the
// session's now() / CURRENT_TIMESTAMP UTC too, whatever the server's or this machine's time zone.
const TIMESTAMP_OID = 1114;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMP_OID && format !== 'binary'
      ? (v: string) => new Date(v.replace(' ', 'T') + 'Z')
      : (pg.types.getTypeParser(oid, format) as (v: string) => unknown)) as typeof pg.types.getTypeParser,
};

export class SqlPool implements SqlClient {
  private readonly pool: pg.Pool;

  /** Bounded waits, and a connection cut mid-transaction is dropped, never leaked nor fatal (src/db/pg-pool.ts). */
  constructor(databaseUrl: string, max: number, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS) {
    this.pool = new GuardedPool(
      { connectionString: databaseUrl, max, options: '-c timezone=UTC', types, application_name: 'modelpress-jobs' },
      timeouts,
    );
  }

  async executeSql<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
    const { rows } = await this.pool.query(text, values);
    return { rows: rows as R[] };
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const executeSql = async <R extends object>(text: string, values?: unknown[]) => ({ rows: (await client.query(text, values)).rows as R[] });
      const result = await fn({ executeSql });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close() {
    await this.pool.end();
  }
}

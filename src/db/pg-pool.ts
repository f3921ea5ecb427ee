// The pg pools behind every database call of the service (Prisma's driver adapter and the job system's SqlPool):
// bounded waits, and no client lost or fatal when the server drops a connection.
//
// What it fixes (reproduced by cutting backends with pg_terminate_backend while queries run): pg-pool removes a
// client that dies while idle, but one that dies while checked out is only returned when its holder calls
// release(), and some holders never do. Prisma's transaction manager runs COMMIT/ROLLBACK through the adapter
// and only then calls the adapter's commit()/rollback(), which releases the connection; when the connection is
// already gone, the COMMIT/ROLLBACK throws and the release never happens. Each cut that hit a Prisma
// transaction leaked one connection; once `max` were leaked, every later Prisma call waited forever in
// pg-pool's queue (no connectionTimeoutMillis), while the job's lease heartbeat, on its own thread and pool,
// kept the job 'running'. Separately, a checked-out client has no 'error' listener (pg-pool removes its own on
// checkout), so a connection that died between two queries of a transaction emitted an unhandled 'error'
// and took the process down.
import pg from 'pg';

export interface DbTimeouts {
  /** A new connection, or a free one from a full pool, within this long; else the call fails. */
  connectTimeoutMs: number;
  /** A query's answer within this long; else it fails and its connection is destroyed (its state is unknown). */
  queryTimeoutMs: number;
}

/**
 * Generous bounds: they turn a hang into an error, they are not latency targets. A full pool on a loaded machine
 * waits up to 30 s (Prisma's own engine gave up after 10 s); no statement of this service runs near 120 s.
 */
export const DEFAULT_DB_TIMEOUTS: DbTimeouts = { connectTimeoutMs: 30_000, queryTimeoutMs: 120_000 };

/** The error a holder's release() gets when its connection ended while checked out. */
export const CONNECTION_LOST = 'database connection lost while in use';

const GUARDED = Symbol('modelpress.guardedQuery');

/** A client whose query timed out client-side is destroyed: the answer may still come, the protocol state is unknown. */
function destroyOnReadTimeout(client: pg.PoolClient) {
  const c = client as pg.PoolClient & { [GUARDED]?: true; connection?: { stream?: { destroy(): void } } };
  if (c[GUARDED]) return;
  c[GUARDED] = true;
  const onError = (err: unknown) => {
    if (err instanceof Error && err.message === 'Query read timeout') c.connection?.stream?.destroy();
  };
  const query = c.query.bind(c) as (...args: unknown[]) => unknown;
  (c as { query: unknown }).query = (...args: unknown[]) => {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const cb = args[last] as (err: unknown, res: unknown) => void;
      args[last] = (err: unknown, res: unknown) => {
        onError(err);
        cb(err, res);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result instanceof Promise) result.then(undefined, onError); // a side branch: the caller still gets the rejection
    return result;
  };
}

/**
 * While checked out, a client always has an 'error' listener (its holder's current query gets the error anyway),
 * and its death ('end') releases it to the pool, which drops it; release() is idempotent, so the holder's own
 * later release (or none) is harmless.
 */
function guardCheckout(client: pg.PoolClient): pg.PoolClient {
  destroyOnReadTimeout(client);
  const release = client.release.bind(client);
  let released = false;
  const onError = () => {};
  const onEnd = () => done(new Error(CONNECTION_LOST));
  const done = (err?: Error | boolean) => {
    if (released) return;
    released = true;
    client.removeListener('error', onError);
    client.removeListener('end', onEnd);
    release(err);
  };
  client.on('error', onError);
  client.once('end', onEnd);
  client.release = done;
  return client;
}

/** pg.Pool with bounded connect/checkout and query times, TCP keepalive, and guarded checkouts (see above). */
export class GuardedPool extends pg.Pool {
  constructor(config: pg.PoolConfig, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS) {
    super({ keepAlive: true, connectionTimeoutMillis: timeouts.connectTimeoutMs, query_timeout: timeouts.queryTimeoutMs, ...config });
    this.on('error', () => {}); // an idle client dropped by the server: the pool replaces it
  }

  connect(): Promise<pg.PoolClient>;
  connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  connect(
    callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<pg.PoolClient> | void {
    // pool.query() checks out through the callback form.
    if (callback) {
      super.connect((err, client, done) => {
        if (err || !client) return callback(err, client, done);
        guardCheckout(client);
        callback(undefined, client, (e?: unknown) => client.release(e as Error | undefined));
      });
      return;
    }
    // Guarded in pg-pool's own callback, not a promise reaction later: one socket read can carry the last answer
    // to the previous holder and the server's FATAL, both handled before any promise reaction runs.
    return new Promise<pg.PoolClient>((resolve, reject) =>
      super.connect((err, client) => (err || !client ? reject(err ?? new Error('no client')) : resolve(guardCheckout(client)))),
    );
  }
}

/** SQLSTATEs of a lost or refused connection: class 08, admin/crash shutdown, cannot connect now, too many connections. */
const CONNECTION_SQLSTATES = /^(08...|57P0[1-4]|53300)$/;
const CONNECTION_MESSAGES = [
  CONNECTION_LOST,
  'Connection terminated',
  'not queryable',
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'terminating connection due to administrator command',
  'server closed the connection unexpectedly',
  "Can't reach database server",
];
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Prisma's codes for the same: can't reach, timed out, server closed the connection, too many connections. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2037']);

/**
 * Whether `err` (pg's, Prisma's, or one wrapping them as `cause`) says the database connection was lost, refused
 * or timed out, rather than that the statement itself was wrong: the work may succeed on a retry.
 */
export function isDatabaseConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const o = e as { code?: unknown; originalCode?: unknown; kind?: unknown; message?: unknown; cause?: unknown };
    for (const code of [o.code, o.originalCode]) {
      if (typeof code === 'string' && (CONNECTION_SQLSTATES.test(code) || SOCKET_CODES.has(code) || PRISMA_CODES.has(code))) return true;
    }
    if (typeof o.kind === 'string' && ['ConnectionClosed', 'DatabaseNotReachable', 'SocketTimeout', 'TooManyConnections'].includes(o.kind))
      return true;
    if (typeof o.message === 'string' && CONNECTION_MESSAGES.some((m) => (o.message as string).includes(m))) return true;
    e = o.cause;
  }
  return false;
}

// One connection per process that hears about every job event, whichever process wrote it.
// PostgreSQL: LISTEN on EVENTS_CHANNEL. PGlite served over a socket multiplexes all clients onto one backend, so
// a NOTIFY never reaches another connection there; instead the JobEvent table is tailed every `tailIntervalMs`
// (safe on PGlite: it runs one transaction at a time, so event ids commit in order).
import pg from 'pg';
import { EVENTS_CHANNEL, LAST_EVENT_ID, SERVER_VERSION, TAIL_EVENTS } from './sql.ts';

export interface JobNotification {
  jobId: string;
  eventId: string;
  type: string;
  /** For state events: the new status. */
  status: string | null;
  cancelRequested: boolean | null;
}

export interface NotificationSource {
  readonly mode: 'listen' | 'tail';
  /** `resync` fires after a reconnect, when notifications may have been missed. */
  start(onNotification: (n: JobNotification) => void, onResync: () => void): Promise<void>;
  close(): Promise<void>;
}

interface RawNotification {
  j: string;
  e: string;
  t: string;
  s: string | null;
  c: boolean | null;
}
const toNotification = (r: RawNotification): JobNotification => ({
  jobId: r.j,
  eventId: r.e,
  type: r.t,
  status: r.s ?? null,
  cancelRequested: r.c ?? null,
});

const RECONNECT_MS = 1000;

export async function createNotificationSource(databaseUrl: string, opts: { tailIntervalMs?: number } = {}): Promise<NotificationSource> {
  const probe = new pg.Client({ connectionString: databaseUrl });
  await probe.connect();
  try {
    const { rows } = await probe.query<{ version: string }>(SERVER_VERSION);
    return /PGlite|emscripten/i.test(rows[0].version) ? new TailSource(databaseUrl, opts.tailIntervalMs ?? 50) : new ListenSource(databaseUrl);
  } finally {
    await probe.end();
  }
}

class ListenSource implements NotificationSource {
  readonly mode = 'listen';
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly databaseUrl: string) {}

  async start(onNotification: (n: JobNotification) => void, onResync: () => void) {
    const connect = async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl });
      client.on('notification', (msg) => {
        if (msg.channel !== EVENTS_CHANNEL || !msg.payload) return;
        try {
          onNotification(toNotification(JSON.parse(msg.payload) as RawNotification));
        } catch {
          // a foreign payload on our channel: ignore
        }
      });
      client.on('error', () => reconnect());
      client.on('end', () => reconnect());
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.client = client;
    };
    const reconnect = () => {
      if (this.closed || this.retry) return;
      this.client?.removeAllListeners('end');
      this.client?.end().catch(() => {});
      this.client = null;
      this.retry = setTimeout(() => {
        this.retry = null;
        connect().then(onResync, reconnect);
      }, RECONNECT_MS);
    };
    await connect();
  }

  async close() {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    c?.removeAllListeners('end');
    await c?.end().catch(() => {});
  }
}

class TailSource implements NotificationSource {
  readonly mode = 'tail';
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastId = '0';
  private polling = false;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly intervalMs: number,
  ) {}

  async start(onNotification: (n: JobNotification) => void, onResync: () => void) {
    const connect = async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl });
      client.on('error', () => {
        if (this.client === client) this.client = null;
      });
      await client.connect();
      this.client = client;
      return client;
    };
    const first = await connect();
    this.lastId = (await first.query<{ id: string }>(LAST_EVENT_ID)).rows[0].id;
    const poll = async () => {
      if (this.polling || this.closed) return;
      this.polling = true;
      try {
        let client = this.client;
        if (!client) {
          client = await connect();
          onResync();
        }
        for (;;) {
          const { rows } = await client.query<RawNotification>(TAIL_EVENTS, [this.lastId]);
          for (const r of rows) {
            this.lastId = r.e;
            onNotification(toNotification(r));
          }
          if (rows.length < 1000) break;
        }
      } catch {
        this.client?.end().catch(() => {});
        this.client = null; // reconnect on the next tick
      } finally {
        this.polling = false;
      }
    };
    this.timer = setInterval(() => void poll(), this.intervalMs);
  }

  async close() {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}

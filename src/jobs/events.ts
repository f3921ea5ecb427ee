// JobEvents: the job event feed. Every state change, progress update, metric batch and log line is persisted
// as a JobEvent row and published (NOTIFY, or the table tail on PGlite) in the same statement, so any process —
// an API server streaming SSE, a GraphQL subscription, a worker waiting for work or a cancel — hears events
// written by any other. One notification connection per process, fanned out in memory.
import type { Db } from '../db/prisma.ts';
import type { JobNotification, NotificationSource } from '../queue/notifications.ts';
import type { SqlClient } from '../queue/pool.ts';
import { APPEND_EVENT } from '../queue/sql.ts';
import { TERMINAL_STATUSES, type JobEventDto, type JobStatus } from '../schemas/job.ts';

export type JobEventType = JobEventDto['type'];
export type { JobNotification };

/** Streams re-read the table this often even without notifications (a missed one costs at most this delay). */
const STREAM_FALLBACK_POLL_MS = 2000;
const STREAM_PAGE = 500;

export interface AppendEvent {
  type: JobEventType;
  data: Record<string, unknown>;
  /** log events only */
  level?: string;
  message?: string;
}

const isTerminal = (e: JobEventDto) => e.type === 'state' && TERMINAL_STATUSES.includes(e.data.status as JobStatus);

export class JobEvents {
  private readonly all = new Set<(n: JobNotification) => void>();
  private readonly byJob = new Map<string, Set<(n: JobNotification | null) => void>>();
  /** Bumped by every notification (and resync) before listeners run: a read started at or after it has seen it. */
  private generation = 0;
  /** Stream reads in flight, by job and position: streams of one job woken by one event share one SQL query. */
  private readonly reads = new Map<string, { generation: number; rows: Promise<JobEventDto[]> }>();

  constructor(
    private readonly db: Db,
    private readonly sql: SqlClient,
    private readonly source: NotificationSource,
  ) {}

  /** Starts hearing notifications. */
  async start() {
    await this.source.start(
      (n) => this.dispatch(n),
      () => this.resync(),
    );
  }

  async close() {
    await this.source.close();
  }

  /** 'listen' (PostgreSQL NOTIFY) or 'tail' (PGlite). */
  get mode() {
    return this.source.mode;
  }

  /** Persists one event and publishes it (inside transaction `tx` when given); resolves to the stored event. */
  async append(jobId: string, e: AppendEvent, tx: SqlClient = this.sql): Promise<JobEventDto> {
    const data = e.type === 'log' ? (Object.keys(e.data).length ? e.data : null) : e.data;
    const { rows } = await tx.executeSql(APPEND_EVENT, [
      jobId,
      e.type,
      e.level ?? null,
      e.message ?? null,
      data === null ? null : JSON.stringify(data),
    ]);
    const row = rows[0] as { id: string; createdAt: Date };
    return {
      id: row.id,
      jobId,
      type: e.type,
      time: row.createdAt.toISOString(),
      data: e.type === 'log' ? { level: e.level, message: e.message, data } : e.data,
    };
  }

  /** Events of one job after `afterId` (exclusive), oldest first. */
  async list(jobId: string, opts: { afterId?: string; limit?: number; types?: JobEventType[] } = {}): Promise<JobEventDto[]> {
    const rows = await this.db.jobEvent.findMany({
      where: { jobId, id: { gt: BigInt(opts.afterId ?? '0') }, ...(opts.types ? { type: { in: opts.types } } : {}) },
      orderBy: { id: 'asc' },
      take: opts.limit ?? STREAM_PAGE,
    });
    return rows.map((r) => ({
      id: r.id.toString(),
      jobId: r.jobId,
      type: r.type as JobEventType,
      time: r.createdAt.toISOString(),
      data:
        r.type === 'log' ? { level: r.level ?? 'info', message: r.message ?? '', data: r.data ?? null } : ((r.data as Record<string, unknown>) ?? {}),
    }));
  }

  /** Every notification of every job (workers: wake-ups and cancel requests). Returns the unsubscribe function. */
  subscribe(listener: (n: JobNotification) => void): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  /** Notifications of one job; `null` means "notifications may have been missed: re-read". */
  subscribeJob(jobId: string, listener: (n: JobNotification | null) => void): () => void {
    let set = this.byJob.get(jobId);
    if (!set) this.byJob.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byJob.delete(jobId);
    };
  }

  /**
   * The events of one job after `afterId`: first the stored ones, then live ones as they are written. Ends after
   * the job's terminal state event (unless later events show it was retried), or when `signal` aborts.
   */
  async *stream(jobId: string, opts: { afterId?: string; signal?: AbortSignal } = {}): AsyncGenerator<JobEventDto> {
    let last = opts.afterId ?? '0';
    let wake: (() => void) | null = null;
    // Set by every event; cleared at the top of each pass of the loop below.
    let pending: boolean;
    const poke = () => {
      pending = true;
      wake?.();
    };
    const unsubscribe = this.subscribeJob(jobId, poke);
    opts.signal?.addEventListener('abort', poke);
    try {
      while (!opts.signal?.aborted) {
        pending = false;
        const batch = await this.sharedPage(jobId, last);
        for (let i = 0; i < batch.length; i++) {
          const e = batch[i];
          yield e;
          last = e.id;
          if (isTerminal(e) && i === batch.length - 1 && (await this.list(jobId, { afterId: last, limit: 1 })).length === 0) return;
        }
        if (batch.length === STREAM_PAGE || pending) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, STREAM_FALLBACK_POLL_MS);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      unsubscribe();
      opts.signal?.removeEventListener('abort', poke);
    }
  }

  /**
   * The next page after `afterId` for a stream: joins a read of the same page already in flight when that read started
   * after every notification this stream has been woken by (so it sees those events), else starts one. 100
   * subscribers of one job cost one query per event instead of 100; the rows are shared, never mutated.
   */
  private sharedPage(jobId: string, afterId: string): Promise<JobEventDto[]> {
    const key = `${jobId}:${afterId}`;
    const inFlight = this.reads.get(key);
    if (inFlight && inFlight.generation === this.generation) return inFlight.rows;
    const rows = this.list(jobId, { afterId, limit: STREAM_PAGE }).finally(() => {
      if (this.reads.get(key)?.rows === rows) this.reads.delete(key);
    });
    this.reads.set(key, { generation: this.generation, rows });
    return rows;
  }

  private dispatch(n: JobNotification) {
    this.generation++;
    for (const l of this.all) l(n);
    const set = this.byJob.get(n.jobId);
    if (set) for (const l of set) l(n);
  }

  private resync() {
    this.generation++;
    for (const set of this.byJob.values()) for (const l of set) l(null);
  }
}

// Lease heartbeats of a worker's runs. A run's lease (MODELPRESS_JOB_EXPIRE_SECONDS) is renewed every
// MODELPRESS_JOB_HEARTBEAT_SECONDS from a dedicated thread (heartbeat-thread.ts) with its own database
// connection: a job's long synchronous work on the main thread (tfjs kernels, conversions, a heavily loaded machine)
// cannot starve it, as it starved the main thread's timer before (a distill job lost its 60 s lease three times
// under load 30 and failed). Answers reach the run as callbacks on the main thread. If the thread cannot start or
// dies, the runs fall back to a timer on the main thread (the old behaviour) with a warning.
import type { Worker as Thread } from 'node:worker_threads';
import { startTsThread } from '../ts-thread.ts';
import { DEFAULT_DB_TIMEOUTS, type DbTimeouts } from '../db/pg-pool.ts';
import type { JobQueue, RunOwner } from '../queue/job-queue.ts';

/** One renewal's answer: `owned: false` means the job was taken from this run (its lease had expired). */
export interface BeatResult {
  owned: boolean;
  cancelRequested: boolean;
}

/** What the keeper logs through (the worker's log). */
interface KeeperLog {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface LeaseHandlers {
  onBeat(r: BeatResult): void;
  onError(err: Error): void;
}

/** Keeps the leases of a worker's runs; watch() returns the function that stops renewing one. */
export interface LeaseKeeper {
  /** Resolves once leases can be renewed (the thread is up, or the main-thread fallback took over). */
  readonly ready: Promise<void>;
  watch(owner: RunOwner, handlers: LeaseHandlers): () => void;
  close(): Promise<void>;
}

/**
 * The main thread is presumed hung (not busy) after this long without turning its event loop: the thread stops
 * renewing, so another worker can take the job over. A long synchronous op under load lasts minutes, not this.
 */
export const MAIN_STALL_MS = 15 * 60_000;

export interface HeartbeatThreadData {
  databaseUrl: string;
  /** Bounds of the thread's database calls (src/db/pg-pool.ts). */
  db: DbTimeouts;
  intervalMs: number;
  expireSeconds: number;
  stallMs: number;
  /** Float64Array[1]: Date.now() of the main thread's last event-loop turn (stamped every interval). */
  alive: SharedArrayBuffer;
}

export type ToHeartbeatThread = { type: 'add'; owner: RunOwner } | { type: 'remove'; jobId: string } | { type: 'close' };
export type FromHeartbeatThread =
  | { type: 'started' }
  | ({ type: 'beat'; jobId: string } & BeatResult)
  | { type: 'failed'; jobId: string; message: string }
  | { type: 'stalled'; silentMs: number; jobIds: string[] };

interface Watched {
  owner: RunOwner;
  handlers: LeaseHandlers;
  /** Fallback timer while the thread is unavailable. */
  timer: NodeJS.Timeout | null;
}

/** Renews leases from a dedicated thread; falls back to main-thread timers if the thread fails. */
export class ThreadLeaseKeeper implements LeaseKeeper {
  private thread: Thread | null;
  private readonly runs = new Map<string, Watched>();
  private readonly alive = new Float64Array(new SharedArrayBuffer(8));
  private readonly stamp: NodeJS.Timeout;
  private closed = false;
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly opts: {
      databaseUrl: string;
      db?: DbTimeouts;
      queue: JobQueue;
      intervalMs: number;
      expireSeconds: number;
      log: KeeperLog;
      stallMs?: number;
    },
  ) {
    this.ready = new Promise<void>((resolve) => (this.markReady = resolve));
    this.alive[0] = Date.now();
    // Every turn of this thread's event loop that reaches the timers proves it is alive (busy is fine, hung is not).
    this.stamp = setInterval(() => (this.alive[0] = Date.now()), Math.min(1000, opts.intervalMs));
    this.stamp.unref();
    const workerData = {
      databaseUrl: opts.databaseUrl,
      // A renewal stuck on a dead connection must give up well within the lease, so the next one can reconnect.
      db: {
        connectTimeoutMs: Math.min(
          opts.db?.connectTimeoutMs ?? DEFAULT_DB_TIMEOUTS.connectTimeoutMs,
          Math.max(5000, (opts.expireSeconds * 1000) / 2),
        ),
        queryTimeoutMs: Math.min(opts.db?.queryTimeoutMs ?? DEFAULT_DB_TIMEOUTS.queryTimeoutMs, Math.max(5000, (opts.expireSeconds * 1000) / 2)),
      },
      intervalMs: opts.intervalMs,
      expireSeconds: opts.expireSeconds,
      stallMs: opts.stallMs ?? MAIN_STALL_MS,
      alive: this.alive.buffer,
    } satisfies HeartbeatThreadData;
    const thread = startTsThread(import.meta.url, 'heartbeat-thread', workerData);
    this.thread = thread;
    thread.unref(); // never keeps the process alive; dies with it
    thread.on('message', (m: FromHeartbeatThread) => this.onMessage(m));
    thread.on('error', (err) => this.lost(thread, err));
    thread.on('exit', (code) => this.lost(thread, new Error(`heartbeat thread exited with code ${code}`)));
  }

  watch(owner: RunOwner, handlers: LeaseHandlers): () => void {
    const w: Watched = { owner, handlers, timer: null };
    this.runs.set(owner.jobId, w);
    if (this.thread) this.send({ type: 'add', owner });
    else this.fallback(w);
    return () => {
      if (this.runs.get(owner.jobId) !== w) return;
      this.runs.delete(owner.jobId);
      if (w.timer) clearInterval(w.timer);
      if (this.thread) this.send({ type: 'remove', jobId: owner.jobId });
    };
  }

  private send(m: ToHeartbeatThread) {
    this.thread?.postMessage(m);
  }

  private onMessage(m: FromHeartbeatThread) {
    if (m.type === 'started') return this.markReady();
    if (m.type === 'stalled') {
      this.opts.log.error({ jobIds: m.jobIds, silentMs: m.silentMs }, 'the worker main thread looks hung: leases are no longer renewed');
      return;
    }
    const w = this.runs.get(m.jobId);
    if (!w) return;
    if (m.type === 'beat') w.handlers.onBeat({ owned: m.owned, cancelRequested: m.cancelRequested });
    else w.handlers.onError(new Error(m.message));
  }

  /** The thread died (or never started): every run falls back to a main-thread timer. */
  private lost(thread: Thread, err: Error) {
    if (this.thread !== thread || this.closed) return;
    this.thread = null;
    this.markReady();
    this.opts.log.warn({ err }, 'lease heartbeat thread unavailable; renewing leases from the main thread');
    for (const w of this.runs.values()) this.fallback(w);
  }

  private fallback(w: Watched) {
    if (w.timer) return;
    w.timer = setInterval(() => {
      this.opts.queue.heartbeat(w.owner).then(
        (r) => this.runs.get(w.owner.jobId) === w && w.handlers.onBeat(r),
        (err: unknown) => w.handlers.onError(err instanceof Error ? err : new Error(String(err))),
      );
    }, this.opts.intervalMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.stamp);
    for (const w of this.runs.values()) if (w.timer) clearInterval(w.timer);
    this.runs.clear();
    const thread = this.thread;
    this.thread = null;
    if (!thread) return;
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    thread.postMessage({ type: 'close' } satisfies ToHeartbeatThread);
    // The thread closes its connection and its port; terminate() bounds it if the database hangs.
    const bound = setTimeout(() => void thread.terminate(), 5000);
    bound.unref();
    await exited;
    clearTimeout(bound);
  }
}

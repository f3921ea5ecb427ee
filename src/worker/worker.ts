// The worker loop: claims up to `concurrency` jobs from pg-boss at once, runs them, and sleeps until a
// "job queued" notification, a freed slot, or the poll interval (which also catches jobs pg-boss retried after
// their worker died). It also sweeps jobs whose worker stopped beating back to 'queued' and fails jobs that
// lost their worker too often (pg-boss dead letters).
import os from 'node:os';
import type { JobNotification } from '../jobs/events.ts';
import { FAIL_LOST, REQUEUE_STALE } from '../queue/sql.ts';
import type { QueuedJob } from '../queue/boss.ts';
import type { Runtime } from '../runtime.ts';
import { JobRun, type WorkerLog } from './job-run.ts';

export interface WorkerOptions {
  concurrency?: number;
  log?: WorkerLog;
}

let workersInProcess = 0;

/** The tfjs backend of this process, initialised once; 'cpu' names it when the ML engine cannot load. */
async function initComputeBackend(pref: Runtime['config']['backend'], log: WorkerLog): Promise<string> {
  try {
    const { initBackend } = await import('../ml/backend.ts');
    return await initBackend(pref);
  } catch (err) {
    log.warn({ err }, 'tfjs backend could not be initialised; recording "cpu"');
    return 'cpu';
  }
}

const consoleLog: WorkerLog = {
  info: (obj, msg) => console.log(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj, msg) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj, err: String((obj as { err?: unknown }).err ?? '') || undefined })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj, err: String((obj as { err?: unknown }).err ?? '') || undefined })),
};

export class Worker {
  readonly id = `${os.hostname()}:${process.pid}:${++workersInProcess}`;
  readonly concurrency: number;
  private readonly log: WorkerLog;
  private readonly runs = new Map<string, JobRun>();
  /** Every claimed queue job until its run ends (including the claim itself). */
  private readonly tasks = new Set<Promise<void>>();
  private backend = 'cpu';
  private stopping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private woken = false;
  /** A fetch filled every free slot, or a job was queued since: another fetch may find work. */
  private maybeMore = true;
  private unsubscribe: (() => void) | null = null;
  private housekeeping: NodeJS.Timeout | null = null;

  constructor(
    private readonly rt: Runtime,
    opts: WorkerOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? rt.config.worker.concurrency);
    this.log = opts.log ?? consoleLog;
  }

  /** Number of jobs claimed or running now. */
  get active() {
    return this.tasks.size;
  }

  async start(): Promise<void> {
    this.backend = await initComputeBackend(this.rt.config.backend, this.log);
    this.unsubscribe = this.rt.jobEvents.subscribe((n) => this.onNotification(n));
    const { expireSeconds } = this.rt.config.worker;
    this.housekeeping = setInterval(() => void this.houseKeep(), Math.max(1000, (expireSeconds * 1000) / 2));
    this.loopDone = this.loop();
    this.log.info({ workerId: this.id, concurrency: this.concurrency, backend: this.backend }, 'worker started');
  }

  /**
   * Stops claiming, gives running jobs `graceMs` to finish, then interrupts the rest at their next safe point:
   * they go back to the queue for another worker.
   */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.poke();
    await this.loopDone;
    const all = () => Promise.all([...this.tasks]);
    const graceMs = opts.graceMs ?? 0;
    if (this.tasks.size > 0 && graceMs > 0) {
      await Promise.race([all(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    for (const run of this.runs.values()) run.abort('shutdown');
    await all();
    this.log.info({ workerId: this.id }, 'worker stopped');
  }

  private onNotification(n: JobNotification) {
    if (n.type === 'state' && n.status === 'queued') {
      this.maybeMore = true;
      this.poke();
    }
    if (n.cancelRequested) this.runs.get(n.jobId)?.abort('cancel');
  }

  private poke() {
    this.woken = true;
    this.wake?.();
  }

  private async loop() {
    const pollMs = this.rt.config.worker.pollIntervalSeconds * 1000;
    while (!this.stopping) {
      this.woken = false;
      const free = this.concurrency - this.tasks.size;
      if (free > 0) {
        try {
          const claimed = await this.rt.queue.fetch(free);
          this.maybeMore = claimed.length === free;
          for (const q of claimed) this.begin(q);
        } catch (err) {
          if (!this.stopping) this.log.error({ err }, 'fetching jobs failed');
        }
      }
      if (this.woken || this.stopping) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private begin(q: QueuedJob) {
    const task = (async () => {
      const run = await JobRun.claim(this.rt, q, this.id, this.backend, this.log);
      if (!run) return;
      this.runs.set(q.jobId, run);
      if (this.stopping) run.abort('shutdown');
      await run.execute();
    })()
      .catch((err) => this.log.error({ err, jobId: q.jobId }, 'job run failed'))
      .finally(() => {
        this.runs.delete(q.jobId);
        this.tasks.delete(task);
        if (this.maybeMore) this.poke();
      });
    this.tasks.add(task);
  }

  /** Requeues jobs of workers that stopped beating; fails jobs pg-boss dead-lettered. */
  private async houseKeep() {
    const { rt } = this;
    try {
      const { rows } = await rt.sql.executeSql(REQUEUE_STALE, [rt.config.worker.expireSeconds]);
      for (const r of rows) {
        await rt.jobEvents.append(r.id, { type: 'state', data: { status: 'queued', attempts: r.attempts, reason: 'worker lost' } });
        this.log.warn({ jobId: r.id }, 'worker of a running job stopped beating: job requeued');
      }
      for (const dead of await rt.queue.fetchDead(10)) {
        const message = 'the job lost its worker on every attempt (worker crashed or was killed)';
        await rt.sql.transaction(async (tx) => {
          const { rows: failed } = await tx.executeSql(FAIL_LOST, [dead.jobId, dead.queueJobId, message]);
          if (failed.length) {
            await rt.jobEvents.append(
              dead.jobId,
              { type: 'state', data: { status: 'failed', attempts: failed[0].attempts, error: { code: 'JOB_TIMEOUT', message } } },
              tx,
            );
          }
        });
        await rt.queue.complete(dead.queueJobId, true);
      }
    } catch (err) {
      if (!this.stopping) this.log.warn({ err }, 'job housekeeping failed');
    }
  }
}

// The worker loop: claims up to `concurrency` jobs from the Job table at once (JobQueue.claim), runs them, and
// sleeps until a "job queued" notification, a freed slot, or the poll interval (which also catches jobs whose
// retry backoff ended). Every worker also sweeps jobs whose lease ran out (their worker died) back to 'queued',
// or to 'failed' after too many lost runs; the requeue's event wakes the workers.
import os from 'node:os';
import type { JobNotification } from '../jobs/events.ts';
import type { ClaimedJob } from '../queue/job-queue.ts';
import type { Runtime } from '../runtime.ts';
import { ThreadLeaseKeeper, type LeaseKeeper } from './heartbeat.ts';
import { JobRun, type WorkerLog } from './job-run.ts';

export interface WorkerOptions {
  concurrency?: number;
  log?: WorkerLog;
  /**
   * Called once when this process should be replaced: a job ran out of memory (its backend heap is unusable or
   * leaked), or the RSS after a job is above maxRssBytes. The worker has stopped claiming; the owner stops it and
   * exits (the supervisor or the process manager starts a fresh one). Without it the worker only logs.
   */
  onRecycle?: (reason: string) => void;
  /** RSS above which the process recycles after a job (default config.worker.maxRssBytes; 0 disables). */
  maxRssBytes?: number;
}

let workersInProcess = 0;

/** The tfjs backend of this process, initialised once; 'cpu' names it when the ML engine cannot load. */
async function initComputeBackend(pref: Runtime['config']['backend'], latencyRuns: number, log: WorkerLog): Promise<string> {
  try {
    const [{ initBackend }, { setLatencyRuns }] = await Promise.all([import('../ml/backend.ts'), import('../ml/evaluate.ts')]);
    setLatencyRuns(latencyRuns);
    return await initBackend(pref);
  } catch (err) {
    log.warn({ err }, 'tfjs backend could not be initialised; recording "cpu"');
    return 'cpu';
  }
}

/** The `err` of a log object as text ("Error: message"), or undefined when there is none. */
function errText(obj: object): string | undefined {
  const err = (obj as { err?: unknown }).err;
  if (err === undefined || err === null || err === '') return undefined;
  if (err instanceof Error) return String(err);
  return typeof err === 'string' ? err : JSON.stringify(err);
}

const consoleLog: WorkerLog = {
  info: (obj, msg) => console.log(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj, msg) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj, err: errText(obj) })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj, err: errText(obj) })),
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
  private recycling = false;
  private leases: LeaseKeeper | null = null;

  constructor(
    private readonly rt: Runtime,
    opts: WorkerOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? rt.config.worker.concurrency);
    this.log = opts.log ?? consoleLog;
    this.onRecycle = opts.onRecycle;
    this.maxRssBytes = opts.maxRssBytes ?? rt.config.worker.maxRssBytes;
  }

  private readonly onRecycle: WorkerOptions['onRecycle'];
  private readonly maxRssBytes: number;

  /** After each run: a run that exhausted memory, or a process grown past maxRssBytes, recycles the process. */
  private checkHealth(run: JobRun) {
    if (this.recycling || this.stopping) return;
    const rss = process.memoryUsage().rss;
    const reason = run.exhausted
      ? `job ${run.jobId} ran out of memory`
      : this.maxRssBytes > 0 && rss > this.maxRssBytes
        ? `RSS ${Math.round(rss / 1024 ** 2)} MiB is above the worker limit of ${Math.round(this.maxRssBytes / 1024 ** 2)} MiB`
        : null;
    if (!reason) return;
    if (!this.onRecycle) {
      this.log.error({ workerId: this.id, rss }, `${reason}; this in-process worker cannot recycle its process`);
      return;
    }
    this.recycling = true;
    this.log.error({ workerId: this.id, rss }, `${reason}: recycling the worker process`);
    this.onRecycle(reason);
  }

  /** Number of jobs claimed or running now. */
  get active() {
    return this.tasks.size;
  }

  async start(): Promise<void> {
    this.backend = await initComputeBackend(this.rt.config.backend, this.rt.config.latencyRuns, this.log);
    const { heartbeatSeconds, expireSeconds, pollIntervalSeconds } = this.rt.config.worker;
    this.leases = new ThreadLeaseKeeper({
      databaseUrl: this.rt.databaseUrl,
      db: this.rt.config.db,
      queue: this.rt.queue,
      intervalMs: heartbeatSeconds * 1000,
      expireSeconds,
      log: this.log,
    });
    await this.leases.ready; // a claimed run's lease is renewed from its first interval on
    this.unsubscribe = this.rt.jobEvents.subscribe((n) => this.onNotification(n));
    // A dead worker's job is requeued at most this long after its lease ran out.
    this.housekeeping = setInterval(() => void this.sweep(), Math.max(500, Math.min(pollIntervalSeconds, expireSeconds / 2) * 1000));
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
    await this.leases?.close();
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
      const free = this.recycling ? 0 : this.concurrency - this.tasks.size;
      if (free > 0) {
        try {
          const claimed = await this.rt.queue.claim(this.id, this.backend, free);
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

  private begin(job: ClaimedJob) {
    const run = new JobRun(this.rt, job, this.id, this.backend, this.log, this.leases!);
    this.runs.set(job.id, run);
    if (this.stopping) run.abort('shutdown');
    const task = run
      .execute()
      .catch((err: unknown) => this.log.error({ err, jobId: job.id }, 'job run failed'))
      .finally(() => {
        this.runs.delete(job.id);
        this.tasks.delete(task);
        this.checkHealth(run);
        if (this.maybeMore && !this.recycling) this.poke();
      });
    this.tasks.add(task);
  }

  /** Requeues (or fails) jobs whose worker stopped renewing its lease. */
  private async sweep() {
    try {
      for (const j of await this.rt.queue.sweep()) {
        if (j.status === 'queued') this.log.warn({ jobId: j.id }, 'worker of a running job stopped beating: job requeued');
        else this.log.warn({ jobId: j.id }, 'job lost its worker too many times in a row: job failed');
      }
    } catch (err) {
      if (!this.stopping) this.log.warn({ err }, 'sweeping expired job leases failed');
    }
  }
}

// One run (attempt) of one claimed job inside a worker: heartbeat, the kind's context (throttled progress and
// metric writes, logs, cancellation), and the final state. Every state write goes through JobQueue, keyed by the
// run's owner (workerId, attempt), so a worker presumed dead can never overwrite the run that replaced it.
import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseConnectionError } from '../db/pg-pool.ts';
import { ALL_PROJECTS } from '../domain/projects.ts';
import { AppError, isAppError } from '../errors.ts';
import { jobIO } from '../jobs/io.ts';
import type { JobContext, JobProgress, MetricInput } from '../jobs/kind.ts';
import { getKind } from '../jobs/registry.ts';
import type { ClaimedJob, RunOwner } from '../queue/job-queue.ts';
import type { Runtime } from '../runtime.ts';
import type { LeaseKeeper } from './heartbeat.ts';
import { isResourceExhaustion } from './resource-failure.ts';

export interface WorkerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Progress and metric rows are written at most this often per job (the last one always). */
const WRITE_INTERVAL_MS = 250;

/**
 * A run's final write (outcome or requeue) that fails on a lost database connection is retried this many times,
 * 0.25, 0.5, 1, 2, 4 s apart (~8 s, within any lease); after that the lease runs out and the sweep requeues the job.
 */
const FINAL_WRITE_RETRIES = 5;

export type AbortReason = 'cancel' | 'shutdown' | 'lost' | 'timeout';

export class JobRun {
  private readonly controller = new AbortController();
  private reason: AbortReason | null = null;
  /** The run failed because the process ran out of memory (see resource-failure.ts): the worker recycles. */
  exhausted = false;
  private writes: Promise<void> = Promise.resolve();
  private progress: JobProgress | null = null;
  private metricBuffer: MetricInput[] = [];
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly owner: RunOwner;
  private readonly io: ReturnType<typeof jobIO>;

  constructor(
    private readonly rt: Runtime,
    readonly job: ClaimedJob,
    workerId: string,
    private readonly backend: string,
    private readonly log: WorkerLog,
    private readonly leases: LeaseKeeper,
  ) {
    this.owner = { jobId: job.id, workerId, attempt: job.attempts };
    this.io = jobIO({ ...rt.services, store: rt.store }, job.id);
  }

  get jobId() {
    return this.job.id;
  }

  /** Stops the run at its next safe point. */
  abort(reason: AbortReason) {
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort(reason);
  }

  /** Runs the job to its end and records the outcome. Never throws. */
  async execute(): Promise<void> {
    const { rt, job } = this;
    // Renewed off this thread (heartbeat.ts): long synchronous work in the kind cannot starve it.
    const stopBeating = this.leases.watch(this.owner, {
      onBeat: ({ owned, cancelRequested }) => {
        if (!owned) this.abort('lost');
        else if (cancelRequested) this.abort('cancel');
      },
      onError: (err) => this.log.warn({ err, jobId: this.job.id }, 'heartbeat failed'),
    });
    // Per-run time limit (MODELPRESS_JOB_TIMEOUT_SECONDS): stops the kind at its next step, failing with JOB_TIMEOUT.
    const limitS = rt.config.jobLimits.timeoutSeconds;
    const deadline = limitS > 0 ? setTimeout(() => this.abort('timeout'), limitS * 1000) : null;
    if (job.cancelRequested) this.abort('cancel');
    let outcome: { result?: { resultModelIds: string[]; report: Record<string, unknown> | null }; error?: unknown };
    try {
      if (job.attempts > 1) await this.resetEarlierAttempts();
      outcome = { result: await getKind(job.type).run(this.context(), job.params) };
    } catch (error) {
      outcome = { error };
    } finally {
      stopBeating();
      if (deadline) clearTimeout(deadline);
    }
    try {
      await this.finish(outcome);
    } catch (err) {
      // The job stays 'running' and its lease runs out: the sweep requeues it for another attempt.
      this.log.error({ err, jobId: job.id }, 'could not record the job outcome');
    }
  }

  private context(): JobContext {
    const { rt, job } = this;
    return {
      jobId: job.id,
      attempt: job.attempts,
      inputs: job.inputs,
      models: this.io.models,
      datasets: this.io.datasets,
      backend: this.backend,
      signal: this.controller.signal,
      trainThreads: rt.config.worker.trainThreads,
      trainThreadsAuto: rt.config.worker.trainThreadsAuto,
      progress: (p) => {
        this.progress = p;
        this.scheduleFlush();
      },
      metrics: (points) => {
        this.metricBuffer.push(...points);
        this.scheduleFlush();
      },
      log: (message, level = 'info', data = {}) => {
        if (this.progress || this.metricBuffer.length > 0) this.flush(); // keep the feed in call order
        this.enqueue(() => rt.jobEvents.append(job.id, { type: 'log', level, message, data }));
      },
      throwIfCanceled: () => {
        if (this.reason === 'timeout') throw this.timeoutError();
        if (this.reason) {
          throw new AppError('JOB_CANCELED', this.reason === 'cancel' ? 'job canceled' : 'job interrupted (worker stopping)');
        }
      },
    };
  }

  private timeoutError() {
    const limitS = this.rt.config.jobLimits.timeoutSeconds;
    return new AppError('JOB_TIMEOUT', `job exceeded its time limit of ${limitS} s`, { limitSeconds: limitS });
  }

  /** Serializes this run's writes so events keep their order; a failed write is logged, not fatal. */
  private enqueue(write: () => Promise<unknown>) {
    this.writes = this.writes.then(write).then(
      () => {},
      (err: unknown) => this.log.warn({ err, jobId: this.job.id }, 'job event write failed'),
    );
  }

  private scheduleFlush() {
    if (this.flushTimer) return;
    const wait = Math.max(0, this.lastFlush + WRITE_INTERVAL_MS - Date.now());
    if (wait === 0) this.flush();
    else this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  private flush() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.lastFlush = Date.now();
    const { rt, job } = this;
    const points = this.metricBuffer;
    this.metricBuffer = [];
    const p = this.progress;
    this.progress = null;
    if (points.length > 0) {
      this.enqueue(async () => {
        const rows = points.map((m) => ({ name: m.name, step: m.step, epoch: m.epoch ?? null, value: m.value }));
        await rt.queue.metrics(job.id, rows);
        await rt.jobEvents.append(job.id, { type: 'metric', data: { points: rows } });
      });
    }
    if (p) {
      const data = { fraction: Math.min(1, Math.max(0, p.fraction)), epoch: p.epoch ?? null, step: p.step ?? null, etaSeconds: p.etaSeconds ?? null };
      this.enqueue(async () => {
        await rt.queue.progress(this.owner, data);
        await rt.jobEvents.append(job.id, { type: 'progress', data });
      });
    }
  }

  /**
   * A new attempt starts from scratch: the metric series restarts, and models an earlier attempt registered
   * before it died or failed are removed (this attempt makes its own). The event log keeps the history.
   */
  private async resetEarlierAttempts() {
    await this.rt.db.metricPoint.deleteMany({ where: { jobId: this.job.id } });
    const orphans = await this.rt.db.model.findMany({ where: { producedByJobId: this.job.id }, select: { id: true } });
    for (const m of orphans) await this.rt.services.models.delete(ALL_PROJECTS, m.id);
    if (orphans.length > 0) this.log.info({ jobId: this.job.id, models: orphans.map((m) => m.id) }, 'removed models of an earlier attempt');
  }

  private async finish(outcome: { result?: { resultModelIds: string[]; report: Record<string, unknown> | null }; error?: unknown }) {
    const { rt, job } = this;
    this.flush();
    await this.writes;
    if (this.reason === 'lost') {
      await this.discard(outcome.result?.resultModelIds);
      this.log.warn({ jobId: job.id, attempt: job.attempts }, 'job was taken over by another worker; result discarded');
      return;
    }
    if (this.reason === 'shutdown' && !outcome.result) {
      await this.retried(() => rt.queue.requeue(this.owner));
      return;
    }
    // The database connection was lost during the run (cut, failover, restart): the job is not at fault. It goes back
    // to the queue like a dead worker's run (same backoff, same count), and fails only after as many lost runs in a row.
    if (!outcome.result && this.reason === null && isDatabaseConnectionError(outcome.error)) {
      if (await this.retried(() => rt.queue.requeueLost(this.owner, rt.config.worker.lostRetries))) {
        this.log.warn({ err: outcome.error, jobId: job.id, attempt: job.attempts }, 'database connection lost during the run: job requeued');
        return;
      }
    }
    let status: 'succeeded' | 'failed' | 'canceled';
    let error: { code: string; message: string } | null = null;
    if (outcome.result) status = 'succeeded';
    else if (this.reason === 'cancel') {
      status = 'canceled';
      error = { code: 'JOB_CANCELED', message: 'canceled by request' };
    } else {
      status = 'failed';
      const e = this.reason === 'timeout' ? this.timeoutError() : outcome.error;
      if (this.reason !== 'timeout' && isResourceExhaustion(e)) {
        // The process's memory is exhausted or leaked: the job fails clearly and the worker recycles its process.
        this.exhausted = true;
        const detail = e instanceof Error ? e.message : String(e);
        error = {
          code: 'RESOURCE_LIMIT',
          message: `the job ran out of memory on its worker (${detail.slice(0, 200)}); the worker process is restarted`,
        };
        this.log.error({ err: e, jobId: job.id }, 'job ran out of memory');
      } else {
        error = isAppError(e) ? { code: e.code, message: e.message } : { code: 'JOB_FAILED', message: e instanceof Error ? e.message : String(e) };
        if (!isAppError(e)) this.log.error({ err: e, jobId: job.id }, 'job failed');
      }
    }
    const result = outcome.result ?? { resultModelIds: [], report: null };
    // Every kind's report says what its dataset tensors were fed as (the model's preprocessing), unless it did itself.
    const fed = this.io.preprocessing();
    if (result.report && fed && !('preprocessing' in result.report)) result.report = { ...result.report, preprocessing: fed };
    const out = { status, error, resultModelIds: result.resultModelIds, report: result.report };
    // A retry that finds the run no longer running checks whether the try whose answer was lost did commit: then the
    // outcome stands and its models are kept.
    const owned = await this.retried(
      async (retry) => (await rt.queue.finish(this.owner, out)) || (retry && (await rt.queue.recorded(this.owner, status))),
    );
    if (!owned) await this.discard(result.resultModelIds);
  }

  /** Runs a final write, retrying it (with backoff) while it fails on a lost database connection. */
  private async retried<T>(write: (retry: boolean) => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await write(i > 0);
      } catch (err) {
        if (i >= FINAL_WRITE_RETRIES || !isDatabaseConnectionError(err)) throw err;
        this.log.warn({ err, jobId: this.job.id }, 'recording the run failed on a lost database connection; retrying');
        await sleep(250 * 2 ** i);
      }
    }
  }

  private async discard(modelIds: string[] | undefined) {
    for (const id of modelIds ?? []) await this.rt.services.models.delete(ALL_PROJECTS, id).catch(() => {});
  }
}

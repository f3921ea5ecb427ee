// One run (attempt) of one job inside a worker: claim, heartbeat, the kind's context (throttled progress and
// metric writes, logs, cancellation), and the final state. Ownership is (workerId, attempt): every write after
// the claim is conditional on it, so a worker presumed dead can never overwrite the run that replaced it.
import crypto from 'node:crypto';
import { AppError, isAppError } from '../errors.ts';
import type { JobContext, JobInputs, JobProgress, MetricInput } from '../jobs/kind.ts';
import { getKind } from '../jobs/registry.ts';
import { QUEUE, type QueuedJob } from '../queue/boss.ts';
import { CLAIM_JOB, FINISH_JOB, HEARTBEAT, INSERT_METRICS, REQUEUE_OWNED, UPDATE_PROGRESS } from '../queue/sql.ts';
import type { Runtime } from '../runtime.ts';

export interface WorkerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Progress and metric rows are written at most this often per job (the last one always). */
const WRITE_INTERVAL_MS = 250;

export type AbortReason = 'cancel' | 'shutdown' | 'lost' | 'timeout';

interface ClaimedJob {
  id: string;
  type: string;
  params: Record<string, unknown>;
  inputs: JobInputs;
  attempts: number;
  cancelRequested: boolean;
  priority: number;
}

export class JobRun {
  private readonly controller = new AbortController();
  private reason: AbortReason | null = null;
  private writes: Promise<void> = Promise.resolve();
  private progress: JobProgress | null = null;
  private metricBuffer: MetricInput[] = [];
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    private readonly rt: Runtime,
    readonly job: ClaimedJob,
    private readonly queued: QueuedJob,
    private readonly workerId: string,
    private readonly backend: string,
    private readonly log: WorkerLog,
  ) {}

  get jobId() {
    return this.job.id;
  }

  /** Claims the job for this worker; null when the queue job is stale (job canceled, finished or re-enqueued). */
  static async claim(rt: Runtime, queued: QueuedJob, workerId: string, backend: string, log: WorkerLog): Promise<JobRun | null> {
    const row = (await rt.sql.executeSql(CLAIM_JOB, [queued.jobId, queued.queueJobId, workerId, backend])).rows[0];
    if (!row) {
      await rt.queue.complete(queued.queueJobId);
      return null;
    }
    const job: ClaimedJob = {
      id: row.id,
      type: row.type,
      params: row.params ?? {},
      inputs: { modelId: row.modelId, teacherModelId: row.teacherModelId, datasetId: row.datasetId },
      attempts: row.attempts,
      cancelRequested: row.cancelRequested,
      priority: row.priority,
    };
    return new JobRun(rt, job, queued, workerId, backend, log);
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
    const hb = rt.config.worker.heartbeatSeconds * 1000;
    this.heartbeat = setInterval(() => void this.beat(), hb);
    // Per-run time limit (MODELPRESS_JOB_TIMEOUT_SECONDS): stops the kind at its next step, failing with JOB_TIMEOUT.
    const limitS = rt.config.jobLimits.timeoutSeconds;
    const deadline = limitS > 0 ? setTimeout(() => this.abort('timeout'), limitS * 1000) : null;
    if (job.cancelRequested) this.abort('cancel');
    let outcome: { result?: { resultModelIds: string[]; report: Record<string, unknown> | null }; error?: unknown };
    try {
      if (job.attempts > 1) await this.resetEarlierAttempts();
      const kind = getKind(job.type);
      if (!kind.run) throw new AppError('JOB_FAILED', `job kind "${job.type}" is not implemented yet`);
      outcome = { result: await kind.run(this.context(), job.params) };
    } catch (error) {
      outcome = { error };
    } finally {
      clearInterval(this.heartbeat);
      if (deadline) clearTimeout(deadline);
    }
    try {
      await this.finish(outcome);
    } catch (err) {
      // The job stays 'running' with a stale heartbeat: the sweep requeues it and pg-boss retries it.
      this.log.error({ err, jobId: job.id }, 'could not record the job outcome');
    }
  }

  private context(): JobContext {
    const { rt, job } = this;
    return {
      jobId: job.id,
      attempt: job.attempts,
      inputs: job.inputs,
      services: rt.services,
      store: rt.store,
      config: rt.config,
      backend: this.backend,
      signal: this.controller.signal,
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
      (err) => this.log.warn({ err, jobId: this.job.id }, 'job event write failed'),
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
    const { rt, job, workerId } = this;
    const points = this.metricBuffer;
    this.metricBuffer = [];
    const p = this.progress;
    this.progress = null;
    if (points.length > 0) {
      this.enqueue(async () => {
        const rows = points.map((m) => ({ name: m.name, step: m.step, epoch: m.epoch ?? null, value: m.value }));
        await rt.sql.executeSql(INSERT_METRICS, [job.id, JSON.stringify(rows)]);
        await rt.jobEvents.append(job.id, { type: 'metric', data: { points: rows } });
      });
    }
    if (p) {
      const data = { fraction: Math.min(1, Math.max(0, p.fraction)), epoch: p.epoch ?? null, step: p.step ?? null, etaSeconds: p.etaSeconds ?? null };
      this.enqueue(async () => {
        await rt.sql.executeSql(UPDATE_PROGRESS, [job.id, workerId, job.attempts, data.fraction, data.epoch, data.step, data.etaSeconds]);
        await rt.jobEvents.append(job.id, { type: 'progress', data });
      });
    }
  }

  private async beat() {
    const { rt, job } = this;
    try {
      const { rows } = await rt.sql.executeSql(HEARTBEAT, [
        job.id,
        this.workerId,
        job.attempts,
        this.queued.queueJobId,
        rt.config.worker.expireSeconds,
        QUEUE,
      ]);
      if (rows[0].owned === 0) this.abort('lost');
      else if (rows[0].cancelRequested) this.abort('cancel');
    } catch (err) {
      this.log.warn({ err, jobId: job.id }, 'heartbeat failed');
    }
  }

  /**
   * A new attempt starts from scratch: the metric series restarts, and models an earlier attempt registered
   * before it died or failed are removed (this attempt makes its own). The event log keeps the history.
   */
  private async resetEarlierAttempts() {
    await this.rt.db.metricPoint.deleteMany({ where: { jobId: this.job.id } });
    const orphans = await this.rt.db.model.findMany({ where: { producedByJobId: this.job.id }, select: { id: true } });
    for (const m of orphans) await this.rt.services.models.delete(m.id);
    if (orphans.length > 0) this.log.info({ jobId: this.job.id, models: orphans.map((m) => m.id) }, 'removed models of an earlier attempt');
  }

  private async finish(outcome: { result?: { resultModelIds: string[]; report: Record<string, unknown> | null }; error?: unknown }) {
    const { rt, job, workerId } = this;
    this.flush();
    await this.writes;
    if (this.reason === 'lost') {
      await this.discard(outcome.result?.resultModelIds);
      this.log.warn({ jobId: job.id, attempt: job.attempts }, 'job was taken over by another worker; result discarded');
      return;
    }
    if (this.reason === 'shutdown' && !outcome.result) {
      const queueJobId = crypto.randomUUID();
      await rt.sql.transaction(async (tx) => {
        const { rows } = await tx.executeSql(REQUEUE_OWNED, [job.id, workerId, job.attempts, queueJobId]);
        if (rows.length === 0) return;
        await rt.queue.send(job.id, rows[0].priority, queueJobId, tx);
        await rt.jobEvents.append(job.id, { type: 'state', data: { status: 'queued', attempts: rows[0].attempts, reason: 'worker stopping' } }, tx);
      });
      await rt.queue.complete(this.queued.queueJobId);
      return;
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
      error = isAppError(e) ? { code: e.code, message: e.message } : { code: 'JOB_FAILED', message: e instanceof Error ? e.message : String(e) };
      if (!isAppError(e)) this.log.error({ err: e, jobId: job.id }, 'job failed');
    }
    const result = outcome.result ?? { resultModelIds: [], report: null };
    const event = { status, attempts: job.attempts, error, resultModelIds: result.resultModelIds };
    const { rows } = await rt.sql.executeSql(FINISH_JOB, [
      job.id,
      workerId,
      job.attempts,
      status,
      error?.code ?? null,
      error?.message ?? null,
      result.resultModelIds,
      result.report === null ? null : JSON.stringify(result.report),
      JSON.stringify(event),
    ]);
    const owned = rows.length > 0;
    if (!owned) {
      await this.discard(result.resultModelIds);
      return;
    }
    await rt.queue.complete(this.queued.queueJobId);
  }

  private async discard(modelIds: string[] | undefined) {
    for (const id of modelIds ?? []) await this.rt.services.models.delete(id).catch(() => {});
  }
}

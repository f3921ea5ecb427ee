// JobQueue: the one owner of every job state transition. The Job table is the queue (docs/adr/0001-job-state.md):
// create, claim (FOR UPDATE SKIP LOCKED), heartbeat (a lease of `expireSeconds`), progress, finish, requeue on
// shutdown, API retry and cancel, and the sweep that requeues — or, after `lostRetries` lost runs in a row,
// fails — jobs whose lease ran out because their worker died. Every transition commits its row change and its
// state event (NOTIFY, or the event tail on PGlite) together; all writes after a claim are conditional on the
// owner (workerId, attempt), so a worker presumed dead can never overwrite the run that replaced it.
import type { Config } from '../config.ts';
import type { SqlClient, SqlPool } from './pool.ts';
import {
  APPEND_EVENT,
  CANCEL_QUEUED,
  CLAIM_JOBS,
  FINISH_JOB,
  HEARTBEAT,
  INSERT_JOB,
  INSERT_METRICS,
  REQUEST_CANCEL,
  REQUEUE_LOST,
  REQUEUE_OWNED,
  RETRY_JOB,
  RUN_RECORDED,
  SWEEP_EXPIRED,
  UPDATE_PROGRESS,
} from './sql.ts';

/** The inputs of a job (the same shape as the kinds' JobInputs; declared here so the queue depends on no job code). */
export interface JobInputs {
  modelId: string | null;
  teacherModelId: string | null;
  datasetId: string | null;
}

/** How many times in a row a job whose worker died is handed to another worker before it fails. */
export const LOST_RETRIES = 3;

export interface NewJob {
  id: string;
  type: string;
  priority: number;
  params: Record<string, unknown>;
  inputs: JobInputs;
  idempotencyKey: string | null;
  /** The project the job (and its result models) belongs to. */
  projectId: string;
}

export interface ClaimedJob {
  id: string;
  type: string;
  params: Record<string, unknown>;
  inputs: JobInputs;
  attempts: number;
  cancelRequested: boolean;
  priority: number;
}

/** (workerId, attempt) of one run: the key of every write after the claim. */
export interface RunOwner {
  jobId: string;
  workerId: string;
  attempt: number;
}

export interface Outcome {
  status: 'succeeded' | 'failed' | 'canceled';
  error: { code: string; message: string } | null;
  resultModelIds: string[];
  report: Record<string, unknown> | null;
}

/** A row of CLAIM_JOBS. */
interface ClaimedRow extends JobInputs {
  id: string;
  type: string;
  params: Record<string, unknown> | null;
  attempts: number;
  cancelRequested: boolean;
  priority: number;
}

export interface SweptJob {
  id: string;
  status: 'queued' | 'failed';
}

const stateEvent = (tx: SqlClient, jobId: string, data: Record<string, unknown>) =>
  tx.executeSql(APPEND_EVENT, [jobId, 'state', null, null, JSON.stringify(data)]);

export class JobQueue {
  constructor(
    private readonly sql: SqlPool,
    private readonly settings: Pick<Config['worker'], 'expireSeconds'> & { lostRetries?: number },
  ) {}

  /** Inserts a queued job and its first event in one transaction; throws the driver's 23505 on a reused idempotency key. */
  async create(job: NewJob): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.executeSql(INSERT_JOB, [
        job.id,
        job.type,
        job.priority,
        JSON.stringify(job.params),
        job.inputs.modelId,
        job.inputs.teacherModelId,
        job.inputs.datasetId,
        job.idempotencyKey,
        job.projectId,
      ]);
      await stateEvent(tx, job.id, { status: 'queued', attempts: 0 });
    });
  }

  /** queued → canceled (true); running → cancelRequested (true); false when the status was neither anymore. */
  async cancel(jobId: string, status: 'queued' | 'running'): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.executeSql<{ attempts: number }>(status === 'queued' ? CANCEL_QUEUED : REQUEST_CANCEL, [jobId]);
      if (rows.length === 0) return false;
      const data =
        status === 'queued'
          ? { status: 'canceled', attempts: rows[0].attempts, error: { code: 'JOB_CANCELED', message: 'canceled before it started' } }
          : { status: 'running', attempts: rows[0].attempts, cancelRequested: true };
      await stateEvent(tx, jobId, data);
      return true;
    });
  }

  /** failed | canceled → queued (a new attempt, same params); false when the job is in neither state. */
  async retry(jobId: string): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.executeSql<{ attempts: number }>(RETRY_JOB, [jobId]);
      if (rows.length === 0) return false;
      await stateEvent(tx, jobId, { status: 'queued', attempts: rows[0].attempts, retry: true });
      return true;
    });
  }

  /** Claims up to `limit` runnable jobs for `workerId` (highest priority, then oldest); each goes to exactly one claimer. */
  async claim(workerId: string, backend: string, limit: number): Promise<ClaimedJob[]> {
    const { rows } = await this.sql.executeSql<ClaimedRow>(CLAIM_JOBS, [limit, workerId, backend, this.settings.expireSeconds]);
    return rows.map((row) => ({
      id: row.id,
      type: row.type,
      params: row.params ?? {},
      inputs: { modelId: row.modelId, teacherModelId: row.teacherModelId, datasetId: row.datasetId },
      attempts: row.attempts,
      cancelRequested: row.cancelRequested,
      priority: row.priority,
    }));
  }

  /** Extends the run's lease. `owned: false`: the job was requeued meanwhile (lease expired) and this run must stop. */
  async heartbeat(o: RunOwner): Promise<{ owned: boolean; cancelRequested: boolean }> {
    const { rows } = await this.sql.executeSql<{ cancelRequested: boolean }>(HEARTBEAT, [
      o.jobId,
      o.workerId,
      o.attempt,
      this.settings.expireSeconds,
    ]);
    return { owned: rows.length > 0, cancelRequested: rows.length > 0 && rows[0].cancelRequested };
  }

  async progress(o: RunOwner, p: { fraction: number; epoch: number | null; step: number | null; etaSeconds: number | null }): Promise<void> {
    await this.sql.executeSql(UPDATE_PROGRESS, [o.jobId, o.workerId, o.attempt, p.fraction, p.epoch, p.step, p.etaSeconds]);
  }

  async metrics(jobId: string, rows: { name: string; step: number; epoch: number | null; value: number }[]): Promise<void> {
    await this.sql.executeSql(INSERT_METRICS, [jobId, JSON.stringify(rows)]);
  }

  /** Records the run's outcome; false when the run was not this worker's anymore (nothing written). */
  async finish(o: RunOwner, out: Outcome): Promise<boolean> {
    const event = { status: out.status, attempts: o.attempt, error: out.error, resultModelIds: out.resultModelIds };
    const { rows } = await this.sql.executeSql(FINISH_JOB, [
      o.jobId,
      o.workerId,
      o.attempt,
      out.status,
      out.error?.code ?? null,
      out.error?.message ?? null,
      out.resultModelIds,
      out.report === null ? null : JSON.stringify(out.report),
      JSON.stringify(event),
    ]);
    return rows.length > 0;
  }

  /** A stopping worker hands its run back: queued again at once, for another worker. */
  async requeue(o: RunOwner): Promise<boolean> {
    const { rows } = await this.sql.executeSql(REQUEUE_OWNED, [o.jobId, o.workerId, o.attempt]);
    return rows.length > 0;
  }

  /**
   * A run that lost its database connection hands the job back like a dead worker's run (backoff, counted in
   * lostRuns); false when `lostRetries` runs in a row were lost already (the run records its failure) or the run
   * is not this worker's anymore.
   */
  async requeueLost(o: RunOwner, lostRetries: number): Promise<boolean> {
    const { rows } = await this.sql.executeSql(REQUEUE_LOST, [o.jobId, o.workerId, o.attempt, lostRetries]);
    return rows.length > 0;
  }

  /** Whether this run's outcome `status` is recorded: after a finish() whose answer was lost, it may have committed. */
  async recorded(o: RunOwner, status: Outcome['status']): Promise<boolean> {
    const { rows } = await this.sql.executeSql(RUN_RECORDED, [o.jobId, o.workerId, o.attempt, status]);
    return rows.length > 0;
  }

  /** Requeues (or fails, after too many lost runs) every job whose lease ran out. Safe to run from any number of processes. */
  async sweep(): Promise<SweptJob[]> {
    const { rows } = await this.sql.executeSql<SweptJob>(SWEEP_EXPIRED, [this.settings.lostRetries ?? LOST_RETRIES]);
    return rows.map((r) => ({ id: r.id, status: r.status }));
  }
}

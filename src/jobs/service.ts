// JobService: the domain API of jobs (REST and GraphQL both call it). Creating a job validates its params
// against the kind and checks its inputs; the state transitions themselves (create, cancel, retry) belong to
// JobQueue, which commits the Job row change and its event together; the NOTIFY of the event wakes the workers.
import crypto from 'node:crypto';
import type { Db } from '../db/prisma.ts';
import { DEFAULT_PROJECT, inScope, type ProjectScope } from '../domain/projects.ts';
import { afterCursor, decodeCursor, decodeKey, encodeKey, newestFirst, toPage } from '../domain/pagination.ts';
import { AppError } from '../errors.ts';
import type { JobQueue } from '../queue/job-queue.ts';
import {
  TERMINAL_STATUSES,
  type CreateJobInput,
  type JobDto,
  type JobEventDto,
  type JobListQuery,
  type LogPageDto,
  type LogQuery,
  type MetricPageDto,
  type MetricQuery,
} from '../schemas/job.ts';
import { toJobDto } from './dto.ts';
import type { JobEvents, JobEventType } from './events.ts';
import type { JobInputs, ValidationFacts } from './kind.ts';
import { getKind, normalizeParams, validateKind } from './registry.ts';

/** A check every new job passes (params normalized) before anything is stored, e.g. the resource guards; throws to refuse. */
export type AdmitJob = (job: { type: string; params: Record<string, unknown>; inputs: JobInputs }) => Promise<void>;

export interface JobServiceDeps {
  db: Db;
  queue: JobQueue;
  events: JobEvents;
  admit?: AdmitJob;
}

const INPUTS = [
  { field: 'modelId', require: 'model', resource: 'model' },
  { field: 'teacherModelId', require: 'teacherModel', resource: 'model' },
  { field: 'datasetId', require: 'dataset', resource: 'dataset' },
] as const;

/** Stable JSON (sorted keys) so two requests compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Cursor parts must fit their columns (int4 step, int8 id): an out-of-range value is a bad cursor, not a 500. */
const isInt32 = (v: unknown) => Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31;
const isBigintId = (v: unknown) => typeof v === 'string' && /^\d{1,19}$/.test(v) && BigInt(v) < 2n ** 63n;

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /**
   * Creates and enqueues a job. With an idempotency key already used: the same request returns the existing job
   * (`created: false`), a different one fails with IDEMPOTENCY_CONFLICT.
   */
  async create(scope: ProjectScope, input: CreateJobInput, opts: { idempotencyKey?: string } = {}): Promise<{ job: JobDto; created: boolean }> {
    const kind = getKind(input.type);
    const params = normalizeParams(input.type, input.params ?? {});
    const inputs = { modelId: input.modelId ?? null, teacherModelId: input.teacherModelId ?? null, datasetId: input.datasetId ?? null };
    await this.deps.admit?.({ type: input.type, params, inputs });
    const priority = input.priority ?? 0;
    const key = opts.idempotencyKey;
    // A global caller's job goes where its inputs are (checked below); a project caller's, to its project.
    const projectId = scope.projectId ?? (await this.inputsProject(inputs));
    if (key) {
      const existing = await this.sameRequest(projectId, key, { type: input.type, params, priority, ...inputs });
      if (existing) return { job: existing, created: false };
    }
    for (const { field, require, resource } of INPUTS) {
      const id = inputs[field];
      if (id === null) {
        if (kind.requires[require]) throw new AppError('VALIDATION_FAILED', `${field}: required for ${input.type} jobs`, { field });
        continue;
      }
      // Inputs must be in the job's project (built-in datasets are in every one): another project's is NOT_FOUND.
      const where = { id, ...inScope({ projectId }) };
      const found =
        resource === 'model'
          ? await this.deps.db.model.count({ where })
          : await this.deps.db.dataset.count({ where: { id, OR: [{ projectId }, { builtin: true }] } });
      if (!found) {
        if (scope.projectId === null) {
          throw new AppError('VALIDATION_FAILED', `${field}: ${resource} ${id} is not in project ${projectId}, where the job's other inputs are`, {
            field,
          });
        }
        throw new AppError('NOT_FOUND', `${resource} ${id} not found`, { resource, id, field });
      }
    }
    await validateKind(input.type, params, inputs, await this.validationFacts(inputs.datasetId));

    const id = crypto.randomUUID();
    try {
      await this.deps.queue.create({ id, type: input.type, priority, params, inputs, idempotencyKey: key ?? null, projectId });
    } catch (err) {
      if (key && isUniqueViolation(err)) {
        // A concurrent request with the same key won the race.
        const existing = await this.sameRequest(projectId, key, { type: input.type, params, priority, ...inputs });
        if (existing) return { job: existing, created: false };
      }
      throw err;
    }
    return { job: await this.get({ projectId }, id), created: true };
  }

  /** The project of a global caller's job: its first model input's, else its (non-built-in) dataset's, else the default one. */
  private async inputsProject(inputs: JobInputs): Promise<string> {
    const { db } = this.deps;
    for (const id of [inputs.modelId, inputs.teacherModelId]) {
      const row = id ? await db.model.findUnique({ where: { id }, select: { projectId: true } }) : null;
      if (row) return row.projectId;
    }
    const ds = inputs.datasetId ? await db.dataset.findUnique({ where: { id: inputs.datasetId }, select: { projectId: true, builtin: true } }) : null;
    return ds && !ds.builtin ? ds.projectId : DEFAULT_PROJECT;
  }

  private async validationFacts(datasetId: string | null): Promise<ValidationFacts> {
    const row = datasetId ? await this.deps.db.dataset.findUnique({ where: { id: datasetId }, select: { name: true, splits: true } }) : null;
    const splits = (row?.splits ?? {}) as { train?: number; test?: number };
    return { dataset: row ? { name: row.name, trainExamples: splits.train ?? 0, testExamples: splits.test ?? 0 } : null };
  }

  /** The job created earlier under `key` if the request matches it; null if the key is unused. */
  private async sameRequest(projectId: string, key: string, req: Record<string, unknown>): Promise<JobDto | null> {
    // Keys are per project: another project's use of the same key is not seen (nor revealed).
    const row = await this.deps.db.job.findUnique({ where: { projectId_idempotencyKey: { projectId, idempotencyKey: key } } });
    if (!row) return null;
    const before = {
      type: row.type,
      params: row.params,
      priority: row.priority,
      modelId: row.modelId,
      teacherModelId: row.teacherModelId,
      datasetId: row.datasetId,
    };
    if (canonical(before) !== canonical(req)) {
      throw new AppError('IDEMPOTENCY_CONFLICT', `Idempotency-Key "${key}" was used for a different request (job ${row.id})`, { jobId: row.id });
    }
    return toJobDto(row);
  }

  /** Newest first. `modelId` matches jobs that used the model as input or teacher, or produced it. */
  async list(scope: ProjectScope, q: JobListQuery): Promise<{ items: JobDto[]; nextCursor: string | null }> {
    const limit = q.limit ?? 50;
    const where = {
      AND: [
        inScope(scope),
        afterCursor(decodeCursor(q.cursor)),
        q.status ? { status: q.status } : {},
        q.type ? { type: q.type } : {},
        q.datasetId ? { datasetId: q.datasetId } : {},
        q.modelId ? { OR: [{ modelId: q.modelId }, { teacherModelId: q.modelId }, { resultModelIds: { has: q.modelId } }] } : {},
      ],
    };
    const rows = await this.deps.db.job.findMany({ where, orderBy: newestFirst, take: limit + 1 });
    return toPage(rows, limit, toJobDto);
  }

  /** The job if the scope sees it; NOT_FOUND otherwise (also another project's: 404, never 403). */
  async get(scope: ProjectScope, id: string): Promise<JobDto> {
    const row = await this.deps.db.job.findFirst({ where: { id, ...inScope(scope) } });
    if (!row) throw new AppError('NOT_FOUND', `job ${id} not found`, { resource: 'job', id });
    return toJobDto(row);
  }

  /**
   * queued → canceled at once; running → cancelRequested (its worker stops within one step and marks it
   * canceled); finished → INVALID_STATE.
   */
  async cancel(scope: ProjectScope, id: string): Promise<JobDto> {
    for (let tries = 0; tries < 3; tries++) {
      const job = await this.get(scope, id);
      if (TERMINAL_STATUSES.includes(job.status)) {
        throw new AppError('INVALID_STATE', `job ${id} is already ${job.status}`, { status: job.status });
      }
      if (job.status === 'running' && job.cancelRequested) return job;
      // false: the status moved meanwhile: look again
      if (await this.deps.queue.cancel(id, job.status === 'queued' ? 'queued' : 'running')) return this.get(scope, id);
    }
    throw new AppError('CONFLICT', `job ${id} changed state while being canceled; try again`);
  }

  /** failed | canceled → queued again (a new attempt of the same job, same params and inputs). */
  async retry(scope: ProjectScope, id: string): Promise<JobDto> {
    const job = await this.get(scope, id);
    if (job.status !== 'failed' && job.status !== 'canceled') {
      throw new AppError('INVALID_STATE', `only failed or canceled jobs can be retried; job ${id} is ${job.status}`, { status: job.status });
    }
    if (!(await this.deps.queue.retry(id))) {
      throw new AppError('INVALID_STATE', `job ${id} changed state; only failed or canceled jobs can be retried`);
    }
    return this.get(scope, id);
  }

  /** Metric points ordered by (step, id), optionally one series and from a step on. */
  async metrics(scope: ProjectScope, id: string, q: MetricQuery): Promise<MetricPageDto> {
    await this.get(scope, id);
    const limit = q.limit ?? 1000;
    const after = decodeKey(q.cursor, (p) => p.length === 2 && isInt32(p[0]) && isBigintId(p[1])) as [number, string] | null;
    const rows = await this.deps.db.metricPoint.findMany({
      where: {
        jobId: id,
        ...(q.name !== undefined ? { name: q.name } : {}),
        AND: [
          q.fromStep !== undefined ? { step: { gte: Math.min(q.fromStep, 2 ** 31 - 1) } } : {}, // no step lies beyond int4
          after ? { OR: [{ step: { gt: after[0] } }, { step: after[0], id: { gt: BigInt(after[1]) } }] } : {},
        ],
      },
      orderBy: [{ step: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({ name: r.name, step: r.step, epoch: r.epoch, value: r.value, time: r.time.toISOString() })),
      nextCursor: rows.length > limit ? encodeKey([last.step, last.id.toString()]) : null,
    };
  }

  /** Log lines, oldest first. */
  async logs(scope: ProjectScope, id: string, q: LogQuery): Promise<LogPageDto> {
    await this.get(scope, id);
    const limit = q.limit ?? 1000;
    const after = decodeKey(q.cursor, (p) => p.length === 1 && isBigintId(p[0])) as [string] | null;
    const events = await this.deps.events.list(id, { afterId: after?.[0], limit: limit + 1, types: ['log'] });
    const page = events.slice(0, limit);
    return {
      items: page.map((e) => ({
        id: e.id,
        level: String(e.data.level),
        message: String(e.data.message),
        data: (e.data.data ?? null) as Record<string, unknown> | null,
        time: e.time,
      })),
      nextCursor: events.length > limit ? encodeKey([page[page.length - 1].id]) : null,
    };
  }

  /** The job's event feed (replay after `afterId`, then live) ending with the job; see JobEvents.stream. */
  async events(scope: ProjectScope, id: string, opts: { afterId?: string; signal?: AbortSignal } = {}): Promise<AsyncGenerator<JobEventDto>> {
    await this.get(scope, id);
    if (opts.afterId !== undefined && !isBigintId(opts.afterId)) {
      throw new AppError('VALIDATION_FAILED', 'Last-Event-ID must be an event id from this stream', { field: 'last-event-id' });
    }
    return this.deps.events.stream(id, opts);
  }

  /**
   * One page of a job's stored events (GraphQL Job.events), oldest first, after event `afterId`, of `types` only when given.
   * Unscoped: it is only reached from a Job the caller already read through get/list/getMany.
   */
  async eventPage(id: string, opts: { afterId?: string; limit?: number; types?: JobEventType[] } = {}): Promise<JobEventDto[]> {
    if (opts.afterId !== undefined && !isBigintId(opts.afterId))
      throw new AppError('VALIDATION_FAILED', 'after: must be an event id', { field: 'after' });
    return this.deps.events.list(id, opts);
  }
}

// Thin resolvers: map GraphQL arguments onto the domain services REST uses, and shape their DTOs. Relations
// (Job.model, Model.producedBy …) are batched loaders (loaders.ts); subscriptions are in subscriptions.ts.
import { Value } from 'typebox/value';
import { decodeCursor, encodeCursor } from '../domain/pagination.ts';
import { parsePreprocessing } from '../schemas/preprocessing.ts';
import type { ProjectScope } from '../domain/projects.ts';
import { AppError } from '../errors.ts';
import { jobHeadline } from '../jobs/headline.ts';
import type { Services } from '../runtime.ts';
import type { DatasetDto } from '../schemas/dataset.ts';
import { CreateJobBody, type CreateJobInput, type JobDto, type JobListQuery } from '../schemas/job.ts';
import type { ModelDto } from '../schemas/model.ts';
import { describeValidation } from '../schemas/validation-field.ts';
import { paramsFromInput, typedParamKinds } from './job-params.ts';
import { DateTimeScalar, JSONScalar } from './scalars.ts';
import type { SubscriptionSlots } from './subscription-limits.ts';
import { scopeOf, type ScopedContext } from './scope.ts';
import { subscriptionResolvers } from './subscriptions.ts';

interface PageArgs {
  first?: number;
  after?: string | null;
}
interface JobFilterArgs extends PageArgs {
  status?: JobListQuery['status'] | null;
  type?: JobListQuery['type'] | null;
  modelId?: string | null;
  datasetId?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
}

const orUndefined = <T>(v: T | null | undefined) => (v === null ? undefined : v);

/**
 * Jobs newest first through JobService.list. The creation range rides on the keyset order: `createdBefore` is
 * a cursor at that instant, and `createdAfter` cuts the page where older rows begin (the list ends there).
 */
async function listJobs(jobs: Services['jobs'], scope: ProjectScope, a: JobFilterArgs) {
  let cursor = orUndefined(a.after);
  if (a.createdBefore) {
    const given = decodeCursor(cursor);
    if (!given || given.createdAt >= a.createdBefore) cursor = encodeCursor({ createdAt: a.createdBefore, id: '' });
  }
  const page = await jobs.list(scope, {
    limit: a.first,
    cursor,
    status: orUndefined(a.status),
    type: orUndefined(a.type),
    modelId: orUndefined(a.modelId),
    datasetId: orUndefined(a.datasetId),
  });
  if (!a.createdAfter) return page;
  const after = a.createdAfter.getTime();
  const items = page.items.filter((j) => Date.parse(j.createdAt) >= after);
  return { items, nextCursor: items.length < page.items.length ? null : page.nextCursor };
}

/**
 * The typed params field of the input (e.g. `prune`) as REST `params`: at most one typed field, the one of `type`,
 * and not beside `params` (VALIDATION_FAILED naming the field otherwise).
 */
function withTypedParams(input: Record<string, unknown>): Record<string, unknown> {
  const given = typedParamKinds().filter(({ type }) => input[type] !== null && input[type] !== undefined);
  const rest = Object.fromEntries(Object.entries(input).filter(([k]) => !typedParamKinds().some((t) => t.type === k)));
  if (!given.length) return rest;
  const wrong = given.find(({ type }) => type !== input.type) ?? (input.params !== null && input.params !== undefined ? given[0] : null);
  if (wrong) {
    const field = `input.${wrong.type}`;
    const why =
      wrong.type !== input.type
        ? `params of a ${wrong.type} job given for type ${String(input.type)}`
        : 'give either params or typed params, not both';
    throw new AppError('VALIDATION_FAILED', `${field}: ${why}`, { field });
  }
  return { ...rest, params: paramsFromInput(input[given[0].type]) };
}

/** The same body validation as POST /v1/jobs (TypeBox CreateJobBody), reported as VALIDATION_FAILED on `input.<field>`. */
function checkCreateJob(input: Record<string, unknown>): CreateJobInput {
  const body = Object.fromEntries(Object.entries(withTypedParams(input)).filter(([, v]) => v !== null && v !== undefined));
  const first = Value.Check(CreateJobBody, body) ? null : [...Value.Errors(CreateJobBody, body)][0];
  if (first) {
    const { field, text } = describeValidation('input', [first]);
    throw new AppError('VALIDATION_FAILED', text, { field });
  }
  return body as CreateJobInput;
}

interface Page<T extends { id: string; createdAt: string }> {
  items: T[];
  nextCursor: string | null;
}
const cursorOf = (n: { id: string; createdAt: string }) => encodeCursor({ createdAt: new Date(n.createdAt), id: n.id });

/** Relay fields of a `{ items, nextCursor }` page: each item's cursor is the one `after` takes (nextCursor is the last one's). */
const connection = {
  edges: (p: Page<{ id: string; createdAt: string }>) => p.items.map((node) => ({ cursor: cursorOf(node), node })),
  pageInfo: (p: Page<{ id: string; createdAt: string }>) => ({
    hasNextPage: p.nextCursor !== null,
    hasPreviousPage: false,
    startCursor: p.items.length ? cursorOf(p.items[0]) : null,
    endCursor: p.items.length ? cursorOf(p.items[p.items.length - 1]) : null,
  }),
};

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : null);

export function buildResolvers(services: Services, slots: SubscriptionSlots) {
  const { models, datasets, jobs } = services;
  const jobsOf = (key: 'modelId' | 'datasetId') => (parent: { id: string }, a: JobFilterArgs, ctx: ScopedContext) =>
    listJobs(jobs, scopeOf(ctx), { ...a, [key]: parent.id });
  type Ctx = ScopedContext;
  return {
    JSON: JSONScalar,
    DateTime: DateTimeScalar,
    Query: {
      model: (_: unknown, { id }: { id: string }, ctx: Ctx) => models.get(scopeOf(ctx), id),
      dataset: (_: unknown, { id }: { id: string }, ctx: Ctx) => datasets.get(scopeOf(ctx), id),
      job: (_: unknown, { id }: { id: string }, ctx: Ctx) => jobs.get(scopeOf(ctx), id),
      models: (_: unknown, a: PageArgs & { name?: string | null; parentId?: string | null }, ctx: Ctx) =>
        models.list(scopeOf(ctx), {
          limit: a.first,
          cursor: orUndefined(a.after),
          name: orUndefined(a.name),
          parentModelId: orUndefined(a.parentId),
        }),
      datasets: (_: unknown, a: PageArgs & { name?: string | null; format?: string | null }, ctx: Ctx) =>
        datasets.list(scopeOf(ctx), {
          limit: a.first,
          cursor: orUndefined(a.after),
          name: orUndefined(a.name),
          format: orUndefined(a.format) as never,
        }),
      jobs: (_: unknown, a: JobFilterArgs, ctx: Ctx) => listJobs(jobs, scopeOf(ctx), a),
    },
    Mutation: {
      createJob: async (_: unknown, { input, idempotencyKey }: { input: Record<string, unknown>; idempotencyKey?: string | null }, ctx: Ctx) =>
        (await jobs.create(scopeOf(ctx), checkCreateJob(input), { idempotencyKey: orUndefined(idempotencyKey) })).job,
      cancelJob: (_: unknown, { id }: { id: string }, ctx: Ctx) => jobs.cancel(scopeOf(ctx), id),
      retryJob: (_: unknown, { id }: { id: string }, ctx: Ctx) => jobs.retry(scopeOf(ctx), id),
      deleteModel: async (_: unknown, { id }: { id: string }, ctx: Ctx) => {
        await models.delete(scopeOf(ctx), id);
        return id;
      },
      updateModel: (_: unknown, { id, input }: { id: string; input: { name?: string | null; preprocessing?: unknown } }, ctx: Ctx) =>
        models.update(scopeOf(ctx), id, {
          ...(input.name !== undefined && input.name !== null ? { name: input.name } : {}),
          ...(input.preprocessing !== undefined
            ? { preprocessing: input.preprocessing === null ? null : parsePreprocessing(input.preprocessing, 'input.preprocessing') }
            : {}),
        }),
      deleteDataset: async (_: unknown, { id }: { id: string }, ctx: Ctx) => {
        await datasets.delete(scopeOf(ctx), id);
        return id;
      },
    },
    Subscription: subscriptionResolvers(services, slots),
    ModelConnection: connection,
    DatasetConnection: connection,
    JobConnection: connection,
    Model: {
      archiveUrl: (m: ModelDto) => `/v1/models/${m.id}/archive`,
      jobs: jobsOf('modelId'),
    },
    Dataset: {
      trainExamples: (d: DatasetDto) => d.splits.train,
      testExamples: (d: DatasetDto) => d.splits.test ?? null,
      jobs: jobsOf('datasetId'),
    },
    Job: {
      inputs: (j: JobDto) => j,
      headline: (j: JobDto) => jobHeadline(j.report),
      events: (j: JobDto, a: { after?: string | null; first: number; types?: JobDto['type'][] | null }) =>
        jobs.eventPage(j.id, { afterId: orUndefined(a.after) || undefined, limit: a.first, types: orUndefined(a.types) as never }),
    },
    CompressionReport: {
      raw: (r: Raw) => r,
      before: (r: Raw) => obj(r.before),
      after: (r: Raw) => obj(r.after),
      compressionRatio: (r: Raw) => {
        const before = num(obj(r.before)?.sizeBytes);
        const after = num(obj(r.after)?.sizeBytes);
        return before !== null && after ? before / after : null;
      },
      sparsity: (r: Raw) => {
        const params = num(obj(r.after)?.params);
        const nonzero = num(obj(r.after)?.nonzeroParams);
        return params && nonzero !== null ? 1 - nonzero / params : null;
      },
      layers: (r: Raw) => (Array.isArray(r.layers) ? r.layers.filter((l): l is Raw => !!obj(l) && typeof (l as Raw).name === 'string') : []),
      frontier: (r: Raw) =>
        Array.isArray(r.frontier) ? r.frontier.filter((c): c is Raw => !!obj(c) && typeof (c as Raw).modelId === 'string') : null,
      chosen: (r: Raw) => {
        const c = obj(r.chosen);
        return c && typeof c.modelId === 'string' ? c : null;
      },
    },
    ModelMeasure: {
      accuracy: (m: Raw) => num(m.accuracy),
      split: (m: Raw) => (typeof m.split === 'string' ? m.split : null),
      params: (m: Raw) => num(m.params),
      nonzeroParams: (m: Raw) => num(m.nonzeroParams),
      sizeBytes: (m: Raw) => num(m.sizeBytes),
      gzipBytes: (m: Raw) => num(m.gzipBytes),
      flops: (m: Raw) => num(m.flops),
      latencyMs: (m: Raw) => m.latencyMs ?? null,
    },
    LayerReport: {
      params: (l: Raw) => num(l.params),
      nonzeroParams: (l: Raw) => num(l.nonzeroParams),
      sparsity: (l: Raw) => num(l.sparsity),
      flops: (l: Raw) => num(l.flops),
    },
  };
}

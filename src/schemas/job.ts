// Job resource schemas (TypeBox): request validation, response serialization, TS types and OpenAPI. The job
// types are the job-kind registry's, read when this module loads (kinds register before that).
import { Type, type Static, type TSchema } from 'typebox';
import { jobTypes } from '../jobs/registry.ts';
import { Id, Page } from './common.ts';
import { createJobExample, jobExample } from './examples.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];
export type JobStatus = (typeof JOB_STATUSES)[number];

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const JobTypeSchema = Type.Enum(jobTypes(), { description: 'Job kind' });
const JobStatusSchema = Type.Enum(JOB_STATUSES);

export const JobProgress = Type.Object({
  fraction: Type.Number({ minimum: 0, maximum: 1 }),
  epoch: Nullable(Type.Integer()),
  step: Nullable(Type.Integer()),
  etaSeconds: Nullable(Type.Number({ minimum: 0 })),
});

export const Job = Type.Object(
  {
    id: Type.String(),
    projectId: Type.String({
      description: "The project it belongs to (read-only: the caller's project at creation, or its inputs' for a global key)",
    }),
    type: JobTypeSchema,
    status: JobStatusSchema,
    priority: Type.Integer(),
    params: Type.Record(Type.String(), Type.Unknown(), { description: "The kind's parameters, defaults applied" }),
    modelId: Nullable(Type.String()),
    teacherModelId: Nullable(Type.String()),
    datasetId: Nullable(Type.String()),
    resultModelIds: Type.Array(Type.String()),
    progress: JobProgress,
    report: Nullable(Type.Record(Type.String(), Type.Unknown())),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    backend: Nullable(Type.String({ description: 'tfjs backend the last attempt ran on' })),
    attempts: Type.Integer({ description: 'Runs started so far (a run lost with its worker counts)' }),
    cancelRequested: Type.Boolean(),
    workerId: Nullable(Type.String()),
    createdAt: DateTime,
    startedAt: Nullable(DateTime),
    finishedAt: Nullable(DateTime),
  },
  { $id: 'Job', examples: [jobExample] },
);
export type JobDto = Static<typeof Job>;

export const JobPage = Type.Object({ items: Type.Array(Type.Ref('Job')), nextCursor: Page(Job).properties.nextCursor }, { $id: 'JobPage' });

const priority = Type.Integer({ minimum: -1000, maximum: 1000, default: 0, description: 'Higher runs first' });

export const CreateJobBody = Type.Object(
  {
    type: JobTypeSchema,
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { default: {}, description: 'Per-type parameters (see each kind)' })),
    modelId: Type.Optional(Id),
    teacherModelId: Type.Optional(Id),
    datasetId: Type.Optional(Id),
    priority: Type.Optional(priority),
  },
  { additionalProperties: false, examples: [createJobExample] },
);
export type CreateJobInput = Static<typeof CreateJobBody>;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Same key + same body → the same job back (200)' })),
});

export const JobListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String()),
  status: Type.Optional(JobStatusSchema),
  type: Type.Optional(JobTypeSchema),
  modelId: Type.Optional(Type.String({ format: 'uuid', description: 'Jobs using this model as input, teacher or result' })),
  datasetId: Type.Optional(Type.String({ format: 'uuid' })),
});
export type JobListQuery = Static<typeof JobListQuery>;

export const MetricPoint = Type.Object({
  name: Type.String(),
  step: Type.Integer(),
  epoch: Nullable(Type.Integer()),
  value: Type.Number(),
  time: DateTime,
});
export const MetricPage = Page(MetricPoint);
export type MetricPageDto = Static<typeof MetricPage>;

export const MetricQuery = Type.Object({
  name: Type.Optional(Type.String({ description: 'One series, e.g. loss' })),
  fromStep: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
  cursor: Type.Optional(Type.String()),
});
export type MetricQuery = Static<typeof MetricQuery>;

export const LogLine = Type.Object({
  id: Type.String(),
  level: Type.String(),
  message: Type.String(),
  data: Nullable(Type.Record(Type.String(), Type.Unknown())),
  time: DateTime,
});
export const LogPage = Page(LogLine);
export type LogPageDto = Static<typeof LogPage>;

export const LogQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page (oldest first)' })),
});
export type LogQuery = Static<typeof LogQuery>;

/** One entry of the event feed (SSE `id`/`event`/`data`). */
export const JobEventSchema = Type.Object({
  id: Type.String(),
  jobId: Type.String(),
  type: Type.Union([Type.Literal('state'), Type.Literal('progress'), Type.Literal('metric'), Type.Literal('log')]),
  time: DateTime,
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type JobEventDto = Static<typeof JobEventSchema>;

// The messages of GET /v1/jobs/{id}/events (Server-Sent Events): each message's `event` field is the event type
// and its `data` is one of these JSON objects, which repeats the type in `type` so clients can discriminate the
// parsed data alone (generated SSE clients type `data` from this union).
import { Type, type TSchema } from 'typebox';
import { JOB_ID } from './examples.ts';
import { JOB_STATUSES } from './job.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const base = {
  jobId: Type.String({ format: 'uuid' }),
  time: Type.String({ format: 'date-time', description: 'When the event was recorded' }),
};
const TIME = '2026-11-30T02:00:00.000Z';

export const JobStateEvent = Type.Object(
  {
    type: Type.Literal('state'),
    ...base,
    status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
    attempts: Type.Integer({ minimum: 0 }),
    cancelRequested: Type.Optional(Type.Boolean()),
    retry: Type.Optional(Type.Boolean({ description: 'Queued again by POST /v1/jobs/{id}/retry' })),
    reason: Type.Optional(Type.String({ description: 'Why a running job went back to queued (worker stopping, worker lost)' })),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    resultModelIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }))),
  },
  {
    $id: 'JobStateEvent',
    description: 'The job changed status',
    examples: [{ type: 'state', jobId: JOB_ID, time: TIME, status: 'running', attempts: 1 }],
  },
);

export const JobProgressEvent = Type.Object(
  {
    type: Type.Literal('progress'),
    ...base,
    fraction: Type.Number({ minimum: 0, maximum: 1 }),
    epoch: Nullable(Type.Integer()),
    step: Nullable(Type.Integer()),
    etaSeconds: Nullable(Type.Number({ minimum: 0 })),
  },
  {
    $id: 'JobProgressEvent',
    description: 'Progress of the running attempt',
    examples: [{ type: 'progress', jobId: JOB_ID, time: TIME, fraction: 0.5, epoch: 1, step: 40, etaSeconds: 12.5 }],
  },
);

export const JobMetricEvent = Type.Object(
  {
    type: Type.Literal('metric'),
    ...base,
    points: Type.Array(Type.Object({ name: Type.String(), step: Type.Integer(), epoch: Nullable(Type.Integer()), value: Type.Number() })),
  },
  {
    $id: 'JobMetricEvent',
    description: 'A batch of metric points (the same points GET /v1/jobs/{id}/metrics returns)',
    examples: [{ type: 'metric', jobId: JOB_ID, time: TIME, points: [{ name: 'loss', step: 40, epoch: 1, value: 0.31 }] }],
  },
);

export const JobLogEvent = Type.Object(
  {
    type: Type.Literal('log'),
    ...base,
    level: Type.String({ examples: ['info'] }),
    message: Type.String(),
    data: Nullable(Type.Record(Type.String(), Type.Unknown())),
  },
  {
    $id: 'JobLogEvent',
    description: 'A log line',
    examples: [{ type: 'log', jobId: JOB_ID, time: TIME, level: 'info', message: 'epoch 1 done', data: null }],
  },
);

export const JobStreamEvent = Type.Union(
  [Type.Ref('JobStateEvent'), Type.Ref('JobProgressEvent'), Type.Ref('JobMetricEvent'), Type.Ref('JobLogEvent')],
  {
    $id: 'JobStreamEvent',
    description: 'The `data` of one Server-Sent Event; `type` equals the message `event` field',
    discriminator: { propertyName: 'type' },
  },
);

/** Registered with the app (addSchema) so the event stream's response and the OpenAPI document can refer to them. */
export const JOB_STREAM_EVENTS = [JobStateEvent, JobProgressEvent, JobMetricEvent, JobLogEvent, JobStreamEvent];

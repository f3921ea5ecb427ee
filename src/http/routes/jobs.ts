// /v1/jobs: thin adapters over JobService, plus the Server-Sent Events feed of one job.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
import { errorResponses, IdParams } from '../../schemas/common.ts';
import { nextLink } from '../pagination.ts';
import { CreateJobBody, IdempotencyHeaders, JobListQuery, LogPage, LogQuery, MetricPage, MetricQuery } from '../../schemas/job.ts';

const tags = ['jobs'];
const job = { $ref: 'Job#' };
const KEEPALIVE_MS = 15_000;

export const jobRoutes: FastifyPluginAsync<{ services: Services }> = async (fastify, { services }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const jobs = services.jobs;

  app.post(
    '/jobs',
    {
      schema: {
        operationId: 'createJob',
        tags,
        summary: 'Create a job',
        description:
          'Validates `params` against the job type (defaults applied; 400 INVALID_JOB_PARAMS naming the field), checks the inputs the type needs ' +
          '(400 VALIDATION_FAILED when missing, 404 when they do not exist) and enqueues it. With an `Idempotency-Key` header, repeating the same ' +
          'request returns the same job (200); reusing the key for a different request is 409 IDEMPOTENCY_CONFLICT.',
        headers: IdempotencyHeaders,
        body: CreateJobBody,
        response: { 201: job, 200: job, ...errorResponses(400, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const { job: created, created: isNew } = await jobs.create(req.projectScope, req.body, { idempotencyKey: req.headers['idempotency-key'] });
      reply.status(isNew ? 201 : 200).header('location', `/v1/jobs/${created.id}`);
      return created;
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        operationId: 'listJobs',
        tags,
        summary: 'List jobs, newest first',
        description: 'One page of jobs, filtered by status, type, model or dataset; follow nextCursor (or the Link rel="next" header).',
        querystring: JobListQuery,
        response: { 200: { $ref: 'JobPage#' }, ...errorResponses(400) },
      },
    },
    async (req, reply) => {
      const page = await jobs.list(req.projectScope, req.query);
      nextLink(req, reply, page.nextCursor);
      return page;
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        operationId: 'getJob',
        tags,
        summary: 'Get a job',
        description: 'Status, progress, params (defaults applied), result model ids, report and error of one job.',
        params: IdParams,
        response: { 200: job, ...errorResponses(400, 404) },
      },
    },
    async (req) => jobs.get(req.projectScope, req.params.id),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        operationId: 'cancelJob',
        tags,
        summary: 'Cancel a job',
        description:
          'A queued job is canceled at once; a running one gets `cancelRequested` and stops within one step. 409 INVALID_STATE once it has finished.',
        params: IdParams,
        response: { 200: job, ...errorResponses(400, 404, 409) },
      },
    },
    async (req) => jobs.cancel(req.projectScope, req.params.id),
  );

  app.post(
    '/jobs/:id/retry',
    {
      schema: {
        operationId: 'retryJob',
        tags,
        summary: 'Retry a failed or canceled job',
        description: 'Queues a new attempt of the same job (same params and inputs). 409 INVALID_STATE unless the job failed or was canceled.',
        params: IdParams,
        response: { 200: job, ...errorResponses(400, 404, 409) },
      },
    },
    async (req) => jobs.retry(req.projectScope, req.params.id),
  );

  app.get(
    '/jobs/:id/metrics',
    {
      schema: {
        operationId: 'listJobMetrics',
        tags,
        summary: 'Metric time series of a job',
        description: 'Points ordered by step; filter one series with `name` (e.g. loss, val_accuracy) and start at `fromStep`.',
        params: IdParams,
        querystring: MetricQuery,
        response: { 200: MetricPage, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const page = await jobs.metrics(req.projectScope, req.params.id, req.query);
      nextLink(req, reply, page.nextCursor);
      return page;
    },
  );

  app.get(
    '/jobs/:id/logs',
    {
      schema: {
        operationId: 'listJobLogs',
        tags,
        summary: 'Log lines of a job, oldest first',
        description: 'One page of log lines, oldest first; follow nextCursor (or the Link rel="next" header).',
        params: IdParams,
        querystring: LogQuery,
        response: { 200: LogPage, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const page = await jobs.logs(req.projectScope, req.params.id, req.query);
      nextLink(req, reply, page.nextCursor);
      return page;
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        operationId: 'streamJobEvents',
        tags,
        summary: 'Live event stream of a job (Server-Sent Events)',
        description:
          'Replays the stored events, then streams new ones; ends after the job reaches succeeded, failed or canceled. Each message has ' +
          '`id` (resume with the Last-Event-ID header or ?lastEventId=), `event` (state | progress | metric | log) and `data`: one JSON ' +
          'JobStreamEvent whose `type` repeats the event name.',
        params: IdParams,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^\\d+$' })) }),
        querystring: Type.Object({ lastEventId: Type.Optional(Type.String({ pattern: '^\\d+$' })) }),
        produces: ['text/event-stream'],
        response: {
          200: {
            description: "A text/event-stream; each message's data is a JobStreamEvent",
            content: { 'text/event-stream': { schema: { $ref: 'JobStreamEvent#' } } },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const controller = new AbortController();
      const afterId = req.headers['last-event-id'] ?? req.query.lastEventId;
      const events = await jobs.events(req.projectScope, req.params.id, { afterId, signal: controller.signal });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      res.write('retry: 2000\n\n');
      res.on('close', () => controller.abort());
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
      try {
        for await (const e of events) {
          res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ type: e.type, jobId: e.jobId, time: e.time, ...e.data })}\n\n`);
        }
      } catch (err) {
        req.log.warn({ err }, 'job event stream failed');
      } finally {
        clearInterval(keepAlive);
        res.end();
      }
    },
  );
};

// buildApp(runtime): the fastify application. Routes are thin adapters over runtime.services; tests build
// the same app over real dependencies.
import crypto from 'node:crypto';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { graphqlPlugin } from '../graphql/plugin.ts';
import { graphqlCachePlugin } from '../graphql/response-cache.ts';
import { metricsPlugin } from '../observability/metrics.ts';
import type { Runtime } from '../runtime.ts';
import { Problem } from '../schemas/common.ts';
import { securityPlugin } from '../security/plugin.ts';
import { Dataset, DatasetPage } from '../schemas/dataset.ts';
import { Job, JobPage } from '../schemas/job.ts';
import { CREATE_JOB_SCHEMAS } from '../schemas/job-create.ts';
import { JOB_STREAM_EVENTS } from '../schemas/job-events.ts';
import { Model, ModelPage } from '../schemas/model.ts';
import { clientErrorHandler, registerUrlLimit } from './client-errors.ts';
import { dashboardPlugin } from './dashboard.ts';
import { docsPlugin } from './openapi.ts';
import { registerProblemHandler } from './problem.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { modelRoutes } from './routes/models.ts';
import { projectRoutes } from './routes/projects.ts';

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(runtime: Runtime, opts: AppOptions = {}) {
  const app = Fastify({
    logger: opts.logger ?? { level: runtime.config.logLevel },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : crypto.randomUUID();
    },
    bodyLimit: 1024 * 1024,
    clientErrorHandler,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  registerProblemHandler(app);
  registerUrlLimit(app);

  for (const schema of [Problem, Model, ModelPage, Dataset, DatasetPage, Job, JobPage, ...JOB_STREAM_EVENTS, ...CREATE_JOB_SCHEMAS])
    app.addSchema(schema);
  // Plugins whose hooks apply to the whole app come before the routes: the OpenAPI collector; API keys, rate
  // limits, CORS, security headers, timeouts; /metrics and its latency hook; the GraphQL cache's invalidation.
  await app.register(docsPlugin);
  await app.register(securityPlugin, { config: runtime.config.security, db: runtime.db });
  await app.register(metricsPlugin, { exposure: runtime.config.security.metrics, db: runtime.db, sql: runtime.sql });
  await app.register(graphqlCachePlugin, { ttlMs: runtime.config.graphqlCacheMs, jobEvents: runtime.jobEvents });

  const { limits } = runtime.config;
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: 50, fieldSize: 64 * 1024, parts: limits.maxFiles + 50 },
  });

  await app.register(healthRoutes, { runtime });
  await app.register(modelRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(datasetRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(jobRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(projectRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(graphqlPlugin, {
    services: runtime.services,
    subscriptionLimits: runtime.config.subscriptionLimits,
    costPerMinute: runtime.config.security.graphqlCostPerMinute,
  });
  await app.register(dashboardPlugin);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

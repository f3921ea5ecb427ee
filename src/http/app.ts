// buildApp(runtime): the fastify application. Routes are thin adapters over runtime.services; tests build
// the same app over real dependencies.
import crypto from 'node:crypto';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { graphqlPlugin } from '../graphql/plugin.ts';
import { GraphqlResponseCache } from '../graphql/response-cache.ts';
import { registerMetrics } from '../observability/metrics.ts';
import type { Runtime } from '../runtime.ts';
import { Problem } from '../schemas/common.ts';
import { registerSecurity } from '../security/plugin.ts';
import { Dataset, DatasetPage } from '../schemas/dataset.ts';
import { Job, JobPage } from '../schemas/job.ts';
import { Model, ModelPage } from '../schemas/model.ts';
import { dashboardPlugin } from './dashboard.ts';
import { registerOpenApi } from './openapi.ts';
import { registerProblemHandler } from './problem.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { modelRoutes } from './routes/models.ts';

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
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  registerProblemHandler(app);

  for (const schema of [Problem, Model, ModelPage, Dataset, DatasetPage, Job, JobPage]) app.addSchema(schema);
  await registerOpenApi(app);
  // API keys, rate limits, CORS, security headers, timeouts (before the routes they guard); /metrics.
  await registerSecurity(app, runtime);
  await registerMetrics(app, runtime);

  const { limits } = runtime.config;
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: 50, fieldSize: 64 * 1024, parts: limits.maxFiles + 50 },
  });

  await app.register(healthRoutes, { runtime });
  await app.register(modelRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(datasetRoutes, { prefix: '/v1', services: runtime.services });
  await app.register(jobRoutes, { prefix: '/v1', services: runtime.services });
  // Query responses are cached until any job event or write (see src/graphql/response-cache.ts).
  const graphqlCache = new GraphqlResponseCache(runtime.config.graphqlCacheMs);
  const stopInvalidating = runtime.jobEvents.subscribe(() => graphqlCache.invalidate());
  app.addHook('onClose', async () => stopInvalidating());
  app.addHook('onResponse', async (req) => {
    // REST writes; GraphQL mutations invalidate in the cache's own hook (POST queries must not).
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !req.url.startsWith('/graphql')) graphqlCache.invalidate();
  });
  await app.register(graphqlPlugin, { runtime, cache: graphqlCache });
  await app.register(dashboardPlugin);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

// securityPlugin: API keys (auth hook, /v1/keys, GraphQL hooks via the `security` decorator), per-key rate
// limits (per IP without a key), a per-IP limit of failed authentications with a negative key cache, CORS allow-list, security headers and request timeouts. Not encapsulated (fastify-plugin): its hooks
// must guard every route of the app, so buildApp registers it before the routes — the rate limit applies to
// routes registered after it.
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { SecurityConfig } from '../config.ts';
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';
import { ApiKeyService } from './api-keys.ts';
import { clientKey } from './cost-budget.ts';
import { registerAuthHook, routePath, type AuthSettings } from './auth.ts';
import { FailedAuthLimiter } from './failed-auth-limiter.ts';
import { registerSecurityHeaders } from './headers.ts';
import { keyRoutes } from './key-routes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    security: AuthSettings;
  }
}

/** Responses that never count against a rate limit: probes and the static UI. */
const unlimited = (path: string) =>
  path === '/healthz' || path === '/readyz' || !(path.startsWith('/v1/') || path === '/graphql' || path === '/metrics');

export interface SecurityPluginOptions {
  config: SecurityConfig;
  db: Db;
}

export const SECURITY_PLUGIN = 'modelpress-security';

const security: FastifyPluginAsync<SecurityPluginOptions> = async (app, { config: sec, db }) => {
  const settings: AuthSettings = {
    enabled: sec.auth,
    keys: new ApiKeyService(db, { negativeCacheMs: sec.negativeKeyCacheSeconds * 1000 }),
    protectMetrics: sec.metrics === 'auth',
    failures: new FailedAuthLimiter(sec.rateLimitUnauthenticatedPerMinute),
  };
  app.decorate('security', settings);

  // Node closes requests whose body takes longer than this (slowloris); idle sockets after 2 minutes.
  app.server.requestTimeout = sec.requestTimeoutMs;
  app.server.headersTimeout = Math.min(60_000, sec.requestTimeoutMs || 60_000);
  app.server.setTimeout(120_000);

  await registerSecurityHeaders(app);
  await app.register(cors, {
    origin: sec.corsOrigins.includes('*') ? true : sec.corsOrigins.length ? sec.corsOrigins : false,
    methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'x-request-id'],
    exposedHeaders: [
      'location',
      'x-request-id',
      'etag',
      'x-content-sha256',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-query-cost',
      'x-cost-limit',
      'x-cost-remaining',
    ],
    maxAge: 600,
  });
  registerAuthHook(app, settings);
  if (sec.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler', // after authentication, so the key is known
      max: sec.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => clientKey(req.principal, req.ip),
      allowList: (req) => unlimited(routePath(req)),
      errorResponseBuilder: (_req, ctx) =>
        Object.assign(
          new AppError('RATE_LIMITED', `rate limit of ${ctx.max} requests per minute exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s`, {
            limit: ctx.max,
            retryAfterSeconds: Math.ceil(ctx.ttl / 1000),
          }),
          {
            statusCode: 429,
          },
        ),
    });
  }
  await app.register(keyRoutes, { prefix: '/v1', keys: settings.keys });
};

export const securityPlugin = fp(security, { name: SECURITY_PLUGIN, fastify: '5.x' });

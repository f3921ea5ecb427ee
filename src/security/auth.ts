// Authentication of every request: `Authorization: Bearer mp_…` → req.principal, then the scope the route
// needs (see requiredScope). Missing or unknown key → 401 UNAUTHENTICATED, too small a scope → 403 FORBIDDEN; an
// address with too many such failures this minute → 429 RATE_LIMITED (failed-auth-limiter.ts), before key lookups.
// A WebSocket upgrade to /graphql may come without the header (browsers cannot set it): its key then
// arrives in the connection_init payload and is checked by the GraphQL hooks (graphql-auth.ts). Every request
// also gets req.projectScope (whose resources it sees: src/domain/projects.ts); admin routes need a global key.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors.ts';
import { bearerToken, type ApiKeyService } from './api-keys.ts';
import type { FailedAuthLimiter } from './failed-auth-limiter.ts';
import type { ProjectScope } from '../domain/projects.ts';
import { projectScopeOf, requireGlobal, requireScope, requiredScope, type Principal } from './scopes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** Whose resources this request sees (its key's project; the default project without a key): routes pass it to the services. */
    projectScope: ProjectScope;
  }
}

export interface AuthSettings {
  enabled: boolean;
  keys: ApiKeyService;
  protectMetrics: boolean;
  /** Per-IP limit of requests that fail authentication (checked before any key lookup). */
  failures?: FailedAuthLimiter;
}

/** The route's pattern when one matched (immune to encoded or doubled slashes), else the raw path. */
export const routePath = (req: FastifyRequest) => req.routeOptions.url ?? req.url.split('?')[0];

const isWebSocketUpgrade = (req: FastifyRequest) => String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';

/** GraphQL clients read errors[].extensions.code, not problem documents. */
function sendGraphqlError(reply: FastifyReply, e: AppError) {
  return reply.status(e.status).send({ data: null, errors: [{ message: e.message, extensions: { code: e.code, status: e.status } }] });
}

export function registerAuthHook(app: FastifyInstance, settings: AuthSettings) {
  app.decorateRequest('projectScope', null as unknown as ProjectScope);
  app.addHook('onRequest', async (req, reply) => {
    req.projectScope = projectScopeOf(null);
    try {
      await authenticate(req, settings);
      req.projectScope = projectScopeOf(req.principal);
    } catch (err) {
      if (isAppError(err) && err.code === 'RATE_LIMITED') reply.header('retry-after', Number(err.details?.retryAfterSeconds ?? 60));
      if (isAppError(err) && routePath(req) === '/graphql' && !isWebSocketUpgrade(req)) return sendGraphqlError(reply, err);
      throw err;
    }
  });
  // A refused WebSocket upgrade (401, 429, 404…) is answered on the raw socket, which nothing else closes:
  // without this it lingers half-closed and app.close() waits on it forever.
  app.addHook('onSend', async (req, reply, payload) => {
    if (isWebSocketUpgrade(req) && reply.statusCode >= 400) reply.raw.once('finish', () => req.raw.socket?.destroy());
    return payload;
  });
}

async function authenticate(req: FastifyRequest, settings: AuthSettings) {
  const token = bearerToken(req.headers.authorization);
  const { failures } = settings;
  // With auth off a key is still honoured (rate limits per key), never required.
  if (token) {
    // An address that used up its failures is refused before its key costs a lookup.
    failures?.check(req.ip);
    const principal = await settings.keys.verify(token);
    if (principal) req.principal = principal;
    else {
      failures?.fail(req.ip);
      if (settings.enabled) throw new AppError('UNAUTHENTICATED', 'API key is invalid or revoked');
    }
  }
  if (!settings.enabled) return;
  const needed = requiredScope(req.method, routePath(req), settings.protectMetrics);
  if (!needed) return;
  if (!req.principal) {
    if (isWebSocketUpgrade(req) && routePath(req) === '/graphql') return;
    failures?.check(req.ip);
    failures?.fail(req.ip);
    throw new AppError('UNAUTHENTICATED', 'this endpoint needs an API key: send "Authorization: Bearer mp_…"');
  }
  requireScope(req.principal, needed, `${req.method} ${routePath(req)}`);
  if (needed === 'admin') requireGlobal(req.principal, `${req.method} ${routePath(req)}`);
}

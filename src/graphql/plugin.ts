// The GraphQL API: POST/GET /graphql (mercurius), GraphiQL at /graphiql (src/graphql/graphiql-page.ts: assets from
// the packages, no CDN), subscriptions over WebSocket on /graphql (graphql-transport-ws and the legacy graphql-ws
// protocol). Register with { services, subscriptionLimits, costPerMinute }
// after the REST routes: it reads and acts only through the domain services REST uses (no runtime, no database).
// A named plugin that stays encapsulated (its hooks and mercurius' decorators do not leak) and needs the security
// plugin (API keys for queries and WebSockets) and the response cache plugin. Every query and mutation is charged its
// computed cost to its client's budget before it runs (src/security/cost-budget.ts): 429 RATE_LIMITED when spent,
// then on arrival (held until Retry-After) until refilled; a client's operations over HTTP execute 2 at a time.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import mercurius from 'mercurius';
import type { Config } from '../config.ts';
import type { Services } from '../runtime.ts';
import type { AppError } from '../errors.ts';
import { ClientGate, clientKey, CostBudget } from '../security/cost-budget.ts';
import { graphqlAuth } from '../security/graphql-auth.ts';
import type { Principal } from '../security/scopes.ts';
import { formatErrors } from './errors.ts';
import { registerGraphiql } from './graphiql-page.ts';
import { checkCost, checkDocumentShape, MAX_COST, MAX_DEPTH, MAX_TOKENS } from './limits.ts';
import { buildLoaders } from './loaders.ts';
import { guardGraphqlRequest } from './request-guard.ts';
import { buildResolvers } from './resolvers.ts';
import { buildGraphqlSchema } from './schema.ts';
import { SOCKET_SLOTS, SubscriptionSlots } from './subscription-limits.ts';
import { SECURITY_PLUGIN } from '../security/plugin.ts';
import { GRAPHQL_CACHE_PLUGIN } from './response-cache.ts';

/** GraphQL operations over HTTP one client (key or IP) executes at once, and may have waiting for their turn. */
const CONCURRENT_PER_CLIENT = 2;
const WAITING_PER_CLIENT = 50;
/** How long the refusal of a client that should still be waiting is held, and how many of its requests at once. */
const TARPIT_MS = 1000;
const TARPIT_HELD = 20;
/** WebSocket keep-alive, so idle subscriptions survive proxies. */
const KEEP_ALIVE_MS = 15_000;

export interface GraphqlOptions {
  services: Services;
  subscriptionLimits: Config['subscriptionLimits'];
  /** Cost points per minute per client (src/security/cost-budget.ts); 0 disables the budget. */
  costPerMinute: number;
}

const graphql: FastifyPluginAsync<GraphqlOptions> = async (app, { services, subscriptionLimits, costPerMinute }) => {
  // GraphQL documents itself (introspection, GraphiQL): keep its routes out of the REST OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.graphqlCache.serve(app);
  const auth = graphqlAuth(app.security);
  const slots = new SubscriptionSlots(subscriptionLimits.perSocket, subscriptionLimits.perKey);
  // A client's burst is one query at the cost limit (or many small ones); it refills at costPerMinute.
  const budget = new CostBudget(costPerMinute, MAX_COST);
  const gate = new ClientGate(CONCURRENT_PER_CLIENT, WAITING_PER_CLIENT);
  // A client told to come back later (cost budget spent) is refused before its body is read — and, like nginx's
  // limit_req, slowly: its refusal waits until its Retry-After (at most TARPIT_MS), so a client that retries at once
  // on a few connections is answered a few times a second, not thousands (TARPIT_HELD at a time; beyond: at once).
  const held = new Map<string, number>();
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url !== '/graphql' || req.headers.upgrade?.toLowerCase() === 'websocket') return;
    const client = clientKey(req.principal, req.ip);
    try {
      budget.check(client);
    } catch (err) {
      const details = (err as AppError).details;
      const n = held.get(client) ?? 0;
      if (n < TARPIT_HELD) {
        held.set(client, n + 1);
        await new Promise((r) => setTimeout(r, Math.min(TARPIT_MS, Number(details?.retryAfterSeconds ?? 1) * 1000)));
        const left = (held.get(client) ?? 1) - 1;
        if (left > 0) held.set(client, left);
        else held.delete(client);
      }
      reply
        .header('retry-after', details?.retryAfterSeconds)
        .header('x-cost-limit', budget.capacity)
        .header('x-cost-remaining', details?.remaining ?? 0);
      throw err;
    }
  });
  // Malformed GraphQL-over-HTTP requests become 4xx GraphQL errors here, before mercurius handles them; refusals
  // for size or shape cost the client REFUSAL_COST points.
  app.addHook('preValidation', async (req, reply) => {
    try {
      await guardGraphqlRequest(req, reply);
    } catch (err) {
      budget.penalize(clientKey(req.principal, req.ip));
      throw err;
    }
  });
  await app.register(mercurius, {
    schema: buildGraphqlSchema(), // schema.graphql + the registries' enums and typed job params, enums bound to REST strings
    resolvers: buildResolvers(services, slots) as never,
    loaders: buildLoaders(services),
    graphiql: false, // mercurius's page loads its assets from unpkg: registerGraphiql serves them from the packages
    queryDepth: MAX_DEPTH,
    errorFormatter: formatErrors,
    graphql: { parseOptions: { maxTokens: MAX_TOKENS } },
    subscription: {
      keepAlive: KEEP_ALIVE_MS,
      // An object answer is merged into the connection's context, which every operation's context copies.
      onConnect: async (data: { payload?: Record<string, unknown> }) => ((await auth.onConnect(data)) ? { [SOCKET_SLOTS]: { open: 0 } } : false),
    },
  });
  registerGraphiql(app);
  app.graphql.addHook('preExecution', async (schema, document, context, variables) => {
    await auth.preExecution(schema, document, context);
    const ctx = context as typeof context & { principal?: Principal | null; request?: { ip?: string } };
    const reply = ctx.reply as FastifyReply | undefined;
    const client = clientKey(ctx.principal, reply?.request.ip ?? ctx.request?.ip);
    let cost: number;
    try {
      cost = checkCost(schema, document, variables);
    } catch (err) {
      if ((err as AppError).code === 'RESOURCE_LIMIT') budget.penalize(client);
      throw err;
    }
    if (budget.enabled) {
      reply?.header('x-query-cost', cost).header('x-cost-limit', budget.capacity);
      try {
        reply?.header('x-cost-remaining', budget.charge(client, cost).remaining);
      } catch (err) {
        const details = (err as AppError).details;
        reply?.header('x-cost-remaining', details?.remaining ?? 0);
        if (details?.retryAfterSeconds !== undefined) reply?.header('retry-after', details.retryAfterSeconds);
        throw err;
      }
    }
    if (reply && budget.enabled) {
      // Its turn among the client's operations over HTTP: at most CONCURRENT_PER_CLIENT execute at once (off with the budget).
      let turn: ReturnType<ClientGate['enter']>;
      try {
        turn = gate.enter(client);
      } catch (err) {
        reply.header('retry-after', 1);
        throw err;
      }
      reply.raw.once('close', turn.release);
      await turn.ready;
    }
  });
  app.graphql.addHook('preSubscriptionExecution', async (schema, document, context) => {
    try {
      checkDocumentShape(document);
    } catch (err) {
      // Subscription errors skip the errorFormatter: carry the code the way mercurius passes it on.
      throw Object.assign(err as Error, { extensions: { code: 'RESOURCE_LIMIT', status: 422 } });
    }
    await auth.preSubscriptionExecution(schema, document, context);
  });
};

export const graphqlPlugin = fp(graphql, {
  name: 'modelpress-graphql',
  fastify: '5.x',
  dependencies: [SECURITY_PLUGIN, GRAPHQL_CACHE_PLUGIN],
  encapsulate: true,
});

// The GraphQL API: POST/GET /graphql (mercurius), GraphiQL at /graphiql (src/graphql/graphiql-page.ts: assets from
// the packages, no CDN), subscriptions over WebSocket on /graphql (graphql-transport-ws and the legacy graphql-ws
// protocol). Register with { services, subscriptionLimits }
// after the REST routes: it reads and acts only through the domain services REST uses (no runtime, no database).
// A named plugin that stays encapsulated (its hooks and mercurius' decorators do not leak) and needs the security
// plugin (API keys for queries and WebSockets) and the response cache plugin.
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import mercurius from 'mercurius';
import type { Config } from '../config.ts';
import type { Services } from '../runtime.ts';
import { graphqlAuth } from '../security/graphql-auth.ts';
import { formatErrors } from './errors.ts';
import { registerGraphiql } from './graphiql-page.ts';
import { checkCost, checkDocumentShape, MAX_DEPTH, MAX_TOKENS } from './limits.ts';
import { buildLoaders } from './loaders.ts';
import { guardGraphqlRequest } from './request-guard.ts';
import { buildResolvers } from './resolvers.ts';
import { buildGraphqlSchema } from './schema.ts';
import { SOCKET_SLOTS, SubscriptionSlots } from './subscription-limits.ts';
import { SECURITY_PLUGIN } from '../security/plugin.ts';
import { GRAPHQL_CACHE_PLUGIN } from './response-cache.ts';

/** WebSocket keep-alive, so idle subscriptions survive proxies. */
const KEEP_ALIVE_MS = 15_000;

export interface GraphqlOptions {
  services: Services;
  subscriptionLimits: Config['subscriptionLimits'];
}

const graphql: FastifyPluginAsync<GraphqlOptions> = async (app, { services, subscriptionLimits }) => {
  // GraphQL documents itself (introspection, GraphiQL): keep its routes out of the REST OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.graphqlCache.serve(app);
  const auth = graphqlAuth(app.security);
  const slots = new SubscriptionSlots(subscriptionLimits.perSocket, subscriptionLimits.perKey);
  // Malformed GraphQL-over-HTTP requests become 4xx GraphQL errors here, before mercurius handles them.
  app.addHook('preValidation', guardGraphqlRequest);
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
    checkCost(schema, document, variables);
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

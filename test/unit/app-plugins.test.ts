// The app's fastify plugins declare what they need: registering one without its dependencies fails at start
// with fastify-plugin's message, instead of a runtime TypeError on an undefined decorator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { graphqlPlugin } from '../../src/graphql/plugin.ts';
import { graphqlCachePlugin } from '../../src/graphql/response-cache.ts';
import { metricsPlugin } from '../../src/observability/metrics.ts';
import type { Services } from '../../src/runtime.ts';

describe('app plugins', () => {
  it('graphql needs the security and GraphQL cache plugins', async () => {
    const app = Fastify();
    await assert.rejects(
      async () => app.register(graphqlPlugin, { services: {} as Services, subscriptionLimits: { perSocket: 1, perKey: 1 }, costPerMinute: 0 }),
      /dependency 'modelpress-security' of plugin 'modelpress-graphql'/,
    );
    await app.close();
  });

  it('metrics needs the security plugin', async () => {
    const app = Fastify();
    await assert.rejects(async () => app.register(metricsPlugin, { exposure: 'on', db: {} as never, sql: {} as never }), /'modelpress-security'/);
    await app.close();
  });

  it('the GraphQL cache serves repeated queries until a job event or a write ends', async () => {
    let emitJobEvent = () => {};
    const app = Fastify();
    await app.register(graphqlCachePlugin, {
      ttlMs: 60_000,
      jobEvents: {
        subscribe: (fn) => {
          emitJobEvent = () => fn({ jobId: 'j', eventId: '1' } as never);
          return () => {};
        },
      },
    });
    let executions = 0;
    // A stand-in for mercurius' route, on its own context like the GraphQL plugin's.
    await app.register(async (gql) => {
      app.graphqlCache.serve(gql);
      gql.post('/graphql', async () => ({ data: { n: ++executions } }));
    });
    app.get('/v1/thing', async () => 'read');
    app.post('/v1/thing', async () => 'written');
    const query = async () => {
      const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ n }' } });
      return `${res.headers['x-cache'] as string} ${res.json<{ data: { n: number } }>().data.n}`;
    };
    assert.equal(await query(), 'miss 1');
    assert.equal(await query(), 'hit 1', 'a repeated query (even a POST) is a hit and invalidates nothing');
    await app.inject({ method: 'GET', url: '/v1/thing' });
    assert.equal(await query(), 'hit 1', 'a read invalidates nothing');
    await app.inject({ method: 'POST', url: '/v1/thing' });
    assert.equal(await query(), 'miss 2', 'a REST write invalidates');
    emitJobEvent();
    assert.equal(await query(), 'miss 3', 'a job event invalidates');
    const mutation = await app.inject({ method: 'POST', url: '/graphql', payload: { query: 'mutation { n }' } });
    assert.equal(mutation.headers['x-cache'], undefined, 'mutations are not cached');
    assert.equal(await query(), 'miss 5', 'a mutation invalidates');
    await app.close();
  });
});

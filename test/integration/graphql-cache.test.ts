import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { eventually } from '../helpers/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createRuntime } from '../../src/runtime.ts';

await forEachTarget('GraphQL response cache', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_GRAPHQL_CACHE_MS: '60000' });
  });
  after(async () => ctx?.close());
  const models = { query: '{ models(first: 10) { items { name } } }' };

  test('a repeated query is served from the cache; a REST upload invalidates it', async () => {
    const first = await ctx.http.post('/graphql').send(models).expect(200);
    assert.equal(first.headers['x-cache'], 'miss');
    const second = await ctx.http.post('/graphql').send(models).expect(200);
    assert.equal(second.headers['x-cache'], 'hit');
    assert.deepEqual(second.body, first.body);

    const files = await tinyModelFiles();
    await ctx.http
      .post('/v1/models')
      .field('name', 'fresh')
      .attach('files', files.modelJson, 'model.json')
      .attach('files', files.shards[0].data, files.shards[0].name)
      .expect(201);
    const third = await ctx.http.post('/graphql').send(models).expect(200);
    assert.equal(third.headers['x-cache'], 'miss');
    assert.deepEqual(
      third.body.data.models.items.map((m: { name: string }) => m.name),
      ['fresh'],
    );
  });

  test('mutations are never cached and invalidate; different variables are different entries', async () => {
    const q = { query: 'query($n: Int) { models(first: $n) { items { name } } }', variables: { n: 1 } };
    await ctx.http.post('/graphql').send(q).expect(200);
    assert.equal((await ctx.http.post('/graphql').send(q)).headers['x-cache'], 'hit');
    assert.equal((await ctx.http.post('/graphql').send({ ...q, variables: { n: 2 } })).headers['x-cache'], 'miss');
    const mutation = await ctx.http.post('/graphql').send({ query: 'mutation { cancelJob(id: "00000000-0000-4000-8000-000000000000") { id } }' });
    assert.equal(mutation.headers['x-cache'], undefined);
    assert.equal((await ctx.http.post('/graphql').send(q)).headers['x-cache'], 'miss');
  });

  test('a write through another app instance (own runtime and connections, as another process) invalidates this cache', async () => {
    const jobs = { query: '{ jobs(first: 10) { items { id } } }' };
    await ctx.http.post('/graphql').send(jobs).expect(200);
    assert.equal((await ctx.http.post('/graphql').send(jobs)).headers['x-cache'], 'hit');
    const otherRuntime = await createRuntime(loadConfig(ctx.env));
    const other = await buildApp(otherRuntime, { logger: false });
    try {
      const created = await other.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'noop', params: {} } });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json<{ id: string }>().id;
      // The job's events reach this instance over the database's notifications: no local write bumps the cache.
      await eventually(async () => {
        const res = await ctx.http.post('/graphql').send(jobs).expect(200);
        assert.equal(res.headers['x-cache'], 'miss');
        assert.deepEqual(
          res.body.data.jobs.items.map((j: { id: string }) => j.id),
          [id],
        );
      });
    } finally {
      await other.close();
      await otherRuntime.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';

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
});

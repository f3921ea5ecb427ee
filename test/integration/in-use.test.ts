// Deleting a model or dataset that a queued or running job uses is refused (409 IN_USE, REST and GraphQL) and the
// job runs to its end undisturbed; once the job has finished the delete goes through. The running job is a
// test-only `hold` job (test/helpers/hold-kind.ts) that stays running until the test releases it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newHoldGate, releaseHold } from '../helpers/hold-kind.ts';

// After the hold kind is registered: the app's modules derive their job-type enums at import.
const { forEachTarget, startTestApp } = await import('../helpers/harness.ts');
const { finished, waitForJob } = await import('../helpers/jobs.ts');
const { tinyModelFiles } = await import('../helpers/fixtures.ts');
const { gql } = await import('../helpers/graphql.ts');
const { idxImages, idxLabels } = await import('../fixtures/datasets/idx.ts');
type TestContext = Awaited<ReturnType<typeof startTestApp>>;

await forEachTarget('deleting inputs of active jobs', (target) => {
  let ctx: TestContext;
  const gate = newHoldGate();
  before(async () => {
    ctx = await startTestApp(target, {}, { worker: { concurrency: 1 } });
  });
  after(async () => ctx?.close());

  test('a model or dataset a running job uses: 409 IN_USE until the job ends, then deleted', async () => {
    const m = await tinyModelFiles(4);
    const model = await ctx.http
      .post('/v1/models')
      .attach('files', m.modelJson, 'model.json')
      .attach('files', m.shards[0].data, m.shards[0].name)
      .expect(201);
    const dataset = await ctx.http
      .post('/v1/datasets')
      .attach('files', idxImages(2, 2, 2, [0, 1, 2, 3, 4, 5, 6, 7]), 'train-images-idx3-ubyte')
      .attach('files', idxLabels([0, 1]), 'train-labels-idx1-ubyte')
      .expect(201);
    const modelId = model.body.id as string;
    const datasetId = dataset.body.id as string;
    const job = (await ctx.http.post('/v1/jobs').send({ type: 'hold', modelId, datasetId, params: { gate } }).expect(201)).body;
    await waitForJob(ctx, job.id, (j) => j.status === 'running');

    const refused = await ctx.http.delete(`/v1/models/${modelId}`).expect(409);
    assert.equal(refused.body.code, 'IN_USE');
    assert.deepEqual(refused.body.details.jobIds, [job.id]);
    assert.equal((await ctx.http.delete(`/v1/datasets/${datasetId}`).expect(409)).body.code, 'IN_USE');
    const viaGraphql = await gql(ctx)(`mutation ($id: ID!) { deleteModel(id: $id) }`, { id: modelId });
    assert.equal(viaGraphql.body.errors?.[0]?.extensions?.code, 'IN_USE', JSON.stringify(viaGraphql.body));
    await ctx.http.get(`/v1/models/${modelId}/files/model.json`).expect(200); // files untouched

    releaseHold(gate, job.id);
    assert.equal((await waitForJob(ctx, job.id, finished)).status, 'succeeded');
    await ctx.http.delete(`/v1/models/${modelId}`).expect(204);
    await ctx.http.delete(`/v1/datasets/${datasetId}`).expect(204);
  });
});

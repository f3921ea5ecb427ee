// The evaluate split rule (issue 16): a dataset without a test split is refused at creation (400 naming
// params.split, REST and GraphQL; also inside a pipeline) unless split "train" or "validation" is asked for, and
// every report names the split it scored. Tiny CSV data (no test file) and a tiny uploaded MLP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { modelToFiles } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { gql } from '../helpers/graphql.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, waitForJob } from '../helpers/jobs.ts';

/** 60 rows, 4 features, 3 classes; no test file, so the dataset has only a train split. */
function csv(): string {
  const rows = ['f0,f1,f2,f3,label'];
  for (let i = 0; i < 60; i++) rows.push(`${i % 7},${(i * 3) % 5},${i % 3},${(i * 7) % 11},c${i % 3}`);
  return rows.join('\n');
}

await forEachTarget('evaluate split rule', (target) => {
  let ctx: TestContext;
  let datasetId: string;
  let modelId: string;

  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'wasm', MODELPRESS_QUEUE_POLL_SECONDS: '1' }, { worker: { concurrency: 1 } });
    datasetId = (await ctx.http.post('/v1/datasets').field('name', 'no-test-split').attach('files', Buffer.from(csv()), 'rows.csv').expect(201)).body
      .id;
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    let req = ctx.http.post('/v1/models').field('name', 'tiny');
    for (const f of await modelToFiles(model)) req = req.attach('files', f.data, f.path);
    modelId = (await req.expect(201)).body.id;
    model.dispose();
  });
  after(async () => ctx?.close());

  test('no test split and no explicit split: 400 at creation naming params.split, no job created (REST, GraphQL, pipeline step)', async () => {
    const jobsBefore = (await ctx.http.get('/v1/jobs').expect(200)).body.items.length;
    const res = await ctx.http.post('/v1/jobs').send({ type: 'evaluate', modelId, datasetId }).expect(400);
    assert.equal(res.body.code, 'INVALID_JOB_PARAMS');
    assert.equal(res.body.details.field, 'params.split');
    assert.match(res.body.detail, /no test split/);
    const explicitTest = await ctx.http
      .post('/v1/jobs')
      .send({ type: 'evaluate', modelId, datasetId, params: { split: 'test' } })
      .expect(400);
    assert.equal(explicitTest.body.details.field, 'params.split');
    const step = await ctx.http
      .post('/v1/jobs')
      .send({ type: 'pipeline', modelId, datasetId, params: { steps: [{ type: 'evaluate' }] } })
      .expect(400);
    assert.equal(step.body.details.field, 'params.steps[0].params.split');
    const g = await gql(ctx)('mutation($i: CreateJobInput!) { createJob(input: $i) { id } }', { i: { type: 'EVALUATE', modelId, datasetId } });
    assert.equal(g.body.errors?.[0]?.extensions?.code, 'INVALID_JOB_PARAMS', JSON.stringify(g.body));
    assert.equal((await ctx.http.get('/v1/jobs').expect(200)).body.items.length, jobsBefore);
  });

  test('split "train" and "validation" run and name their split next to the accuracy', async () => {
    for (const [split, examples] of [
      ['train', 60],
      ['validation', 6],
    ] as const) {
      const created = (await ctx.http.post('/v1/jobs').send({ type: 'evaluate', modelId, datasetId, params: { split } }).expect(201)).body;
      const job = await waitForJob(ctx, created.id, finished, 60_000);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const r = job.report as Record<string, unknown>;
      assert.equal(r.split, split);
      assert.equal(r.examples, examples, 'validation is the seeded 10% hold-out of the train split');
    }
  });
});

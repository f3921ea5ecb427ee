// A job kind added by the tests only (test/helpers/test-kind.ts: `scale`), through the registry. It must reach
// every list derived from the registry — the REST `type` enum and OpenAPI, the GraphQL JobType enum, the resource
// guards (its declared epoch param), the pipeline's step types — and its jobs must run end to end: created over
// REST, run by the worker, read back over REST and GraphQL. The kind is registered before the app's modules load
// (they derive their enums at import), hence the dynamic imports below.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { scaleKind } from '../helpers/test-kind.ts';
import { registerJobKind } from '../../src/jobs/registry.ts';

const { forEachTarget, startTestApp } = await import('../helpers/harness.ts');
const { finished, waitForJob } = await import('../helpers/jobs.ts');
const { tinyModelFiles } = await import('../helpers/fixtures.ts');
const { gql } = await import('../helpers/graphql.ts');
type TestContext = Awaited<ReturnType<typeof startTestApp>>;

test('the registry refuses duplicates, names that are not lowerCamel, and registrations once the list has been read', () => {
  assert.throws(() => registerJobKind(scaleKind), /already registered/);
  assert.throws(() => registerJobKind({ ...scaleKind, type: 'scale-2' }), /not lowerCamel/);
  assert.throws(() => registerJobKind({ ...scaleKind, type: 'late' }), /after the kind list was read/);
});

await forEachTarget('a job kind registered by a test', (target) => {
  let ctx: TestContext;
  let modelId: string;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'cpu', MODELPRESS_JOB_MAX_EPOCHS: '50' }, { worker: { concurrency: 1 } });
    const files = await tinyModelFiles(4);
    let up = ctx.http.post('/v1/models').field('name', 'tiny');
    for (const p of [{ name: 'model.json', data: files.modelJson }, ...files.shards]) up = up.attach('files', p.data, p.name);
    modelId = (await up.expect(201)).body.id;
  });
  after(async () => ctx?.close());

  test('created over REST, run by the worker, read back over REST and GraphQL', async () => {
    const created = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'scale', modelId, params: { rounds: 3 } })
        .expect(201)
    ).body;
    assert.equal(created.type, 'scale');
    assert.deepEqual(created.params, { factor: 2, rounds: 3 }, 'defaults applied from the kind schema');
    const done = await waitForJob(ctx, created.id, finished);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.deepEqual(done.report, { factor: 2, rounds: 3, weights: 4 });
    assert.equal(done.progress.fraction, 1);
    const [resultId] = done.resultModelIds as string[];
    const result = (await ctx.http.get(`/v1/models/${resultId}`).expect(200)).body;
    assert.equal(result.producedByJobId, created.id);
    assert.equal(result.parentModelId, modelId);
    const metrics = (await ctx.http.get(`/v1/jobs/${created.id}/metrics?name=factor`).expect(200)).body;
    assert.deepEqual(
      metrics.items.map((m: { value: number }) => m.value),
      [2, 4, 8],
    );
    const logs = (await ctx.http.get(`/v1/jobs/${created.id}/logs`).expect(200)).body;
    assert.ok(
      logs.items.some((l: { message: string }) => l.message === 'scaled 4 weights by 2^3'),
      JSON.stringify(logs.items),
    );
    const listed = (await ctx.http.get('/v1/jobs?type=scale').expect(200)).body;
    assert.deepEqual(
      listed.items.map((j: { id: string }) => j.id),
      [created.id],
    );

    const { body } = await gql(ctx)(`query ($id: ID!) { job(id: $id) { type status resultModelIds } jobs(type: SCALE) { items { id } } }`, {
      id: created.id,
    });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data.job, { type: 'SCALE', status: 'SUCCEEDED', resultModelIds: [resultId] });
    assert.deepEqual(body.data.jobs.items, [{ id: created.id }]);
  });

  test('created over GraphQL; its params validated against the kind schema, the failing field named', async () => {
    const q = gql(ctx);
    const { body } = await q(`mutation ($m: ID) { createJob(input: { type: SCALE, modelId: $m, params: { factor: 0.5 } }) { id type params } }`, {
      m: modelId,
    });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data.createJob.params, { factor: 0.5, rounds: 1 });
    assert.equal((await waitForJob(ctx, body.data.createJob.id, finished)).status, 'succeeded');

    const bad = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'scale', modelId, params: { rounds: 0 } })
        .expect(400)
    ).body;
    assert.equal(bad.code, 'INVALID_JOB_PARAMS');
    assert.equal(bad.details?.field, 'params.rounds');
    const missing = (await ctx.http.post('/v1/jobs').send({ type: 'scale' }).expect(400)).body;
    assert.equal(missing.details?.field, 'modelId');
  });

  test('the resource guards read its declared epoch param, also inside a pipeline', async () => {
    const over = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'scale', modelId, params: { rounds: 51 } })
        .expect(422)
    ).body;
    assert.equal(over.code, 'RESOURCE_LIMIT');
    assert.equal(over.details?.field, 'params.rounds');
    const datasetId = (
      await ctx.http.post('/v1/datasets').field('name', 'd').attach('files', Buffer.from('x,label\n1,a\n2,b\n'), 'd.csv').expect(201)
    ).body.id;
    const pipeline = { type: 'pipeline', modelId, datasetId, params: { steps: [{ type: 'scale', params: { rounds: 51 } }] } };
    const inPipeline = (await ctx.http.post('/v1/jobs').send(pipeline).expect(422)).body;
    assert.equal(inPipeline.details?.field, 'params.steps[0].params.rounds');
  });

  test('a pipeline step: the previous step output is its input model', async () => {
    const datasetId = (await ctx.http.get('/v1/datasets').expect(200)).body.items[0].id;
    const steps = [{ type: 'scale' }, { type: 'scale', params: { factor: 3 } }];
    const job = (await ctx.http.post('/v1/jobs').send({ type: 'pipeline', modelId, datasetId, params: { steps } }).expect(201)).body;
    assert.deepEqual(job.params.steps[0], { type: 'scale', params: { factor: 2, rounds: 1 } });
    const done = await waitForJob(ctx, job.id, finished);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const report = done.report as { steps: { inputModelId: string; modelId: string }[] };
    assert.equal(report.steps[0].inputModelId, modelId);
    assert.equal(report.steps[1].inputModelId, report.steps[0].modelId);
    assert.deepEqual(done.resultModelIds, [report.steps[0].modelId, report.steps[1].modelId]);
  });

  test('in the OpenAPI document and the GraphQL schema', async () => {
    const doc = (await ctx.http.get('/openapi.json').expect(200)).body;
    assert.ok(doc.components.schemas.Job.properties.type.enum.includes('scale'), JSON.stringify(doc.components.schemas.Job.properties.type));
    const { body } = await gql(ctx)(`{ __type(name: "JobType") { enumValues { name } } }`);
    assert.deepEqual(
      body.data.__type.enumValues.map((v: { name: string }) => v.name),
      ['TRAIN', 'EVALUATE', 'PRUNE', 'DISTILL', 'QUANTIZE', 'PIPELINE', 'NOOP', 'CLUSTER', 'SENSITIVITY', 'AUTOCOMPRESS', 'SCALE'],
    );
  });
});

// GraphQL API over real HTTP: node lookups, lineage, filters, pagination, metrics, mutations with the same error
// codes as REST, limits, and the SQL-count bound of the dashboard query (batched loaders).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { gql, countSql, seedJobs, type Gql } from '../helpers/graphql.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';

const DASHBOARD = `query Dashboard($first: Int!) {
  jobs(first: $first) {
    items { id type status progress { fraction } createdAt model { id name } dataset { id name } latestMetrics { name step value } }
    nextCursor
  }
}`;

/** A compression report in the shape prune/distill/quantize jobs write (src/jobs/kinds/compression-report.ts). */
const latency = { batch1: { p50: 0.1, p95: 0.2 }, batch256: { p50: 3, p95: 4 } };
const REPORT = {
  before: { accuracy: 0.97, split: 'test', params: 1000, nonzeroParams: 1000, sizeBytes: 4000, gzipBytes: 3700, latencyMs: latency },
  after: { accuracy: null, split: null, params: 1000, nonzeroParams: 250, sizeBytes: 1000, gzipBytes: 600, latencyMs: latency },
  layers: [{ name: 'dense_1', params: 1000, nonzeroParams: 250, sparsity: 0.75 }],
};

await forEachTarget('GraphQL API', (target) => {
  let ctx: TestContext;
  let q: Gql;
  let modelA: string;
  let datasetId: string;
  let jobIds: string[];
  before(async () => {
    ctx = await startTestApp(target);
    q = gql(ctx);
    const files = await tinyModelFiles();
    const upload = ctx.http.post('/v1/models').field('name', 'base').attach('files', files.modelJson, 'model.json');
    modelA = (await upload.attach('files', files.shards[0].data, files.shards[0].name).expect(201)).body.id;
    const csv = Buffer.from('a,b,species\n1,2,cat\n3,4,dog\n5,6,cat\n7,8.5,bird\n');
    datasetId = (
      await ctx.http.post('/v1/datasets').field('name', 'pets').field('labelColumn', 'species').attach('files', csv, 'pets.csv').expect(201)
    ).body.id;
    jobIds = await seedJobs(ctx.runtime, { count: 60, modelId: modelA, datasetId, metricSteps: 20 });
  });
  after(async () => ctx?.close());

  test('node lookups return the same data as REST', async () => {
    const r = await q(
      `query($m: ID!, $d: ID!, $j: ID!) {
      model(id: $m) { id name params sizeBytes inputShape outputShape layers { className params } files { path sha256 } archiveUrl createdAt }
      dataset(id: $d) { id name format examples classNames trainExamples files { path role } }
      job(id: $j) { id type status params resultModelIds progress { fraction step } error { code } attempts createdAt }
    }`,
      { m: modelA, d: datasetId, j: jobIds[0] },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined);
    const rest = (await ctx.http.get(`/v1/models/${modelA}`).expect(200)).body;
    const m = r.body.data.model;
    assert.deepEqual(
      { ...m, archiveUrl: undefined },
      {
        id: rest.id,
        name: rest.name,
        params: rest.params,
        sizeBytes: rest.sizeBytes,
        inputShape: rest.inputShape,
        outputShape: rest.outputShape,
        layers: rest.layers.map((l: { className: string; params: number }) => ({ className: l.className, params: l.params })),
        files: rest.files.map((f: { path: string; sha256: string }) => ({ path: f.path, sha256: f.sha256 })),
        archiveUrl: undefined,
        createdAt: rest.createdAt,
      },
    );
    assert.equal(m.archiveUrl, `/v1/models/${modelA}/archive`);
    assert.equal(r.body.data.dataset.classNames.length, 3);
    assert.ok(r.body.data.dataset.files.some((f: { role: string }) => f.role === 'train-x'));
    const restJob = (await ctx.http.get(`/v1/jobs/${jobIds[0]}`).expect(200)).body;
    assert.deepEqual(r.body.data.job.params, restJob.params);
    assert.equal(r.body.data.job.status, restJob.status.toUpperCase()); // UPPER_CASE in GraphQL, lower case in REST
  });

  test('a missing node is NOT_FOUND, the REST code', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const r = await q(`query($id: ID!) { job(id: $id) { id } }`, { id });
    assert.equal(r.status, 404);
    assert.equal(r.body.errors[0].extensions.code, 'NOT_FOUND');
    const rest = await ctx.http.get(`/v1/jobs/${id}`).expect(404);
    assert.equal(rest.body.code, r.body.errors[0].extensions.code);
  });

  test('jobs: cursor pagination walks every job once, newest first, like REST', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const r = await q(`query($after: String) { jobs(first: 25, after: $after) { items { id } nextCursor } }`, { after });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      seen.push(...r.body.data.jobs.items.map((j: { id: string }) => j.id));
      after = r.body.data.jobs.nextCursor;
    } while (after);
    const rest = (await ctx.http.get('/v1/jobs?limit=200').expect(200)).body.items.map((j: { id: string }) => j.id);
    assert.deepEqual(seen, rest);
    assert.equal(new Set(seen).size, jobIds.length);
  });

  test('jobs filters: status, type, model, dataset, created range', async () => {
    const canceled = jobIds.slice(0, 3);
    for (const id of canceled) await ctx.runtime.services.jobs.cancel(ALL_PROJECTS, id);
    const byStatus = await q(`{ jobs(status: CANCELED) { items { id status } } }`);
    assert.deepEqual(byStatus.body.data.jobs.items.map((j: { id: string }) => j.id).sort(), [...canceled].sort());
    const withModel = await q(`query($m: ID!) { jobs(modelId: $m, first: 200) { items { modelId } } }`, { m: modelA });
    assert.equal(withModel.body.data.jobs.items.length, jobIds.length / 2);
    assert.ok(withModel.body.data.jobs.items.every((j: { modelId: string }) => j.modelId === modelA));
    const withDataset = await q(`query($d: ID!) { jobs(datasetId: $d, first: 200) { items { datasetId } } }`, { d: datasetId });
    assert.equal(withDataset.body.data.jobs.items.length, jobIds.length / 3);
    const none = await q(`{ jobs(type: TRAIN) { items { id } nextCursor } }`);
    assert.deepEqual(none.body.data.jobs, { items: [], nextCursor: null });

    // created range: jobs[10] (inclusive) … jobs[20] (exclusive), paged by 4
    const all = (await ctx.http.get('/v1/jobs?limit=200').expect(200)).body.items.reverse(); // oldest first = seeding order
    const from = all[10].createdAt;
    const to = all[20].createdAt;
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await q(
        `query($from: DateTime, $to: DateTime, $after: String) { jobs(first: 4, after: $after, createdAfter: $from, createdBefore: $to) { items { id } nextCursor } }`,
        { from, to, after: cursor },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      got.push(...r.body.data.jobs.items.map((j: { id: string }) => j.id));
      cursor = r.body.data.jobs.nextCursor;
    } while (cursor);
    assert.deepEqual(
      got,
      all
        .slice(10, 20)
        .reverse()
        .map((j: { id: string }) => j.id),
    );
  });

  test('models: name and parent filters; lineage producedBy, inputs, results, ancestors', async () => {
    const files = await tinyModelFiles(8);
    const asFiles = [
      { path: 'model.json', data: files.modelJson },
      { path: files.shards[0].name, data: files.shards[0].data },
    ];
    const producer = jobIds[6]; // seeded with both inputs
    const b = await ctx.runtime.services.models.createFromFiles(asFiles, {
      name: 'base-pruned',
      parentModelId: modelA,
      producedByJobId: producer,
      report: REPORT,
    });
    const c = await ctx.runtime.services.models.createFromFiles(asFiles, { name: 'base-pruned-q8', parentModelId: b.id });
    await ctx.runtime.db.job.update({ where: { id: producer }, data: { resultModelIds: [b.id] } });

    const byName = await q(`{ models(name: "base-pruned*") { items { name } } }`);
    assert.deepEqual(
      byName.body.data.models.items.map((m: { name: string }) => m.name),
      ['base-pruned-q8', 'base-pruned'],
    );
    const byParent = await q(`query($p: ID!) { models(parentId: $p) { items { id } } }`, { p: modelA });
    assert.deepEqual(
      byParent.body.data.models.items.map((m: { id: string }) => m.id),
      [b.id],
    );

    const r = await q(
      `query($id: ID!) { model(id: $id) {
      ancestors { id name }
      parent { id producedBy { id inputs { model { id } dataset { id } } results { id report { sparsity compressionRatio before { accuracy split sizeBytes } after { accuracy split params latencyMs } layers { name sparsity } } } } }
    } }`,
      { id: c.id },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const m = r.body.data.model;
    assert.deepEqual(
      m.ancestors.map((x: { id: string }) => x.id),
      [b.id, modelA],
    );
    assert.equal(m.parent.producedBy.id, producer);
    assert.deepEqual(m.parent.producedBy.inputs, { model: { id: modelA }, dataset: { id: datasetId } });
    assert.deepEqual(m.parent.producedBy.results, [
      {
        id: b.id,
        report: {
          sparsity: 0.75,
          compressionRatio: 4,
          before: { accuracy: 0.97, split: 'test', sizeBytes: 4000 },
          after: { accuracy: null, split: null, params: 1000, latencyMs: REPORT.after.latencyMs },
          layers: [{ name: 'dense_1', sparsity: 0.75 }],
        },
      },
    ]);
    const limited = await q(`query($id: ID!) { model(id: $id) { ancestors(max: 1) { id } } }`, { id: c.id });
    assert.deepEqual(limited.body.data.model.ancestors, [{ id: b.id }]);
    const jobsOfModel = await q(`query($id: ID!) { model(id: $id) { jobs(first: 200) { items { id } } } }`, { id: b.id });
    assert.deepEqual(jobsOfModel.body.data.model.jobs.items, [{ id: producer }]);
  });

  test('Job.metrics: series by name from a step, last N; latestMetrics', async () => {
    const r = await q(
      `query($id: ID!) { job(id: $id) {
      all: metrics { name points { step } }
      tail: metrics(names: ["loss"], fromStep: 5, last: 3) { name points { step value epoch time } }
      latestMetrics { name step value }
    } }`,
      { id: jobIds[7] },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const j = r.body.data.job;
    assert.deepEqual(
      j.all.map((s: { name: string }) => s.name),
      ['accuracy', 'loss'],
    );
    assert.deepEqual(
      j.all[1].points.map((p: { step: number }) => p.step),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(j.tail.length, 1);
    assert.deepEqual(
      j.tail[0].points.map((p: { step: number }) => p.step),
      [18, 19, 20],
    );
    assert.equal(j.tail[0].points[2].value, 1 / 20);
    assert.match(j.tail[0].points[0].time, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(j.latestMetrics, [
      { name: 'accuracy', step: 20, value: 20 / 21 },
      { name: 'loss', step: 20, value: 1 / 20 },
    ]);
  });

  test('dashboard query: at most 6 SQL queries whatever the page size', async () => {
    const counts: number[] = [];
    for (const first of [5, 50]) {
      const { result, queries } = await countSql(() => q(DASHBOARD, { first }));
      assert.equal(result.body.errors, undefined, JSON.stringify(result.body.errors));
      const items = result.body.data.jobs.items;
      assert.equal(items.length, first);
      assert.ok(items.some((j: { model: unknown }) => j.model) && items.some((j: { dataset: unknown }) => j.dataset), 'models and datasets resolved');
      assert.ok(
        items.every((j: { latestMetrics: unknown[] }) => j.latestMetrics.length === 2),
        'latest metrics resolved',
      );
      assert.ok(queries.length <= 6, `${queries.length} queries for first=${first}:\n${queries.join('\n')}`);
      counts.push(queries.length);
    }
    assert.equal(counts[0], counts[1]);
  });

  test('createJob: the same validation and error codes as POST /v1/jobs', async () => {
    const cases: { input: Record<string, unknown>; code: string; field?: string }[] = [
      { input: { type: 'noop', params: { steps: -1 } }, code: 'INVALID_JOB_PARAMS', field: 'params.steps' },
      { input: { type: 'noop', params: { bogus: 1 } }, code: 'INVALID_JOB_PARAMS', field: 'params.bogus' },
      { input: { type: 'train', params: {} }, code: 'VALIDATION_FAILED', field: 'datasetId' },
      { input: { type: 'noop', modelId: '00000000-0000-4000-8000-000000000000' }, code: 'NOT_FOUND', field: 'modelId' },
      { input: { type: 'noop', modelId: 'not-a-uuid' }, code: 'VALIDATION_FAILED' },
      { input: { type: 'noop', priority: 5000 }, code: 'VALIDATION_FAILED' },
    ];
    for (const c of cases) {
      const r = await q(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
        input: { ...c.input, type: String(c.input.type).toUpperCase() },
      });
      const rest = await ctx.http.post('/v1/jobs').send(c.input);
      const e = r.body.errors?.[0];
      assert.equal(e?.extensions.code, c.code, `${JSON.stringify(c.input)}: ${JSON.stringify(r.body)}`);
      assert.equal(rest.body.code, c.code, `REST ${JSON.stringify(c.input)}`);
      assert.equal(r.status, rest.status);
      assert.equal(e.extensions.status, rest.status);
      if (c.field) assert.equal(e.extensions.details.field, c.field);
      if (c.field) assert.equal(rest.body.details.field, c.field);
    }
    const unknownType = await q(`mutation { createJob(input: { type: bogus }) { id } }`);
    assert.equal(unknownType.status, 400);
    assert.equal(unknownType.body.errors[0].extensions.code, 'VALIDATION_FAILED');
  });

  test('createJob (idempotent), cancelJob, retryJob, with INVALID_STATE where REST has it', async () => {
    const create = `mutation($input: CreateJobInput!, $key: String) { createJob(input: $input, idempotencyKey: $key) { id status params priority model { id } } }`;
    const input = { type: 'NOOP', params: { steps: 2 }, modelId: modelA, priority: 7 };
    const a = await q(create, { input, key: 'gql-key-1' });
    assert.equal(a.body.errors, undefined, JSON.stringify(a.body.errors));
    const job = a.body.data.createJob;
    assert.deepEqual(
      { ...job, id: undefined },
      { id: undefined, status: 'QUEUED', params: { steps: 2, durationMs: 0 }, priority: 7, model: { id: modelA } },
    );
    const again = await q(create, { input, key: 'gql-key-1' });
    assert.equal(again.body.data.createJob.id, job.id);
    const conflict = await q(create, { input: { ...input, priority: 8 }, key: 'gql-key-1' });
    assert.equal(conflict.body.errors[0].extensions.code, 'IDEMPOTENCY_CONFLICT');

    const cancel = `mutation($id: ID!) { cancelJob(id: $id) { id status error { code } } }`;
    const retry = `mutation($id: ID!) { retryJob(id: $id) { id status attempts } }`;
    const bad = await q(retry, { id: job.id });
    assert.equal(bad.body.errors[0].extensions.code, 'INVALID_STATE');
    assert.equal(bad.status, 409);
    const c = await q(cancel, { id: job.id });
    assert.deepEqual(c.body.data.cancelJob, { id: job.id, status: 'CANCELED', error: { code: 'JOB_CANCELED' } });
    const twice = await q(cancel, { id: job.id });
    assert.equal(twice.body.errors[0].extensions.code, 'INVALID_STATE');
    assert.equal((await ctx.http.post(`/v1/jobs/${job.id}/cancel`).expect(409)).body.code, 'INVALID_STATE');
    const r = await q(retry, { id: job.id });
    assert.equal(r.body.data.retryJob.status, 'QUEUED');
  });

  test('Relay connections: edges { cursor node } and pageInfo walk the same pages as items and nextCursor', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const r = await q(
        `query($after: String) { jobs(first: 25, after: $after) {
          items { id } nextCursor edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
        { after },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      const page = r.body.data.jobs;
      assert.deepEqual(
        page.edges.map((e: { node: { id: string } }) => e.node),
        page.items,
      );
      assert.equal(page.pageInfo.hasNextPage, page.nextCursor !== null);
      assert.equal(page.pageInfo.hasPreviousPage, false);
      assert.equal(page.pageInfo.startCursor, page.edges[0]?.cursor ?? null);
      assert.equal(page.pageInfo.endCursor, page.edges.at(-1)?.cursor ?? null);
      if (page.pageInfo.hasNextPage) assert.equal(page.pageInfo.endCursor, page.nextCursor);
      seen.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      pages++;
    } while (after);
    const rest = (await ctx.http.get('/v1/jobs?limit=200').expect(200)).body.items.map((j: { id: string }) => j.id);
    assert.deepEqual(seen, rest);
    assert.equal(pages, Math.ceil(rest.length / 25));
    // An edge cursor resumes right after its node.
    const first = await q(`{ jobs(first: 3) { edges { cursor node { id } } } }`);
    const edges = first.body.data.jobs.edges;
    const next = await q(`query($a: String) { jobs(first: 1, after: $a) { edges { node { id } } } }`, { a: edges[1].cursor });
    assert.equal(next.body.data.jobs.edges[0].node.id, edges[2].node.id);
    const models = await q(`{ models(first: 1) { edges { node { id } } pageInfo { hasNextPage } } datasets { pageInfo { endCursor } } }`);
    assert.equal(models.body.errors, undefined, JSON.stringify(models.body.errors));
    assert.equal(models.body.data.models.edges.length, 1);
    // Nodes under edges cost what items cost: the page-size multiplier still applies.
    const costly = await q(`{ jobs(first: 200) { edges { node { model { jobs(first: 200) { edges { node { id } } } } } } } }`);
    assert.equal(costly.body.errors[0].extensions.code, 'RESOURCE_LIMIT');
  });

  test('UPPER_CASE enums over the REST strings: arguments, results and the registries', async () => {
    const r = await q(
      `query($m: ID!) { model(id: $m) { sourceFormat } jobs(first: 1, type: NOOP) { items { type status events(types: [STATE]) { type } } } }`,
      { m: modelA },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.equal(r.body.data.model.sourceFormat, 'TFJS_LAYERS');
    const job = r.body.data.jobs.items[0];
    assert.equal(job.type, 'NOOP');
    assert.match(job.status, /^[A-Z]+$/);
    assert.ok(job.events.every((e: { type: string }) => e.type === 'STATE'));
    const lower = await q(`{ jobs(status: queued) { items { id } } }`);
    assert.equal(lower.status, 400);
    const intro = await q(`{ __type(name: "ModelSourceFormat") { enumValues { name description } } }`);
    const values = intro.body.data.__type.enumValues;
    assert.ok(values.some((v: { name: string; description: string }) => v.name === 'KERAS_H5' && v.description.includes('keras-h5')));
  });

  test("createJob with typed params: the kind's input type, enums as REST strings, the same validation as REST", async () => {
    const create = `mutation($input: CreateJobInput!) { createJob(input: $input) { id type params } }`;
    const typed = await q(create, { input: { type: 'NOOP', noop: { steps: 3, durationMs: 0 } } });
    assert.equal(typed.body.errors, undefined, JSON.stringify(typed.body.errors));
    assert.deepEqual(typed.body.data.createJob.params, { steps: 3, durationMs: 0 });
    await ctx.runtime.services.jobs.cancel(ALL_PROJECTS, typed.body.data.createJob.id);
    // Enum params arrive as REST strings (the job's params are stored as REST has them).
    const prune = await q(
      `mutation($m: ID!, $d: ID!) { createJob(input: {
      type: PRUNE, modelId: $m, datasetId: $d, prune: { sparsity: 0.5, method: STRUCTURED, norm: L2, fineTuneEpochs: 0, limit: 4 } }) { id params } }`,
      { m: modelA, d: datasetId },
    );
    assert.equal(prune.body.errors, undefined, JSON.stringify(prune.body.errors));
    const p = prune.body.data.createJob.params;
    assert.deepEqual([p.method, p.norm, p.sparsity, p.scope], ['structured', 'l2', 0.5, 'global']);
    await ctx.runtime.services.jobs.cancel(ALL_PROJECTS, prune.body.data.createJob.id);
    const rest = await ctx.http.get(`/v1/jobs/${prune.body.data.createJob.id}`).expect(200);
    assert.deepEqual(rest.body.params, p);
    // Schema errors as in REST, on the same field; misuse of the typed fields is VALIDATION_FAILED naming it.
    const bad = await q(create, { input: { type: 'NOOP', noop: { steps: -1 } } });
    assert.deepEqual([bad.body.errors[0].extensions.code, bad.body.errors[0].extensions.details.field], ['INVALID_JOB_PARAMS', 'params.steps']);
    const wrongKind = await q(create, { input: { type: 'NOOP', prune: { sparsity: 0.5 } } });
    assert.deepEqual(
      [wrongKind.body.errors[0].extensions.code, wrongKind.body.errors[0].extensions.details.field],
      ['VALIDATION_FAILED', 'input.prune'],
    );
    const both = await q(create, { input: { type: 'NOOP', params: { steps: 1 }, noop: { steps: 1 } } });
    assert.deepEqual([both.body.errors[0].extensions.code, both.body.errors[0].extensions.details.field], ['VALIDATION_FAILED', 'input.noop']);
    const wrongEnum = await q(create, { input: { type: 'PRUNE', prune: { method: 'magnitude' } } });
    assert.equal(wrongEnum.status, 400);
  });

  test('deleteModel and deleteDataset', async () => {
    const files = await tinyModelFiles(4);
    const m = await ctx.runtime.services.models.createFromFiles(
      [
        { path: 'model.json', data: files.modelJson },
        { path: files.shards[0].name, data: files.shards[0].data },
      ],
      { name: 'doomed' },
    );
    const del = await q(`mutation($id: ID!) { deleteModel(id: $id) }`, { id: m.id });
    assert.deepEqual(del.body.data, { deleteModel: m.id });
    await ctx.http.get(`/v1/models/${m.id}`).expect(404);
    const again = await q(`mutation($id: ID!) { deleteModel(id: $id) }`, { id: m.id });
    assert.equal(again.body.errors[0].extensions.code, 'NOT_FOUND');

    const csv = Buffer.from('x,label\n1,a\n2,b\n');
    const d = (await ctx.http.post('/v1/datasets').field('name', 'doomed').attach('files', csv, 'd.csv').expect(201)).body;
    const delD = await q(`mutation($id: ID!) { deleteDataset(id: $id) }`, { id: d.id });
    assert.deepEqual(delD.body.data, { deleteDataset: d.id });
    await ctx.http.get(`/v1/datasets/${d.id}`).expect(404);
  });

  test('limits: page size, query depth and cost; unknown fields', async () => {
    const big = await q(`{ jobs(first: 500) { items { id } } }`);
    assert.equal(big.status, 400);
    assert.equal(big.body.errors[0].extensions.code, 'VALIDATION_FAILED');
    assert.equal(big.body.errors[0].extensions.details.field, 'first');
    const bigVar = await q(`query($n: Int!) { jobs(first: $n) { items { id } } }`, { n: 0 });
    assert.equal(bigVar.body.errors[0].extensions.code, 'VALIDATION_FAILED');

    const deep = await q(
      `{ jobs { items { model { parent { parent { parent { parent { parent { parent { parent { parent { id } } } } } } } } } } } }`,
    );
    assert.equal(deep.status, 422);
    assert.equal(deep.body.errors[0].extensions.code, 'RESOURCE_LIMIT');
    assert.match(deep.body.errors[0].message, /depth/);

    const costly = await q(`{ jobs(first: 200) { items { model { jobs(first: 200) { items { id } } } } } }`);
    assert.equal(costly.status, 422);
    assert.equal(costly.body.errors[0].extensions.code, 'RESOURCE_LIMIT');
    assert.ok(costly.body.errors[0].extensions.details.cost > costly.body.errors[0].extensions.details.limit);

    const unknown = await q(`{ jobs { items { nope } } }`);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.errors[0].extensions.code, 'VALIDATION_FAILED');
    assert.match(unknown.body.errors[0].message, /nope/);
  });

  test('GraphiQL is served at /graphiql; /graphql stays out of the REST OpenAPI document', async () => {
    const page = await ctx.http.get('/graphiql').expect(200);
    assert.match(page.headers['content-type'], /text\/html/);
    // Every script and stylesheet comes from this server (the graphiql/react/react-dom packages), none from a CDN.
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 5, assets.join());
    for (const asset of assets) {
      assert.match(asset, /^\/graphiql\//, `${asset} is served here`);
      const res = await ctx.http.get(asset).expect(200);
      assert.match(res.headers['content-type'], /javascript|css/, asset);
    }
    const spec = (await ctx.http.get('/openapi.json').expect(200)).body;
    assert.equal(
      Object.keys(spec.paths).some((p) => p.includes('graphql')),
      false,
    );
  });
});

// The generated TypeScript SDK (openapi/sdk) against a live server with an in-process worker: upload a model
// and a CSV dataset, prune, wait, download the pruned model. Type-level checks make `tsc` fail if any result
// the client returns is `any`; a drift check fails when openapi/sdk/schema.d.ts is stale (`npm run sdk`).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import yauzl from 'yauzl';
import { createModelpressClient, ModelpressError, type Dataset, type Job, type Model, type ModelpressClient } from '../../openapi/sdk/index.ts';
import { generateSdkTypes } from '../../scripts/generate-sdk.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';

/** Compiles only when T is not `any`: `const ok: NotAny<T> = true`. */
type NotAny<T> = 0 extends 1 & T ? false : true;

/** 784 features + label, 10 classes (the tiny model's input and output), each class lighting its own pixels. */
function csvDataset(rows: number): string {
  const header = [...Array.from({ length: 784 }, (_, i) => `p${i}`), 'label'].join(',');
  const lines = [header];
  for (let r = 0; r < rows; r++) {
    const label = r % 10;
    const pixels = Array.from({ length: 784 }, (_, i) => (Math.floor(i / 78) === label ? ((r * 7 + i) % 5) / 4 : 0));
    lines.push([...pixels, label].join(','));
  }
  return `${lines.join('\n')}\n`;
}

function zipEntryNames(zip: Uint8Array): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(Buffer.from(zip), { lazyEntries: true }, (err, file) => {
      if (err) return reject(err);
      const names: string[] = [];
      file.on('entry', (e: yauzl.Entry) => (names.push(e.fileName), file.readEntry()));
      file.on('end', () => resolve(names));
      file.on('error', reject);
      file.readEntry();
    });
  });
}

test('openapi/sdk/schema.d.ts is what `npm run sdk` generates from openapi/openapi.json', async () => {
  const committed = await fs.readFile(new URL('../../openapi/sdk/schema.d.ts', import.meta.url), 'utf8');
  assert.equal(committed, await generateSdkTypes(), 'run `npm run sdk` and commit openapi/sdk/schema.d.ts');
});

await forEachTarget('generated SDK', (target) => {
  let ctx: TestContext;
  let client: ModelpressClient;

  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'wasm', MODELPRESS_QUEUE_POLL_SECONDS: '1' }, { worker: { concurrency: 1 } });
    client = createModelpressClient(ctx.baseUrl);
  });
  after(async () => ctx?.close());

  test('upload a model and a dataset, prune, wait, download the result', async () => {
    const files = await tinyModelFiles();
    const model = await client.uploadModel({
      name: 'sdk-mlp',
      files: [{ name: 'model.json', data: files.modelJson }, ...files.shards.map((s) => ({ name: s.name, data: s.data }))],
    });
    const modelNotAny: NotAny<typeof model> = true;
    assert.ok(modelNotAny);
    assert.equal(model.name, 'sdk-mlp');
    assert.deepEqual(model.inputShape, [null, 784]);

    const dataset: Dataset = await client.uploadDataset({
      name: 'sdk-csv',
      labelColumn: 'label',
      files: [{ name: 'train.csv', data: csvDataset(200) }],
    });
    assert.equal(dataset.format, 'csv');
    assert.equal(dataset.examples, 200);
    assert.equal(dataset.numClasses, 10);

    const listed = await client.api.GET('/v1/models', { params: { query: { name: 'sdk-*', limit: 10 } } });
    const listNotAny: NotAny<typeof listed.data> = true;
    assert.ok(listNotAny);
    assert.deepEqual(
      listed.data?.items.map((m) => m.id),
      [model.id],
    );

    const created = await client.createJob(
      { type: 'prune', modelId: model.id, datasetId: dataset.id, params: { sparsity: 0.5, fineTuneEpochs: 1, batchSize: 50, limit: 200, seed: 1 } },
      { idempotencyKey: 'sdk-prune-1' },
    );
    assert.equal(created.type, 'prune');
    const done: Job = await client.waitForJob(created.id, { timeoutMs: 120_000, intervalMs: 200 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.resultModelIds.length, 1);

    const pruned: Model = (await client.api.GET('/v1/models/{id}', { params: { path: { id: done.resultModelIds[0] } } })).data!;
    assert.equal(pruned.parentModelId, model.id);
    assert.equal(pruned.producedByJobId, done.id);

    const modelJson = JSON.parse(new TextDecoder().decode(await client.downloadModelFile(pruned.id, 'model.json'))) as {
      weightsManifest: { paths: string[] }[];
    };
    const shardPath = modelJson.weightsManifest[0].paths[0];
    const shard = await client.downloadModelFile(pruned.id, shardPath);
    const weights = new Float32Array(shard.buffer, shard.byteOffset, shard.byteLength / 4);
    const zeros = weights.filter((w) => w === 0).length;
    // The first Dense kernel (784×16) is pruned to 50%; the classifier stays dense by default.
    assert.ok(zeros >= 0.5 * 784 * 16 * 0.95, `${zeros} zero weights of ${weights.length}`);
    assert.deepEqual((await zipEntryNames(await client.downloadModelArchive(pruned.id))).sort(), ['model.json', shardPath].sort());
  });

  test('errors come back as ModelpressError with the problem code', async () => {
    await assert.rejects(
      client.createJob({ type: 'prune', modelId: '00000000-0000-4000-8000-000000000000', datasetId: '00000000-0000-4000-8000-000000000000' }),
      (err: unknown) => err instanceof ModelpressError && err.status === 404 && err.problem?.code === 'NOT_FOUND',
    );
    await assert.rejects(
      client.uploadModel({ files: [{ name: 'model.json', data: '{"nope": true}' }] }),
      (err: unknown) => err instanceof ModelpressError && err.status === 422,
    );
  });
});

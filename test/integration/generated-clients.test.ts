// Two independent third-party generators, used as a consumer of openapi/openapi.json would: the @hey-api/openapi-ts
// fetch client (test/clients/heyapi) and the orval fetch client (test/clients/orval), both committed by
// `npm run clients` and type-checked by `tsc`. Each runs the whole flow against a live server with API keys on:
// upload a model and a CSV, create a prune job, wait, download the archive and a shard as bytes, and read a 401 and a
// 422 as typed problem documents — only generated functions and types, no casts, no hand-made requests.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { ApiKeyService } from '../../src/security/api-keys.ts';
import { createClient } from '../clients/heyapi/client/index.js';
import * as hey from '../clients/heyapi/index.js';
import * as orval from '../clients/orval/modelpress.js';
import { configureOrvalClient } from '../clients/orval-fetch.ts';
import { staleGeneratedFiles } from '../../scripts/generate-clients.ts';
import { tinyModelFiles, type ModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { eventually } from '../helpers/wait.ts';

/** 784 features + label, 10 classes (the tiny model's input and output), each class lighting its own pixels. */
function mnistLikeCsv(rows: number): string {
  const lines = [[...Array.from({ length: 784 }, (_, i) => `p${i}`), 'label'].join(',')];
  for (let r = 0; r < rows; r++) {
    const label = r % 10;
    lines.push([...Array.from({ length: 784 }, (_, i) => (Math.floor(i / 78) === label ? ((r * 7 + i) % 5) / 4 : 0)), label].join(','));
  }
  return `${lines.join('\n')}\n`;
}

const PRUNE = { sparsity: 0.5, fineTuneEpochs: 1, batchSize: 50, limit: 100, seed: 1 };
// The job-create body is a oneOf by `type`: each generator types prune's params (a wrong one does not compile).
// @ts-expect-error sparsity is a number
const heyWrong: NonNullable<hey.CreatePruneJob['params']> = { sparsity: 'half' };
// @ts-expect-error sparsity is a number
const orvalWrong: orval.CreatePruneJobParams = { sparsity: 'half' };
void [heyWrong, orvalWrong];
const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const bytes = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
const modelParts = (f: ModelFiles) => [
  new File([new Uint8Array(f.modelJson)], 'model.json'),
  ...f.shards.map((s) => new File([new Uint8Array(s.data)], s.name)),
];
const csvPart = () => new File([mnistLikeCsv(100)], 'train.csv', { type: 'text/csv' });

/** The pruned shard: half of the first Dense kernel (784×16) is zero. */
function assertPrunedShard(shard: Uint8Array) {
  const weights = new Float32Array(shard.buffer, shard.byteOffset, shard.byteLength / 4);
  const zeros = weights.filter((w) => w === 0).length;
  assert.ok(zeros >= 0.5 * 784 * 16 * 0.95, `${zeros} zero weights of ${weights.length}`);
}

test('test/clients is what `npm run clients` generates from openapi/openapi.json', async () => {
  assert.deepEqual(await staleGeneratedFiles(), [], 'run `npm run clients` and commit test/clients');
});

await forEachTarget('generated clients', (target) => {
  let ctx: TestContext;
  let key: string;
  let files: ModelFiles;

  before(async () => {
    ctx = await startTestApp(
      target,
      { MODELPRESS_BACKEND: 'wasm', MODELPRESS_QUEUE_POLL_SECONDS: '1', MODELPRESS_AUTH: 'on' },
      { worker: { concurrency: 1 } },
    );
    key = (await new ApiKeyService(ctx.runtime.db).create({ name: 'generated-clients', scope: 'write' })).key;
    files = await tinyModelFiles();
  });
  after(async () => ctx?.close());

  test('@hey-api/openapi-ts: upload, prune, wait, download bytes, typed 401 and 422', async () => {
    const client = createClient({ baseUrl: ctx.baseUrl, auth: key });

    const uploaded = await hey.uploadModel({ client, body: { name: 'heyapi-mlp', files: modelParts(files) } });
    assert.ok(uploaded.data, JSON.stringify(uploaded.error));
    const model = uploaded.data;
    assert.equal(uploaded.response.status, 201);
    assert.equal(uploaded.response.headers.get('location'), `/v1/models/${model.id}`);
    const ds = await hey.uploadDataset({ client, body: { name: 'heyapi-csv', labelColumn: 'label', files: [csvPart()] } });
    assert.ok(ds.data, JSON.stringify(ds.error));
    assert.equal(ds.data.numClasses, 10);

    const created = await hey.createJob({ client, body: { type: 'prune', modelId: model.id, datasetId: ds.data.id, params: PRUNE } });
    assert.ok(created.data, JSON.stringify(created.error));
    const jobId = created.data.id;
    const done = await eventually(async () => {
      const { data } = await hey.getJob({ client, path: { id: jobId } });
      assert.ok(data && data.status !== 'queued' && data.status !== 'running', data?.status);
      return data;
    }, 180_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const prunedId = done.resultModelIds[0];
    const pruned = await hey.getModel({ client, path: { id: prunedId } });
    assert.ok(pruned.data);
    const shardFile = pruned.data.files.find((f) => f.path !== 'model.json');
    assert.ok(shardFile);

    const archive = await hey.downloadModelArchive({ client, path: { id: prunedId } });
    assert.ok(archive.data instanceof Blob, typeof archive.data);
    assert.equal(archive.response.headers.get('content-type'), 'application/zip');
    assert.deepEqual([...(await bytes(archive.data)).subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'a zip');
    const shard = await hey.downloadModelFile({ client, path: { id: prunedId, path: shardFile.path } });
    assert.ok(shard.data instanceof Blob, typeof shard.data);
    const shardBytes = await bytes(shard.data);
    assert.equal(sha256(shardBytes), shardFile.sha256);
    assertPrunedShard(shardBytes);

    const anonymous = await hey.listModels({ client: createClient({ baseUrl: ctx.baseUrl }) });
    assert.equal(anonymous.response.status, 401);
    assert.equal(anonymous.error?.code, 'UNAUTHENTICATED');
    const invalid = await hey.uploadModel({ client, body: { files: [new File(['{"nope": true}'], 'model.json')] } });
    assert.equal(invalid.response.status, 422);
    assert.equal(invalid.error?.status, 422);
    assert.match(invalid.error?.code ?? '', /^INVALID_MODEL$/);
  });

  test('orval: upload, prune, wait, download bytes, typed 401 and 422', async () => {
    configureOrvalClient({ baseUrl: ctx.baseUrl, apiKey: key });

    const uploaded = await orval.uploadModel({ name: 'orval-mlp', files: modelParts(files) });
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.data));
    const model = uploaded.data;
    assert.equal(uploaded.headers.get('location'), `/v1/models/${model.id}`);
    const ds = await orval.uploadDataset({ name: 'orval-csv', labelColumn: 'label', files: [csvPart()] });
    assert.equal(ds.status, 201, JSON.stringify(ds.data));
    assert.equal(ds.data.numClasses, 10);

    const created = await orval.createJob({ type: 'prune', modelId: model.id, datasetId: ds.data.id, params: PRUNE });
    assert.equal(created.status, 201, JSON.stringify(created.data));
    const jobId = created.data.id;
    const done = await eventually(async () => {
      const res = await orval.getJob(jobId);
      assert.equal(res.status, 200);
      assert.ok(res.data.status !== 'queued' && res.data.status !== 'running', res.data.status);
      return res.data;
    }, 180_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const prunedId = done.resultModelIds[0];
    const pruned = await orval.getModel(prunedId);
    assert.equal(pruned.status, 200);
    const shardFile = pruned.data.files.find((f) => f.path !== 'model.json');
    assert.ok(shardFile);

    const archive = await orval.downloadModelArchive(prunedId);
    assert.equal(archive.status, 200);
    assert.ok(archive.data instanceof Blob);
    assert.deepEqual([...(await bytes(archive.data)).subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'a zip');
    const shard = await orval.downloadModelFile(prunedId, shardFile.path);
    assert.equal(shard.status, 200);
    const shardBytes = await bytes(shard.data);
    assert.equal(sha256(shardBytes), shardFile.sha256);
    assertPrunedShard(shardBytes);

    configureOrvalClient({ baseUrl: ctx.baseUrl }); // no key
    const anonymous = await orval.listModels();
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.data.code, 'UNAUTHENTICATED');
    configureOrvalClient({ baseUrl: ctx.baseUrl, apiKey: key });
    const invalid = await orval.uploadModel({ files: [new File(['{"nope": true}'], 'model.json')] });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.data.code, 'INVALID_MODEL');
  });
});

// GET /v1/models/{id}/export over HTTP: an uploaded ONNX graph comes back as ONNX that ONNX Runtime runs to the
// original's outputs (NCHW in, like the original), a TF.js upload as a zip, ONNX, .keras and .h5; ETag, Content-Length and
// a file name; If-None-Match → 304; an unknown format → 400; a missing model → 404.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import yauzl from 'yauzl';
import { stopConverter } from '../../src/formats/models/converter.ts';
import { binaryParser, tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, listKeys, startTestApp, type TestContext } from '../helpers/harness.ts';
import { maxScaledDiff, mnistInputs, nchwToNhwc, ONNX_FIXTURES, runOrt } from '../helpers/onnx.ts';

const N = 64;

function zipEntries(buf: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const names: string[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names.sort()));
      zip.on('error', reject);
      zip.readEntry();
    }),
  );
}

await forEachTarget('model export', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target);
  });
  after(async () => {
    await ctx?.close();
    await stopConverter();
  });

  const download = (url: string) => ctx.http.get(url).buffer(true).parse(binaryParser);

  test('ONNX upload → ONNX export equal to ONNX Runtime on the original; ETag, Content-Length, file name, 304', async () => {
    const file = path.join(ONNX_FIXTURES, 'resnet-mini.onnx');
    const m = (await ctx.http.post('/v1/models').field('name', 'resnet mini').attach('files', fs.readFileSync(file), 'resnet-mini.onnx').expect(201))
      .body;
    const res = await download(`/v1/models/${m.id}/export?format=onnx`).expect(200);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(Number(res.headers['content-length']), res.body.length);
    assert.match(res.headers['content-disposition'], /filename="resnet_mini\.onnx"/);
    const etag: string = res.headers.etag;
    assert.match(etag, /^"[0-9a-f]{64}"$/);
    await ctx.http.get(`/v1/models/${m.id}/export?format=onnx`).set('if-none-match', etag).expect(304);
    // Another option, another ETag.
    const nhwc = await download(`/v1/models/${m.id}/export?format=onnx&layout=NHWC`).expect(200);
    assert.notEqual(nhwc.headers.etag, etag);

    const { x } = mnistInputs(N, { scale: 1 / 255, offset: 0 });
    const original = await runOrt(file, x, [1, 28, 28], N);
    assert.ok(maxScaledDiff(await runOrt(res.body, x, [1, 28, 28], N), original) < 1e-4);
    assert.ok(maxScaledDiff(await runOrt(nhwc.body, nchwToNhwc(x, N, 1, 28, 28), [28, 28, 1], N), original) < 1e-4);
  });

  test('TF.js upload → tfjs zip (model.json + shards, no source/), ONNX of an MLP, .keras and .h5', async () => {
    const { modelJson, shards } = await tinyModelFiles();
    let req = ctx.http.post('/v1/models').field('name', 'mlp').attach('files', modelJson, 'model.json');
    for (const s of shards) req = req.attach('files', s.data, s.name);
    const m = (await req.expect(201)).body;
    const zip = await download(`/v1/models/${m.id}/export?format=tfjs`).expect(200);
    assert.equal(zip.headers['content-type'], 'application/zip');
    assert.match(zip.headers['content-disposition'], /filename="mlp\.zip"/);
    assert.deepEqual(await zipEntries(zip.body), ['group1-shard1of1.bin', 'model.json']);
    const onnx = await download(`/v1/models/${m.id}/export?format=onnx`).expect(200);
    const x = Float32Array.from({ length: 4 * 784 }, (_, i) => (i % 255) / 255);
    const y = await runOrt(onnx.body, x, [784], 4);
    assert.equal(y.length, 40);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(y.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax rows');
    // Keras 3 .keras (a zip with config.json, metadata.json, model.weights.h5) and Keras 2 .h5 (HDF5 signature).
    const keras = await download(`/v1/models/${m.id}/export?format=keras`).expect(200);
    assert.match(keras.headers['content-disposition'], /filename="mlp\.keras"/);
    assert.deepEqual(await zipEntries(keras.body), ['config.json', 'metadata.json', 'model.weights.h5']);
    const h5 = await download(`/v1/models/${m.id}/export?format=h5`).expect(200);
    assert.equal(h5.headers['content-type'], 'application/x-hdf5');
    assert.match(h5.headers['content-disposition'], /filename="mlp\.h5"/);
    assert.deepEqual([...h5.body.subarray(0, 8)], [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test('export cache: a repeated export sends the stored artifact (same bytes, same ETag); deleting the model removes it', async () => {
    const { modelJson, shards } = await tinyModelFiles();
    let req = ctx.http.post('/v1/models').field('name', 'cached').attach('files', modelJson, 'model.json');
    for (const s of shards) req = req.attach('files', s.data, s.name);
    const m = (await req.expect(201)).body;
    const first = await download(`/v1/models/${m.id}/export?format=onnx`).expect(200);
    assert.equal(first.headers['x-export-cache'], 'miss');
    const stored = await listKeys(ctx, `models/${m.id}/exports/`);
    assert.deepEqual(stored, [`models/${m.id}/exports/${JSON.parse(first.headers.etag)}`], 'keyed by the export hash');
    const second = await download(`/v1/models/${m.id}/export?format=onnx`).expect(200);
    assert.equal(second.headers['x-export-cache'], 'hit');
    assert.equal(second.headers.etag, first.headers.etag);
    assert.equal(Number(second.headers['content-length']), first.body.length);
    assert.ok(second.body.equals(first.body));
    // Another format or option is another artifact.
    const float = await download(`/v1/models/${m.id}/export?format=onnx&quantized=float`).expect(200);
    assert.equal(float.headers['x-export-cache'], 'miss');
    assert.equal((await download(`/v1/models/${m.id}/export?format=h5`).expect(200)).headers['x-export-cache'], 'miss');
    assert.equal((await listKeys(ctx, `models/${m.id}/exports/`)).length, 3);
    await ctx.http.delete(`/v1/models/${m.id}`).expect(204);
    assert.deepEqual(await listKeys(ctx, `models/${m.id}/`), []);
  });

  test('unknown format → 400; missing model → 404', async () => {
    const r = await ctx.http.get('/v1/models/00000000-0000-4000-8000-000000000000/export?format=pt').expect(400);
    assert.match(r.headers['content-type'], /problem\+json/);
    await ctx.http.get('/v1/models/00000000-0000-4000-8000-000000000000/export?format=onnx').expect(404);
  });
});

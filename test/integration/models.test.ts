import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import yauzl from 'yauzl';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';
import { binaryParser, tinyModelFiles, zipBuffer, type ModelFiles } from '../helpers/fixtures.ts';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

await forEachTarget('models API', (target) => {
  let ctx: TestContext;
  let files: ModelFiles;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_MAX_FILE_BYTES: '2m', MODELPRESS_MAX_REQUEST_BYTES: '3m' });
    files = await tinyModelFiles();
  });
  after(async () => ctx?.close());

  const upload = (name: string, parts: { name: string; data: Buffer }[]) => {
    let req = ctx.http.post('/v1/models').field('name', name);
    for (const p of parts) req = req.attach('files', p.data, p.name);
    return req;
  };

  async function assertNothingLeft() {
    assert.deepEqual(await rowCounts(ctx), { models: 0, modelFiles: 0, datasets: 0, datasetFiles: 0 });
    assert.deepEqual(await listKeys(ctx, 'models/'), []);
  }

  test('upload model.json + shard → 201 with metadata, get, list, download, archive, delete', async () => {
    const res = await upload('mnist-mlp', [{ name: 'model.json', data: files.modelJson }, ...files.shards]).expect(201);
    const m = res.body;
    assert.equal(m.name, 'mnist-mlp');
    assert.equal(m.format, 'tfjs-layers');
    assert.equal(m.params, 784 * 16 + 16 + 16 * 10 + 10);
    assert.deepEqual(m.inputShape, [null, 784]);
    assert.deepEqual(m.outputShape, [null, 10]);
    assert.deepEqual(
      m.layers.map((l: { className: string }) => l.className),
      ['Dense', 'Dense'],
    );
    assert.equal(m.layers[0].params, 784 * 16 + 16);
    assert.equal(m.layers[0].flops, 784 * 16, 'multiply-adds per example');
    assert.equal(m.flops, 784 * 16 + 16 * 10);
    assert.equal(m.sizeBytes, files.modelJson.length + files.shards[0].data.length);
    const shard = m.files.find((f: { path: string }) => f.path === 'group1-shard1of1.bin');
    assert.equal(shard.sha256, sha(files.shards[0].data));
    assert.equal(m.producedByJobId, null);

    const got = await ctx.http.get(`/v1/models/${m.id}`).expect(200);
    assert.deepEqual(got.body, m);

    const dl = await ctx.http.get(`/v1/models/${m.id}/files/group1-shard1of1.bin`).buffer(true).parse(binaryParser).expect(200);
    assert.equal(sha(dl.body), shard.sha256);
    assert.equal(dl.headers['x-content-sha256'], shard.sha256);

    const zip = await ctx.http.get(`/v1/models/${m.id}/archive`).buffer(true).parse(binaryParser).expect(200);
    assert.equal(zip.headers['content-type'], 'application/zip');
    const names = await zipEntryNames(zip.body);
    assert.deepEqual(names.sort(), ['group1-shard1of1.bin', 'model.json']);

    await ctx.http.delete(`/v1/models/${m.id}`).expect(204);
    await ctx.http.get(`/v1/models/${m.id}`).expect(404);
    await assertNothingLeft();
  });

  test('upload one zip holding the model (inside a folder)', async () => {
    const zip = await zipBuffer([
      { name: 'mlp/model.json', data: files.modelJson },
      ...files.shards.map((s) => ({ name: `mlp/${s.name}`, data: s.data })),
    ]);
    const res = await upload('zipped', [{ name: 'mlp.zip', data: zip }]).expect(201);
    assert.deepEqual(res.body.files.map((f: { path: string }) => f.path).sort(), ['group1-shard1of1.bin', 'model.json']);
    await ctx.http.delete(`/v1/models/${res.body.id}`).expect(204);
  });

  test('list: cursor pagination newest first, name filter', async () => {
    const ids: string[] = [];
    for (const name of ['a-1', 'a-2', 'b-1']) {
      ids.push((await upload(name, [{ name: 'model.json', data: files.modelJson }, ...files.shards]).expect(201)).body.id);
    }
    const p1 = await ctx.http.get('/v1/models?limit=2').expect(200);
    assert.deepEqual(
      p1.body.items.map((m: { name: string }) => m.name),
      ['b-1', 'a-2'],
    );
    assert.ok(p1.body.nextCursor);
    const p2 = await ctx.http.get(`/v1/models?limit=2&cursor=${p1.body.nextCursor}`).expect(200);
    assert.deepEqual(
      p2.body.items.map((m: { name: string }) => m.name),
      ['a-1'],
    );
    assert.equal(p2.body.nextCursor, null);
    const filtered = await ctx.http.get('/v1/models?name=a-*').expect(200);
    assert.deepEqual(
      filtered.body.items.map((m: { name: string }) => m.name),
      ['a-2', 'a-1'],
    );
    const exact = await ctx.http.get('/v1/models?name=b-1').expect(200);
    assert.equal(exact.body.items.length, 1);
    const bad = await ctx.http.get('/v1/models?cursor=garbage').expect(400);
    assert.equal(bad.body.code, 'BAD_CURSOR');
    for (const id of ids) await ctx.http.delete(`/v1/models/${id}`).expect(204);
  });

  test('model.json that is not a Layers model → 422 INVALID_MODEL, nothing left', async () => {
    const graph = Buffer.from(JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    const res = await upload('graph', [{ name: 'model.json', data: graph }]).expect(422);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.body.code, 'INVALID_MODEL');
    assert.equal(res.body.status, 422);
    const notJson = await upload('garbage', [{ name: 'model.json', data: Buffer.from('{nope') }]).expect(422);
    assert.equal(notJson.body.code, 'INVALID_MODEL');
    await assertNothingLeft();
  });

  test('shard sizes not matching the manifest → 422 WEIGHTS_MISMATCH, nothing left', async () => {
    const short = files.shards[0].data.subarray(0, files.shards[0].data.length - 4);
    const res = await upload('short', [
      { name: 'model.json', data: files.modelJson },
      { name: files.shards[0].name, data: short },
    ]).expect(422);
    assert.equal(res.body.code, 'WEIGHTS_MISMATCH');
    assert.equal(res.body.details.actualBytes, short.length);
    await assertNothingLeft();
  });

  test('a missing shard → 422 MISSING_WEIGHTS, nothing left', async () => {
    const res = await upload('noshard', [{ name: 'model.json', data: files.modelJson }]).expect(422);
    assert.equal(res.body.code, 'MISSING_WEIGHTS');
    assert.match(res.body.detail, /group1-shard1of1\.bin/);
    await assertNothingLeft();
  });

  test('a file over the per-file limit → 413 PAYLOAD_TOO_LARGE, nothing left', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await upload('big', [
      { name: 'model.json', data: files.modelJson },
      { name: 'group1-shard1of1.bin', data: big },
    ]).expect(413);
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    await assertNothingLeft();
  });

  test('files each under the per-file limit but together over the per-request limit → 413, nothing left', async () => {
    const part = Buffer.alloc(1800 * 1024, 3);
    const res = await upload('two-big', [
      { name: 'model.json', data: files.modelJson },
      { name: 'a.bin', data: part },
      { name: 'b.bin', data: part },
    ]).expect(413);
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    await assertNothingLeft();
  });

  test('unknown id → 404 NOT_FOUND; malformed id → 400', async () => {
    const res = await ctx.http.get(`/v1/models/${crypto.randomUUID()}`).expect(404);
    assert.equal(res.body.code, 'NOT_FOUND');
    await ctx.http.get(`/v1/models/${crypto.randomUUID()}/files/model.json`).expect(404);
    await ctx.http.delete(`/v1/models/${crypto.randomUUID()}`).expect(404);
    const bad = await ctx.http.get('/v1/models/not-a-uuid').expect(400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
  });

  test('path traversal: multipart names are reduced to their base name; a zip-slip entry → 400, nothing left', async () => {
    const ok = await upload('dots', [{ name: '../../model.json', data: files.modelJson }, ...files.shards]).expect(201);
    assert.deepEqual(ok.body.files.map((f: { path: string }) => f.path).sort(), ['group1-shard1of1.bin', 'model.json']);
    await ctx.http.delete(`/v1/models/${ok.body.id}`).expect(204);
    // yazl refuses '..' names, so write a same-length name and patch it in both zip headers.
    const zip = await zipBuffer([{ name: 'xx/model.json', data: files.modelJson }, ...files.shards]);
    for (let i = zip.indexOf('xx/model.json'); i >= 0; i = zip.indexOf('xx/model.json', i + 1)) zip.write('../model.json', i);
    const res = await upload('evil', [{ name: 'evil.zip', data: zip }]).expect(400);
    assert.equal(res.body.code, 'INVALID_UPLOAD');
    await assertNothingLeft();
  });

  test('JSON body instead of multipart → 415', async () => {
    const res = await ctx.http.post('/v1/models').send({ name: 'x' }).expect(415);
    assert.equal(res.body.code, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

function zipEntryNames(buf: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const names: string[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.readEntry();
    }),
  );
}

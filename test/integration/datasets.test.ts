import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';
import { binaryParser, zipBuffer } from '../helpers/fixtures.ts';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function idxImages(n: number, rows: number, cols: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x803, 0);
  head.writeUInt32BE(n, 4);
  head.writeUInt32BE(rows, 8);
  head.writeUInt32BE(cols, 12);
  return Buffer.concat([head, Buffer.from(Array.from({ length: n * rows * cols }, (_, i) => i % 256))]);
}
function idxLabels(labels: number[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0x801, 0);
  head.writeUInt32BE(labels.length, 4);
  return Buffer.concat([head, Buffer.from(labels)]);
}

await forEachTarget('datasets API', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BUILTIN_DATASETS: 'false' });
  });
  after(async () => ctx?.close());

  const upload = (fields: Record<string, string>, parts: { name: string; data: Buffer }[]) => {
    let req = ctx.http.post('/v1/datasets');
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    for (const p of parts) req = req.attach('files', p.data, p.name);
    return req;
  };
  async function assertNothingLeft() {
    assert.deepEqual(await rowCounts(ctx), { models: 0, modelFiles: 0, datasets: 0, datasetFiles: 0 });
    assert.deepEqual(await listKeys(ctx, 'datasets/'), []);
  }

  test('CSV with a named label column → metadata, canonical tensors, download, delete', async () => {
    const csv = Buffer.from('a,b,species\n1,2,cat\n3,4,dog\n5,6,cat\n7,8.5,bird\n');
    const res = await upload({ name: 'pets', labelColumn: 'species' }, [{ name: 'pets.csv', data: csv }]).expect(201);
    const d = res.body;
    assert.equal(d.format, 'csv');
    assert.equal(d.examples, 4);
    assert.deepEqual(d.featureShape, [2]);
    assert.equal(d.dtype, 'float32');
    assert.equal(d.numClasses, 3);
    assert.deepEqual(d.classNames, ['bird', 'cat', 'dog']);
    assert.deepEqual(d.splits, { train: 4 });
    assert.equal(d.sha256, sha(csv));
    assert.deepEqual(d.files.map((f: { role: string }) => f.role).sort(), ['source', 'train-x', 'train-y']);
    const y = await ctx.http.get(`/v1/datasets/${d.id}/files/train-y.npy`).buffer(true).parse(binaryParser).expect(200);
    const labels = Array.from(new Int32Array(y.body.buffer.slice(y.body.byteOffset + 128, y.body.byteOffset + y.body.length)));
    assert.deepEqual(labels, [1, 2, 1, 0]);
    const src = await ctx.http.get(`/v1/datasets/${d.id}/files/pets.csv`).buffer(true).parse(binaryParser).expect(200);
    assert.equal(sha(src.body), sha(csv));
    await ctx.http.delete(`/v1/datasets/${d.id}`).expect(204);
    await assertNothingLeft();
  });

  test('CSV with ragged rows → 422 INVALID_DATASET naming the line, nothing left', async () => {
    const res = await upload({ name: 'bad' }, [{ name: 'bad.csv', data: Buffer.from('a,b,label\n1,2,0\n3,1\n') }]).expect(422);
    assert.equal(res.body.code, 'INVALID_DATASET');
    assert.match(res.body.detail, /line 3|row 2|record 2/i);
    await assertNothingLeft();
  });

  test('IDX (gzipped, MNIST names) with a test split', async () => {
    const res = await upload({ name: 'tiny-idx' }, [
      { name: 'train-images-idx3-ubyte.gz', data: zlib.gzipSync(idxImages(6, 4, 4)) },
      { name: 'train-labels-idx1-ubyte.gz', data: zlib.gzipSync(idxLabels([0, 1, 2, 0, 1, 2])) },
      { name: 't10k-images-idx3-ubyte', data: idxImages(2, 4, 4) },
      { name: 't10k-labels-idx1-ubyte', data: idxLabels([2, 0]) },
    ]).expect(201);
    assert.equal(res.body.format, 'idx');
    assert.deepEqual(res.body.splits, { train: 6, test: 2 });
    assert.deepEqual(res.body.featureShape, [4, 4, 1]);
    assert.equal(res.body.dtype, 'uint8');
    assert.equal(res.body.numClasses, 3);
    assert.ok(Math.abs(res.body.normalization.scale - 1 / 255) < 1e-9);
    await ctx.http.delete(`/v1/datasets/${res.body.id}`).expect(204);
  });

  test('IDX with label count not matching image count → 422, nothing left', async () => {
    const res = await upload({}, [
      { name: 'train-images-idx3-ubyte', data: idxImages(3, 2, 2) },
      { name: 'train-labels-idx1-ubyte', data: idxLabels([0, 1]) },
    ]).expect(422);
    assert.equal(res.body.code, 'INVALID_DATASET');
    await assertNothingLeft();
  });

  test('NumPy x.npy + y.npy', async () => {
    const x = Buffer.concat([buildNpyHeader('float32', [3, 2]), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]);
    const y = Buffer.concat([buildNpyHeader('int32', [3]), Buffer.from(new Int32Array([0, 1, 1]).buffer)]);
    const res = await upload({ name: 'np' }, [
      { name: 'x.npy', data: x },
      { name: 'y.npy', data: y },
    ]).expect(201);
    assert.equal(res.body.format, 'npy');
    assert.equal(res.body.examples, 3);
    assert.deepEqual(res.body.featureShape, [2]);
    assert.equal(res.body.numClasses, 2);
    await ctx.http.delete(`/v1/datasets/${res.body.id}`).expect(204);
  });

  test('classNames field: readable names for numeric labels (JSON or comma-separated); a wrong count → 422, bad JSON → 400', async () => {
    const x = Buffer.concat([buildNpyHeader('float32', [3, 2]), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]);
    const y = Buffer.concat([buildNpyHeader('int32', [3]), Buffer.from(new Int32Array([0, 1, 1]).buffer)]);
    const files = [
      { name: 'x.npy', data: x },
      { name: 'y.npy', data: y },
    ];
    const json = await upload({ name: 'named', classNames: '["cat","dog"]' }, files).expect(201);
    assert.deepEqual(json.body.classNames, ['cat', 'dog']);
    const csv = await upload({ name: 'named2', classNames: 'cat, dog' }, files).expect(201);
    assert.deepEqual(csv.body.classNames, ['cat', 'dog']);
    const wrong = await upload({ classNames: 'a,b,c' }, files).expect(422);
    assert.equal(wrong.body.code, 'INVALID_DATASET');
    assert.match(wrong.body.detail, /classNames names 3 classes but the dataset has 2/);
    for (const bad of ['["a",', '[1,2]', 'a,a', 'a,']) {
      const res = await upload({ classNames: bad }, files).expect(400);
      assert.equal(res.body.code, 'VALIDATION_FAILED', bad);
    }
    for (const id of [json.body.id, csv.body.id]) await ctx.http.delete(`/v1/datasets/${id}`).expect(204);
    await assertNothingLeft();
  });

  test('zip of images, one folder per class (decoded with sharp)', async () => {
    const png = (v: number) =>
      sharp({ create: { width: 5, height: 4, channels: 3, background: { r: v, g: v, b: v } } })
        .greyscale()
        .png()
        .toBuffer();
    const zip = await zipBuffer([
      { name: 'shapes/circle/1.png', data: await png(10) },
      { name: 'shapes/circle/2.png', data: await png(20) },
      { name: 'shapes/square/1.png', data: await png(200) },
    ]);
    const res = await upload({ name: 'shapes' }, [{ name: 'shapes.zip', data: zip }]).expect(201);
    assert.equal(res.body.format, 'images');
    assert.equal(res.body.examples, 3);
    assert.deepEqual(res.body.classNames, ['circle', 'square']);
    assert.equal(res.body.featureShape[0], 4);
    assert.equal(res.body.featureShape[1], 5);
    await ctx.http.delete(`/v1/datasets/${res.body.id}`).expect(204);
  });

  test('unknown format → 422; unknown id → 404; pagination', async () => {
    const res = await upload({}, [{ name: 'notes.txt', data: Buffer.from('hello') }]).expect(422);
    assert.equal(res.body.code, 'INVALID_DATASET');
    await assertNothingLeft();
    await ctx.http.get(`/v1/datasets/${crypto.randomUUID()}`).expect(404);
    const ids: string[] = [];
    for (const n of ['d1', 'd2', 'd3'])
      ids.push((await upload({ name: n }, [{ name: 'd.csv', data: Buffer.from('x,label\n1,a\n2,b\n') }]).expect(201)).body.id);
    const p1 = await ctx.http.get('/v1/datasets?limit=2').expect(200);
    assert.deepEqual(
      p1.body.items.map((d: { name: string }) => d.name),
      ['d3', 'd2'],
    );
    const p2 = await ctx.http.get(`/v1/datasets?limit=2&cursor=${p1.body.nextCursor}`).expect(200);
    assert.deepEqual(
      p2.body.items.map((d: { name: string }) => d.name),
      ['d1'],
    );
    for (const id of ids) await ctx.http.delete(`/v1/datasets/${id}`).expect(204);
  });
});

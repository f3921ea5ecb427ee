// Hostile uploads (issue 18). Models: topologies whose build used to block the API (an Orthogonal LSTM: 38 s) or
// bypass the parameter limit (a Dense 30000×30000 under a tiny manifest), 20,000 layers, NaN weights, a stray file.
// Datasets: NPZ / IDX.gz / image-zip decompression bombs (refused from headers and central directories before
// anything is spooled), NaN/Inf features, a padded NPY header. Each is refused with a 4xx problem+json while
// /healthz stays responsive, and nothing is stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { npyBytes } from '../fixtures/datasets/helpers.ts';
import { idxLabels } from '../fixtures/datasets/idx.ts';
import { tinyModelFiles, zipBuffer } from '../helpers/fixtures.ts';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';
import { assertNothingLeft, assertProblem, underProbe } from '../helpers/hostile.ts';

const topology = (layers: unknown[]) => ({ class_name: 'Sequential', config: { name: 'm', layers } });
const modelJson = (layers: unknown[], weights: { name: string; shape: number[]; dtype: string }[] = [], paths: string[] = []) =>
  Buffer.from(JSON.stringify({ format: 'layers-model', modelTopology: topology(layers), weightsManifest: [{ paths, weights }] }));

await forEachTarget('hostile model uploads', (target) => {
  let ctx: TestContext;
  before(async () => {
    // A per-image pixel cap small enough for a cheap test image to cross it.
    ctx = await startTestApp(target, { MODELPRESS_MAX_IMAGE_PIXELS: String(1024 * 1024) });
  });
  after(async () => ctx?.close());

  const upload = async (files: { name: string; data: Buffer }[]) => {
    let req = ctx.http.post('/v1/models').field('name', 'hostile');
    for (const f of files) req = req.attach('files', f.data, f.name);
    const res = await req;
    return { status: res.status, headers: res.headers as Record<string, string>, body: res.body as { code?: string } };
  };

  test('topologies are sized without building weights: LSTM with Orthogonal init, Dense 30000×30000, 20,000 layers', async () => {
    await underProbe(ctx, 'model topologies', async () => {
      const lstm = modelJson([
        {
          class_name: 'LSTM',
          config: { units: 256, batch_input_shape: [null, 10, 256], recurrent_initializer: { class_name: 'Orthogonal', config: {} } },
        },
      ]);
      assertProblem(await upload([{ name: 'model.json', data: lstm }]), 422, 'MISSING_WEIGHTS');
      const dense = modelJson(
        [{ class_name: 'Dense', config: { units: 30000, batch_input_shape: [null, 30000] } }],
        [{ name: 'dense/bias', shape: [4], dtype: 'float32' }],
        ['w.bin'],
      );
      const res = await upload([
        { name: 'model.json', data: dense },
        { name: 'w.bin', data: Buffer.alloc(16) },
      ]);
      assertProblem(res, 422, 'RESOURCE_LIMIT');
      const deep = modelJson(
        Array.from({ length: 20_000 }, (_, i) => ({ class_name: 'Dense', config: i ? { units: 2 } : { units: 2, batch_input_shape: [null, 2] } })),
      );
      assertProblem(await upload([{ name: 'model.json', data: deep }]), 422, 'RESOURCE_LIMIT');
    });
    await assertNothingLeft(ctx);
  });

  test('NaN or Infinity in float32 weights, a stray file, a shape-mismatched manifest are refused', async () => {
    const files = await tinyModelFiles(4);
    const shard = files.shards[0];
    await underProbe(ctx, 'model contents', async () => {
      for (const bad of [NaN, Infinity]) {
        const data = Buffer.from(shard.data);
        data.writeFloatLE(bad, data.length - 8);
        assertProblem(
          await upload([
            { name: 'model.json', data: files.modelJson },
            { name: shard.name, data },
          ]),
          422,
          'INVALID_MODEL',
        );
      }
      const stray = await upload([
        { name: 'model.json', data: files.modelJson },
        { name: shard.name, data: shard.data },
        { name: 'notes.txt', data: Buffer.from('hi') },
      ]);
      assertProblem(stray, 422, 'INVALID_MODEL');
      const json = JSON.parse(files.modelJson.toString());
      const [k0] = json.weightsManifest[0].weights;
      k0.shape = [k0.shape[1], k0.shape[0]]; // same byte count, wrong shape
      const swapped = await upload([
        { name: 'model.json', data: Buffer.from(JSON.stringify(json)) },
        { name: shard.name, data: shard.data },
      ]);
      assertProblem(swapped, 422, 'WEIGHTS_MISMATCH');
    });
    await assertNothingLeft(ctx);
    const ok = await upload([
      { name: 'model.json', data: files.modelJson },
      { name: shard.name, data: shard.data },
    ]);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  const uploadDataset = async (files: { name: string; data: Buffer }[], format?: string) => {
    let req = ctx.http.post('/v1/datasets').field('name', 'hostile');
    if (format) req = req.field('format', format);
    for (const f of files) req = req.attach('files', f.data, f.name);
    const res = await req;
    return { status: res.status, headers: res.headers as Record<string, string>, body: res.body as { code?: string } };
  };
  const noDatasetLeft = async () => {
    const counts = await rowCounts(ctx);
    assert.deepEqual([counts.datasets, counts.datasetFiles], [0, 0]);
    assert.deepEqual(await listKeys(ctx, 'datasets/'), []);
  };
  /** An NPY header promising `shape` followed by a few bytes: the budget must refuse it from the header alone. */
  const npyPromise = (dtype: 'float32' | 'int32' | 'uint8', shape: number[]) => Buffer.concat([buildNpyHeader(dtype, shape), Buffer.alloc(16)]);

  test('decompression bombs are refused from headers before anything is written: NPZ, IDX.gz, image zip', async () => {
    // Black 1024² and 1025² PNGs compress to a few KB; decoded, 40 of the 1024² ones are 126 MB.
    const png = (side: number) =>
      sharp({ create: { width: side, height: side, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
    const [big, huge] = await Promise.all([png(1024), png(1025)]);
    const imageZip = await zipBuffer(Array.from({ length: 40 }, (_, i) => ({ name: `c${i % 2}/${i}.png`, data: big })));
    const tooManyPixels = await zipBuffer([
      { name: 'a/0.png', data: await png(8) },
      { name: 'b/1.png', data: huge },
    ]);
    // A real deflate bomb: 80 MiB of zeros in an ~80 KB member (built before the probe: it is this process's CPU).
    const deflated = await zipBuffer([
      { name: 'x.npy', data: Buffer.concat([buildNpyHeader('uint8', [80, 1024 * 1024]), Buffer.alloc(80 * 1024 * 1024)]) },
      { name: 'y.npy', data: npyBytes('int32', [80], Array(80).fill(0)) },
    ]);
    assert.ok(deflated.length < 1024 ** 2, `bomb is ${deflated.length} bytes`);
    await underProbe(ctx, 'dataset bombs', async () => {
      // 200,000 × 500 float32 = 400 MB promised by a ~300-byte NPZ.
      const npz = await zipBuffer([
        { name: 'x.npy', data: npyPromise('float32', [200_000, 500]) },
        { name: 'y.npy', data: npyPromise('int32', [200_000]) },
      ]);
      const npzRes = await uploadDataset([{ name: 'bomb.npz', data: npz }]);
      assertProblem(npzRes, 413, 'PAYLOAD_TOO_LARGE');
      // A real deflate bomb, refused from the central directory.
      assertProblem(await uploadDataset([{ name: 'deflated.npz', data: deflated }]), 413, 'PAYLOAD_TOO_LARGE');
      // IDX.gz: 100,000 images of 64×64 (410 MB) behind a gzipped 16-byte header.
      const header = Buffer.alloc(16);
      [0x803, 100_000, 64, 64].forEach((v, i) => header.writeUInt32BE(v, 4 * i));
      const idx = await uploadDataset([
        { name: 'train-images-idx3-ubyte.gz', data: gzipSync(Buffer.concat([header, Buffer.alloc(4096)])) },
        { name: 'train-labels-idx1-ubyte.gz', data: gzipSync(idxLabels(Array(100_000).fill(1))) },
      ]);
      assertProblem(idx, 413, 'PAYLOAD_TOO_LARGE');
      // Labels are held in memory: a labels header promising 4e9 entries is refused before one is read.
      const labels = Buffer.alloc(8);
      [0x801, 4_000_000_000].forEach((v, i) => labels.writeUInt32BE(v, 4 * i));
      const idxLabelsBomb = await uploadDataset([
        { name: 'train-images-idx3-ubyte', data: header },
        { name: 'train-labels-idx1-ubyte.gz', data: gzipSync(labels) },
      ]);
      assertProblem(idxLabelsBomb, 422, 'RESOURCE_LIMIT');
      const images = await uploadDataset([{ name: 'bomb.zip', data: imageZip }]);
      assertProblem(images, 413, 'PAYLOAD_TOO_LARGE');
      const pixels = await uploadDataset([{ name: 'pixels.zip', data: tooManyPixels }]);
      assertProblem(pixels, 413, 'PAYLOAD_TOO_LARGE');
    });
    await noDatasetLeft();
  });

  test('NaN and Infinity in NPY/NPZ features or one-hot labels, and a padded NPY header, are refused', async () => {
    const y = npyBytes('int32', [2], [0, 1]);
    await underProbe(ctx, 'dataset contents', async () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = npyBytes('float32', [2, 2], [1, bad, 3, 4]);
        const npy = await uploadDataset([
          { name: 'x.npy', data: x },
          { name: 'y.npy', data: y },
        ]);
        assertProblem(npy, 422, 'INVALID_DATASET');
      }
      const npz = await zipBuffer([
        { name: 'x.npy', data: npyBytes('float64', [2, 2], [1, 2, 1e300, 4]) }, // beyond float32: Infinity
        { name: 'y.npy', data: y },
      ]);
      assertProblem(await uploadDataset([{ name: 'd.npz', data: npz }]), 422, 'INVALID_DATASET');
      const oneHot = await uploadDataset([
        { name: 'x.npy', data: npyBytes('float32', [2, 2], [1, 2, 3, 4]) },
        { name: 'y.npy', data: npyBytes('float32', [2, 2], [1, 0, NaN, 1]) },
      ]);
      assertProblem(oneHot, 422, 'INVALID_DATASET');
      // 60 KB of header padding (numpy writes < 1 KB).
      const x = npyBytes('float32', [2, 2], [1, 2, 3, 4]);
      const dict = x
        .subarray(10, 10 + x.readUInt16LE(8))
        .toString('latin1')
        .trimEnd();
      const padded = Buffer.from(dict + ' '.repeat(60_000 - dict.length - 1) + '\n', 'latin1');
      const prefix = Buffer.from(x.subarray(0, 10));
      prefix.writeUInt16LE(padded.length, 8);
      const paddedRes = await uploadDataset([
        { name: 'x.npy', data: Buffer.concat([prefix, padded, x.subarray(10 + x.readUInt16LE(8))]) },
        { name: 'y.npy', data: y },
      ]);
      assertProblem(paddedRes, 422, 'INVALID_DATASET');
    });
    await noDatasetLeft();
    const ok = await uploadDataset([
      { name: 'x.npy', data: npyBytes('float32', [2, 2], [1, 2, 3, 4]) },
      { name: 'y.npy', data: y },
    ]);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });
});

// Uploading models in other formats over HTTP: the format is detected from the content (not the name), the model is
// converted to TF.js Layers, the record says what the original was, the original is kept under source/, and a file
// nobody recognises or with layers that cannot be converted is refused with nothing left behind.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';
import h5wasm from 'h5wasm/node';
import { tinyModelFiles, zipBuffer } from '../helpers/fixtures.ts';
import { ONNX_FIXTURES, withExternalData } from '../helpers/onnx.ts';
import { REAL_MODELS_SKIP, realModelPath, realModelsDir } from '../helpers/real-models.ts';
import { stopConverter } from '../../src/formats/models/converter.ts';

const skip = realModelsDir() ? false : REAL_MODELS_SKIP;

/** An HDF5 file with these root attributes (and an empty model_weights group), written by h5wasm. */
async function h5File(attrs: Record<string, string>): Promise<Buffer> {
  await h5wasm.ready;
  const file = path.join(os.tmpdir(), `mp-${crypto.randomUUID()}.h5`);
  const h5 = new h5wasm.File(file, 'w');
  for (const [k, v] of Object.entries(attrs)) h5.create_attribute(k, v);
  h5.create_group('model_weights');
  h5.close();
  try {
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(file);
  }
}
const realFile = (name: string) => fs.readFileSync(realModelPath(name)!);

await forEachTarget('model formats: upload', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target);
  });
  after(async () => {
    await ctx?.close();
    await stopConverter();
  });

  const upload = (parts: { name: string; data: Buffer }[], name = 'm') => {
    let req = ctx.http.post('/v1/models').field('name', name);
    for (const p of parts) req = req.attach('files', p.data, p.name);
    return req;
  };
  const paths = (m: { files: { path: string }[] }) => m.files.map((f) => f.path).sort();

  test('Keras 2 .h5 → sourceFormat keras-h5, version, layout; original under source/', { skip }, async () => {
    const data = realFile('keras2-mnist-cnn-dropout.h5');
    const m = (await upload([{ name: 'mnist.h5', data }], 'k2').expect(201)).body;
    assert.equal(m.format, 'tfjs-layers');
    assert.equal(m.sourceFormat, 'keras-h5');
    assert.equal(m.sourceVersion, '2.6.0');
    assert.equal(m.sourceLayout, 'NHWC');
    assert.deepEqual(m.sourceInputShape, [null, 28, 28, 1]);
    assert.deepEqual(m.inputShape, [null, 28, 28, 1]);
    assert.deepEqual(m.outputShape, [null, 10]);
    assert.equal(m.params, 3 * 3 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 1600 * 10 + 10);
    assert.deepEqual(paths(m), ['group1-shard1of1.bin', 'model.json', 'source/mnist.h5']);
    const original = m.files.find((f: { path: string }) => f.path === 'source/mnist.h5');
    assert.equal(original.sizeBytes, data.length);
    const gql = await ctx.http
      .post('/graphql')
      .send({ query: `{ model(id: "${m.id}") { sourceFormat sourceVersion sourceLayout importNotes } }` })
      .expect(200);
    assert.deepEqual(gql.body.data.model, { sourceFormat: 'KERAS_H5', sourceVersion: '2.6.0', sourceLayout: 'NHWC', importNotes: [] });
  });

  test('Keras 3 .keras, detected by content even when named .bin; and as an expanded .zip', { skip }, async () => {
    const data = realFile('keras3-mnist-mlp.keras');
    const m = (await upload([{ name: 'weights.bin', data }]).expect(201)).body;
    assert.equal(m.sourceFormat, 'keras');
    assert.equal(m.sourceVersion, '3.13.0');
    assert.equal(m.sourceLayout, null);
    assert.deepEqual(m.inputShape, [null, 28, 28]);
    assert.deepEqual(paths(m), ['group1-shard1of1.bin', 'model.json', 'source/weights.bin']);

    const zipped = (await upload([{ name: 'mnist.zip', data }]).expect(201)).body;
    assert.equal(zipped.sourceFormat, 'keras');
    assert.deepEqual(paths(zipped), ['group1-shard1of1.bin', 'model.json', 'source/config.json', 'source/metadata.json', 'source/model.weights.h5']);
    assert.equal(zipped.params, m.params);
  });

  test('ONNX (real file, opset 8, NCHW) → sourceFormat onnx; original input shape and layout recorded', { skip }, async () => {
    const m = (await upload([{ name: 'mnist-8.onnx', data: realFile('onnxzoo-mnist-8.onnx') }]).expect(201)).body;
    assert.equal(m.sourceFormat, 'onnx');
    assert.equal(m.sourceVersion, 'opset 8');
    assert.equal(m.sourceLayout, 'NCHW');
    assert.deepEqual(m.sourceInputShape, [1, 1, 28, 28]);
    assert.deepEqual(m.inputShape, [null, 28, 28, 1]);
    assert.ok(m.importNotes.some((n: string) => /fixed batch size 1/.test(n)));
    assert.deepEqual(paths(m), ['group1-shard1of1.bin', 'model.json', 'source/mnist-8.onnx']);
  });

  test('ONNX with an external data file (model.onnx + model.onnx.data)', async () => {
    const { model, data } = withExternalData(fs.readFileSync(path.join(ONNX_FIXTURES, 'resnet-mini.onnx')), 'model.onnx.data');
    const m = (
      await upload([
        { name: 'model.onnx', data: Buffer.from(model) },
        { name: 'model.onnx.data', data },
      ]).expect(201)
    ).body;
    assert.equal(m.sourceFormat, 'onnx');
    assert.equal(m.sourceVersion, 'opset 13');
    assert.deepEqual(paths(m), ['group1-shard1of1.bin', 'model.json', 'source/model.onnx', 'source/model.onnx.data']);
    const missing = (await upload([{ name: 'model.onnx', data: Buffer.from(model) }]).expect(422)).body;
    assert.equal(missing.code, 'MISSING_WEIGHTS');
  });

  test('TF.js uploads are stored as before (sourceFormat tfjs-layers, nothing under source/)', async () => {
    const files = await tinyModelFiles();
    const m = (await upload([{ name: 'model.json', data: files.modelJson }, ...files.shards]).expect(201)).body;
    assert.equal(m.sourceFormat, 'tfjs-layers');
    assert.equal(m.sourceVersion, null);
    assert.deepEqual(paths(m), ['group1-shard1of1.bin', 'model.json']);
  });

  test('unrecognised content and unconvertible layers are refused, nothing left behind', async () => {
    const before = await rowCounts(ctx);
    const keysBefore = await listKeys(ctx, 'models/');
    const res = await upload([{ name: 'model.h5', data: Buffer.from('not a model at all') }]).expect(422);
    assert.equal(res.body.code, 'INVALID_MODEL');
    const zip = await zipBuffer([{ name: 'config.json', data: Buffer.from('{"class_name": "Sequential"}') }]);
    assert.equal((await upload([{ name: 'x.keras', data: zip }]).expect(422)).body.code, 'INVALID_MODEL');
    const lambda = await h5File({
      model_config: JSON.stringify({
        class_name: 'Sequential',
        config: { layers: [{ class_name: 'Lambda', config: { name: 'lam', batch_input_shape: [null, 3] } }] },
      }),
    });
    const refused = (await upload([{ name: 'lambda.h5', data: lambda }]).expect(422)).body;
    assert.equal(refused.code, 'UNSUPPORTED_OPERATOR');
    assert.deepEqual(refused.details.operators, [{ op: 'Lambda', node: 'lam' }]);
    assert.deepEqual(await rowCounts(ctx), before);
    assert.deepEqual(await listKeys(ctx, 'models/'), keysBefore);
  });
});

// Quantization-aware fine-tuning: fake-quant round trips (per tensor bit-exact with what tfjs decodes from the
// uint8 manifest; per channel on integer zero points), the straight-through estimator, zeros kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { fakeQuantChannels, fakeQuantTensor } from '../../src/ml/compress/qat/fake-quant.ts';
import { FakeQuantTrainer } from '../../src/ml/compress/qat/shadow.ts';
import { quantizeWeights } from '../../src/ml/compress/quantize/affine.ts';
import { mulberry32 } from '../../src/ml/dataset.ts';
import { trainModel } from '../../src/ml/train.ts';

await tf.setBackend('cpu');

function randomValues(n: number, seed: number, zeroShare = 0): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rnd() < zeroShare ? 0 : rnd() * 1.7 - 0.6));
}

test('per-tensor fake quant equals what stock tfjs decodes from the uint8 manifest; re-quantizing stays on the grid', () => {
  const v = randomValues(3000, 1, 0.3);
  const fq = fakeQuantTensor(v);
  const q = quantizeWeights([{ name: 'w', shape: [3000], dtype: 'float32' }], v.slice().buffer, 'uint8');
  const decoded = tf.io.decodeWeights(q.data, q.specs).w;
  assert.deepEqual(Array.from(fq.values), Array.from(decoded.dataSync()));
  decoded.dispose();
  assert.equal(new Set(fq.values).size <= 256, true);
  for (let i = 0; i < v.length; i++) if (v[i] === 0) assert.equal(fq.values[i], 0, 'zero stays exactly zero');
  // Quantizing the grid values again lands on the same points (up to float32 rounding of the re-derived scale).
  const again = fakeQuantTensor(fq.values).values;
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(again[i] - fq.values[i]) < 1e-6, `${again[i]} vs ${fq.values[i]}`);
  const step = fq.grid.granularity === 'tensor' ? fq.grid.scale : NaN;
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(fq.values[i] - v[i]) <= step / 2 + 1e-6);
});

test('per-channel fake quant: one grid per output channel, (q − zeroPoint)·scale, zero exact, re-quantizing stays on the grid', () => {
  const shape = [50, 4];
  const v = randomValues(200, 2);
  for (let i = 0; i < v.length; i++) if (i % 4 === 3) v[i] *= 0.01; // one channel with a tiny range
  const { values, grid } = fakeQuantChannels(v, shape);
  assert.equal(grid.granularity, 'channel');
  if (grid.granularity !== 'channel') return;
  assert.equal(grid.axis, 1);
  assert.equal(grid.scale.length, 4);
  assert.ok(grid.scale[3] < grid.scale[0] / 20, 'the small channel gets its own finer grid');
  for (let i = 0; i < v.length; i++) {
    const c = i % 4;
    const q = values[i] / grid.scale[c] + grid.zeroPoint[c];
    assert.ok(Math.abs(q - Math.round(q)) < 1e-3 && q >= -1e-3 && q <= 255 + 1e-3, `element ${i} lies on its channel grid`);
    assert.ok(Math.abs(values[i] - v[i]) <= grid.scale[c] / 2 + 1e-7);
    assert.ok(Number.isInteger(grid.zeroPoint[c]));
  }
  const again = fakeQuantChannels(values, shape).values;
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(again[i] - values[i]) < 1e-6);
});

test('QAT trainer: trains through the fake-quantized weights (STE), keeps pruned zeros, and exports exactly its grid', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
  const kernel = model.layers[0].weights[0];
  tf.tidy(() => {
    kernel.write(tf.where(tf.greater(tf.abs(kernel.read()), 0.3), kernel.read(), tf.zerosLike(kernel.read())));
  });
  const zeros = Array.from(kernel.read().dataSync(), (x) => x === 0);
  const rnd = mulberry32(5);
  const xs = Array.from({ length: 256 * 4 }, () => rnd() * 2 - 1);
  const x = tf.tensor2d(xs, [256, 4]);
  // A separable rule the model can learn.
  const y = tf
    .oneHot(
      tf.tensor1d(
        Array.from({ length: 256 }, (_, i) => (xs[i * 4] + xs[i * 4 + 1] > 0 ? 1 : 0)),
        'int32',
      ),
      2,
    )
    .toFloat();

  const trainer = new FakeQuantTrainer(model, 'tensor');
  trainer.quantize();
  const startKernel = Float32Array.from(kernel.read().dataSync());
  const result = await trainModel(
    model,
    { x, y },
    { epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 0.02, validationSplit: 0, seed: 1 },
    {
      afterBatch: () => {
        trainer.afterBatch();
        // Between steps the variables hold fake-quantized values: at most 256 distinct values per tensor.
        for (const w of model.weights) assert.ok(new Set(w.read().dataSync()).size <= 256);
      },
    },
  );
  assert.ok(result.history[9].accuracy > 0.9, `learned through fake quant: ${result.history[9].accuracy}`);
  assert.notDeepEqual(Array.from(kernel.read().dataSync()), Array.from(startKernel), 'weights moved');
  const grids = trainer.finish();
  assert.deepEqual(Object.keys(grids).sort(), model.weights.map((w) => w.originalName).sort());

  // Finished per tensor: the variables hold float shadow weights; the uint8 export decodes to the trained grid.
  const forward = (m: tf.LayersModel) => (m.predict(x) as tf.Tensor).dataSync();
  const trained = new FakeQuantTrainer(model, 'tensor');
  trained.quantize();
  const onGrid = forward(model);
  trained.finish();
  const artifacts = await new Promise<tf.io.ModelArtifacts>(
    (resolve) =>
      void model.save(tf.io.withSaveHandler(async (a) => (resolve(a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }))),
  );
  const q = quantizeWeights(artifacts.weightSpecs!, artifacts.weightData as ArrayBuffer, 'uint8');
  const exported = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs: q.specs, weightData: q.data }));
  assert.deepEqual(Array.from(forward(exported)), Array.from(onGrid), 'the exported uint8 model computes exactly what QAT trained');
  const k = exported.layers[0].weights[0].read().dataSync();
  zeros.forEach((z, i) => assert.equal(k[i] === 0, z, `pruned zero ${i} kept`));
  tf.dispose([x, y]);
  exported.dispose();
  model.dispose();
});

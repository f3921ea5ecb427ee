import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { tf } from '../../src/ml/tf.ts';
import { structuredPrune, unitNorms, zeroRemovedUnits } from '../../src/ml/compress/prune/structured.ts';

await tf.setBackend('cpu');

async function copyOf(model: tf.LayersModel): Promise<tf.LayersModel> {
  const copy = await tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) });
  copy.setWeights(model.getWeights());
  return copy;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

function cnn(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 2], filters: 8, kernelSize: 3, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 12, kernelSize: 2, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 20, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
  // Non-trivial biases and batch-norm statistics, so wrong slicing shows up in the outputs.
  for (const [l, layer] of model.layers.entries()) {
    const values = layer.weights.map((w, i) =>
      w.originalName.endsWith('moving_variance')
        ? tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 10 * l + i)
        : tf.randomNormal(w.shape as number[], 0, 0.5, 'float32', 10 * l + i),
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
  return model;
}

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 32, activation: 'sigmoid', biasInitializer: 'randomNormal' }),
      tf.layers.dense({ units: 16, activation: 'relu', biasInitializer: 'randomNormal' }),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
}

for (const norm of ['l1', 'l2'] as const) {
  test(`conv→BN→pool→conv→flatten→dense: rebuilt model equals the masked original (${norm})`, async () => {
    const model = cnn();
    const before = tf.memory().numTensors;
    const { model: pruned, removed } = await structuredPrune(model, { fraction: 0.5, norm });
    const [conv1, , , conv2, , dense1, , dense2] = model.layers;
    assert.deepEqual(Object.keys(removed).sort(), [conv1.name, conv2.name, dense1.name].sort());
    assert.equal(removed[conv1.name].length, 4);
    assert.equal(removed[conv2.name].length, 6);
    assert.equal(removed[dense1.name].length, 10);
    assert.equal(removed[dense2.name], undefined, 'the output layer keeps its units');

    // The removed units are the ones with the smallest norms.
    const norms = unitNorms(conv2.getWeights()[0], norm);
    const maxRemoved = Math.max(...removed[conv2.name].map((i) => norms[i]));
    const kept = Array.from(norms.keys()).filter((i) => !removed[conv2.name].includes(i));
    assert.ok(kept.every((i) => norms[i] >= maxRemoved));

    const shapes = pruned.layers.map((l) => l.getWeights().map((w) => w.shape));
    assert.deepEqual(shapes[0], [[3, 3, 2, 4], [4]]);
    assert.deepEqual(shapes[1], [[4], [4], [4], [4]]);
    assert.deepEqual(shapes[3], [[2, 2, 4, 6], [6]]);
    assert.deepEqual(shapes[5], [[3 * 3 * 6, 10], [10]]);
    assert.deepEqual(shapes[7], [[10, 5], [5]]);
    assert.ok(pruned.countParams() < model.countParams());

    const masked = await copyOf(model);
    zeroRemovedUnits(masked, removed);
    const x = tf.randomNormal([16, 10, 10, 2], 0, 1, 'float32', 7);
    const [yMasked, yPruned] = [masked.predict(x) as tf.Tensor, pruned.predict(x) as tf.Tensor];
    const diff = maxAbsDiff(yMasked, yPruned);
    assert.ok(diff <= 1e-5, `max |masked - pruned| = ${diff}`);
    // Sanity: the masking changed the function, so the comparison above is not trivially true.
    const yOriginal = model.predict(x) as tf.Tensor;
    assert.ok(maxAbsDiff(yOriginal, yPruned) > 1e-4);

    tf.dispose([x, yMasked, yPruned, yOriginal]);
    masked.dispose();
    pruned.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
    model.dispose();
  });
}

test('MLP with sigmoid hidden units: equivalence, fewer params, latency printed', async () => {
  const model = mlp();
  const { model: pruned, removed } = await structuredPrune(model, { fraction: 0.75, norm: 'l2' });
  const [d1, d2] = model.layers;
  assert.equal(removed[d1.name].length, 24);
  assert.equal(removed[d2.name].length, 12);
  const masked = await copyOf(model);
  zeroRemovedUnits(masked, removed);
  const x = tf.randomNormal([512, 8], 0, 1, 'float32', 3);
  const a = masked.predict(x) as tf.Tensor;
  const b = pruned.predict(x) as tf.Tensor;
  assert.ok(maxAbsDiff(a, b) <= 1e-5);
  assert.ok(pruned.countParams() < model.countParams() / 2);
  tf.dispose([a, b]);

  const time = (m: tf.LayersModel) => {
    tf.dispose(m.predict(x));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) tf.dispose(m.predict(x));
    return (performance.now() - t0) / 20;
  };
  console.log(
    `structured MLP: params ${model.countParams()} → ${pruned.countParams()}, predict(512) ${time(model).toFixed(2)} ms → ${time(pruned).toFixed(2)} ms`,
  );
  x.dispose();
  [model, pruned, masked].forEach((m) => m.dispose());
});

test('excludeLayers, fraction 0 and functional chain models', async () => {
  const input = tf.input({ shape: [6] });
  const h = tf.layers.dense({ units: 10, activation: 'relu', name: 'hidden' }).apply(input) as tf.SymbolicTensor;
  const h2 = tf.layers.dense({ units: 8, activation: 'relu', name: 'hidden2' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'out' }).apply(h2) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const r1 = await structuredPrune(model, { fraction: 0.5, norm: 'l1', excludeLayers: ['hidden'] });
  assert.deepEqual(Object.keys(r1.removed), ['hidden2']);
  assert.deepEqual(r1.model.getLayer('hidden2').getWeights()[0].shape, [10, 4]);
  const r0 = await structuredPrune(model, { fraction: 0, norm: 'l1' });
  assert.deepEqual(r0.removed, {});
  assert.equal(r0.model.countParams(), model.countParams());
  await assert.rejects(structuredPrune(model, { fraction: 2, norm: 'l1' }), /fraction/);
  [model, r1.model, r0.model].forEach((m) => m.dispose());
});

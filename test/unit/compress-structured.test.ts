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

/** Random weights everywhere (BN variances positive), so wrong slicing shows up in the outputs. */
function randomize(model: tf.LayersModel): void {
  for (const [l, layer] of model.layers.entries()) {
    const values = layer.weights.map((w, i) =>
      w.originalName.endsWith('moving_variance')
        ? tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 10 * l + i)
        : tf.randomNormal(w.shape as number[], 0, 0.5, 'float32', 10 * l + i),
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
}

const sym = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

/** Stem conv → BN → ReLU6, two residual blocks (conv → BN → ReLU → conv → BN, Add with the block input), GAP → Dense. */
function residual(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = sym(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'stem' }), input);
  x = sym(tf.layers.batchNormalization({ name: 'stem_bn' }), x);
  x = sym(tf.layers.reLU({ maxValue: 6 }), x);
  for (const b of [1, 2]) {
    let y = sym(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: `b${b}_conv1` }), x);
    y = sym(tf.layers.batchNormalization({ name: `b${b}_bn1` }), y);
    y = sym(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: `b${b}_conv2` }), y);
    y = sym(tf.layers.batchNormalization({ name: `b${b}_bn2` }), y);
    x = sym(tf.layers.add({ name: `b${b}_add` }), [x, y]);
    x = sym(tf.layers.activation({ activation: 'relu' }), x);
  }
  x = sym(tf.layers.globalAveragePooling2d({}), x);
  const out = sym(tf.layers.dense({ units: 4, activation: 'softmax', name: 'head' }), x);
  const model = tf.model({ inputs: input, outputs: out });
  randomize(model);
  return model;
}

/**
 * Depthwise (multiplier 1 and 2), separable conv, Concatenate of two branches, a squeeze-excite Multiply with a
 * Reshape, Flatten → Dense → Dropout → Dense.
 */
function depthwiseGraph(): tf.LayersModel {
  const input = tf.input({ shape: [7, 7, 2] });
  let x = sym(tf.layers.conv2d({ filters: 6, kernelSize: 1, name: 'expand' }), input);
  x = sym(tf.layers.batchNormalization({ name: 'expand_bn' }), x);
  x = sym(tf.layers.reLU({ maxValue: 6 }), x);
  const d1 = sym(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw1' }), x);
  const d2 = sym(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw2' }), x);
  const sep = sym(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', name: 'sep' }), x);
  x = sym(tf.layers.concatenate({ name: 'cat' }), [d1, d2, sep]); // 6 + 12 + 5 channels
  x = sym(tf.layers.batchNormalization({ name: 'cat_bn' }), x);
  let se = sym(tf.layers.globalAveragePooling2d({}), x);
  se = sym(tf.layers.dense({ units: 4, activation: 'relu', name: 'se_reduce' }), se);
  se = sym(tf.layers.dense({ units: 23, activation: 'sigmoid', name: 'se_expand' }), se);
  se = sym(tf.layers.reshape({ targetShape: [1, 1, 23] }), se);
  x = sym(tf.layers.multiply({ name: 'se_scale' }), [x, se]);
  x = sym(tf.layers.conv2d({ filters: 6, kernelSize: 1, strides: 2, name: 'project' }), x);
  x = sym(tf.layers.flatten(), x);
  x = sym(tf.layers.dense({ units: 10, activation: 'relu', name: 'fc' }), x);
  x = sym(tf.layers.dropout({ rate: 0.2 }), x);
  const out = sym(tf.layers.dense({ units: 3, name: 'logits' }), x);
  const model = tf.model({ inputs: input, outputs: out });
  randomize(model);
  return model;
}

/** Masked original vs rebuilt model on random inputs, and the rebuilt model through a save/load round trip. */
async function assertEquivalent(
  model: tf.LayersModel,
  pruned: tf.LayersModel,
  removed: Record<string, number[]>,
  inputShape: number[],
): Promise<void> {
  const masked = await copyOf(model);
  zeroRemovedUnits(masked, removed);
  const x = tf.randomNormal(inputShape, 0, 1, 'float32', 11);
  const [a, b, orig] = [masked.predict(x), pruned.predict(x), model.predict(x)] as tf.Tensor[];
  const diff = maxAbsDiff(a, b);
  assert.ok(diff <= 1e-5, `max |masked - pruned| = ${diff}`);
  assert.ok(maxAbsDiff(orig, b) > 1e-4, 'pruning changed the function (the comparison is not vacuous)');
  // Stock tf.loadLayersModel reads the saved pruned model (ordinary functional topology + weights).
  let saved: tf.io.ModelArtifacts | undefined;
  await pruned.save(
    tf.io.withSaveHandler(async (artifacts) => ((saved = artifacts), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  const c = loaded.predict(x) as tf.Tensor;
  assert.ok(maxAbsDiff(b, c) <= 1e-6);
  tf.dispose([x, a, b, orig, c]);
  masked.dispose();
  loaded.dispose();
}

for (const importance of ['l1', 'l2', 'bn'] as const) {
  test(`residual graph (${importance}): Adds couple stem and block outputs, topology kept, equals the masked original`, async () => {
    const model = residual();
    const before = tf.memory().numTensors;
    const { model: pruned, removed, pinned } = await structuredPrune(model, { fraction: 0.5, norm: 'l2', importance });
    // The residual stream (stem, b1_conv2, b2_conv2) is one group: the same 4 of 8 channels leave all three.
    assert.deepEqual(removed.stem, removed.b1_conv2);
    assert.deepEqual(removed.stem, removed.b2_conv2);
    assert.equal(removed.stem.length, 4);
    assert.equal(removed.b1_conv1.length, 3);
    assert.equal(removed.head, undefined);
    assert.equal(pinned.head, 'model output');
    assert.deepEqual(pruned.getLayer('stem').getWeights()[0].shape, [3, 3, 3, 4]);
    assert.deepEqual(pruned.getLayer('b1_conv1').getWeights()[0].shape, [3, 3, 4, 3]);
    assert.deepEqual(pruned.getLayer('b2_bn2').getWeights()[0].shape, [4]);
    assert.deepEqual(pruned.getLayer('head').getWeights()[0].shape, [4, 4]);
    assert.deepEqual(
      pruned.layers.map((l) => l.getClassName()),
      model.layers.map((l) => l.getClassName()),
      'same topology: the residual Adds stay',
    );
    await assertEquivalent(model, pruned, removed, [5, 8, 8, 3]);
    pruned.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
    model.dispose();
  });
}

test('bn importance removes the channels with the smallest batch-norm |gamma|', async () => {
  const model = residual();
  const gamma = new Float32Array([0.9, 0.01, 0.8, 0.02, 0.7, 0.03, 0.6, 0.04]);
  for (const name of ['stem_bn', 'b1_bn2', 'b2_bn2']) {
    const [, ...rest] = model.getLayer(name).getWeights();
    model.getLayer(name).setWeights([tf.tensor(gamma), ...rest]);
  }
  const { model: pruned, removed } = await structuredPrune(model, { fraction: 0.5, norm: 'l1', importance: 'bn' });
  assert.deepEqual(removed.stem, [1, 3, 5, 7]);
  pruned.dispose();
  model.dispose();
});

test('depthwise, separable, Concatenate offsets, squeeze-excite Multiply, Flatten → Dense: equals the masked original', async () => {
  const model = depthwiseGraph();
  const { model: pruned, removed } = await structuredPrune(model, { fraction: 0.5, norm: 'l1' });
  // expand's channels flow through dw1 (in = out), dw2 (×2) and into sep; the concat output is coupled to se_expand
  // through the Multiply, so se_expand loses exactly the positions its partners lose.
  // One group of 6 (expand) + 5 (sep) channels: half of the 11 leave, spread by importance.
  assert.equal(removed.expand.length + removed.sep.length, 6);
  const expandKept = 6 - removed.expand.length;
  const cat = [...removed.expand, ...removed.expand.flatMap((c) => [6 + 2 * c, 7 + 2 * c]), ...removed.sep.map((c) => 18 + c)].sort((a, b) => a - b);
  assert.deepEqual(removed.se_expand, cat);
  assert.deepEqual(pruned.getLayer('dw2').getWeights()[0].shape, [3, 3, expandKept, 2]);
  assert.deepEqual(pruned.getLayer('sep').getWeights()[1].shape, [1, 1, expandKept, 5 - removed.sep.length]);
  assert.deepEqual(pruned.getLayer('fc').getWeights()[0].shape, [4 * 4 * 3, 5]);
  assert.ok(pruned.countParams() < model.countParams() * 0.6, `${model.countParams()} → ${pruned.countParams()}`);
  await assertEquivalent(model, pruned, removed, [4, 7, 7, 2]);
  [model, pruned].forEach((m) => m.dispose());
});

test('refuses with 422 NOT_PRUNABLE, naming the layers, when no channel can be removed', async () => {
  const input = tf.input({ shape: [5, 4] });
  const norm = sym(tf.layers.layerNormalization({ name: 'ln' }), sym(tf.layers.dense({ units: 6, name: 'proj' }), input));
  const model = tf.model({ inputs: input, outputs: sym(tf.layers.dense({ units: 2, name: 'out' }), sym(tf.layers.flatten(), norm)) });
  await assert.rejects(structuredPrune(model, { fraction: 0.5, norm: 'l1' }), (e: Error & { code?: string; status?: number }) => {
    assert.equal(e.code, 'NOT_PRUNABLE');
    assert.equal(e.status, 422);
    assert.match(e.message, /ln \(LayerNormalization is not channel-prunable\)/);
    return true;
  });
  model.dispose();
});

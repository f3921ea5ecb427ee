import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { applyMasks, magnitudeMasks, prunableWeights, sparsityOf } from '../../src/ml/compress/prune/magnitude.ts';
import { constantSparsity, polynomialDecay } from '../../src/ml/compress/prune/schedule.ts';
import { blockScores, GradualPruner } from '../../src/ml/compress/prune/gradual.ts';
import { AppError } from '../../src/errors.ts';

await tf.setBackend('cpu');

const mask = (m: Uint8Array) => Array.from(m);

test('per-layer masks zero exactly round(s*n) smallest |w| in each tensor', () => {
  const masks = magnitudeMasks(
    [
      { name: 'a', values: new Float32Array([0.5, -3, 0.1, 2, -0.2]) },
      { name: 'b', values: new Float32Array([10, -20, 30, 40]) },
    ],
    0.5,
    'layer',
  );
  // a: n=5, round(2.5)=3 zeros → 0.1, -0.2, 0.5; b: 2 zeros → 10, -20
  assert.deepEqual(mask(masks.a), [0, 1, 0, 1, 0]);
  assert.deepEqual(mask(masks.b), [0, 0, 1, 1]);
});

test('global scope uses one threshold across tensors and differs from per-layer', () => {
  const weights = [
    { name: 'small', values: new Float32Array([1, 2, 3, 4]) },
    { name: 'large', values: tf.tensor1d([10, 20, 30, 40]) },
  ];
  const layer = magnitudeMasks(weights, 0.5, 'layer');
  const global = magnitudeMasks(weights, 0.5, 'global');
  assert.deepEqual(mask(layer.small), [0, 0, 1, 1]);
  assert.deepEqual(mask(layer.large), [0, 0, 1, 1]);
  assert.deepEqual(mask(global.small), [0, 0, 0, 0]);
  assert.deepEqual(mask(global.large), [1, 1, 1, 1]);
  (weights[1].values as tf.Tensor).dispose();
});

test('ties at the threshold are broken by index (earlier first), also across tensors in global scope', () => {
  const m = magnitudeMasks([{ name: 'w', values: new Float32Array([1, -1, 1, 2, 1]) }], 0.4, 'layer');
  assert.deepEqual(mask(m.w), [0, 0, 1, 1, 1]);
  const g = magnitudeMasks(
    [
      { name: 'x', values: new Float32Array([5, 1]) },
      { name: 'y', values: new Float32Array([1, 1]) },
    ],
    0.5,
    'global',
  );
  assert.deepEqual(
    [mask(g.x), mask(g.y)],
    [
      [1, 0],
      [0, 1],
    ],
  );
});

test('sparsity 0 and 1 are the edge cases; out-of-range sparsity is rejected', () => {
  const w = [{ name: 'w', values: new Float32Array([3, 1, 2]) }];
  assert.deepEqual(mask(magnitudeMasks(w, 0).w), [1, 1, 1]);
  assert.deepEqual(mask(magnitudeMasks(w, 1).w), [0, 0, 0]);
  assert.throws(
    () => magnitudeMasks(w, 1.5),
    (e: unknown) => e instanceof AppError && e.code === 'INVALID_JOB_PARAMS',
  );
});

function smallCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 16, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

test('prunableWeights: conv/dense kernels only, last dense excluded by default, excludeLayers honoured', () => {
  const model = smallCnn();
  const names = prunableWeights(model).map((w) => w.name);
  const [conv, , , dense1, dense2] = model.layers;
  assert.deepEqual(names, [`${conv.name}/kernel`, `${dense1.name}/kernel`]);
  assert.deepEqual(
    prunableWeights(model, [conv.name]).map((w) => w.layerName),
    [dense1.name],
  );
  assert.ok(prunableWeights(model, [], { pruneLastDense: true }).some((w) => w.layerName === dense2.name));
  assert.throws(() => prunableWeights(model, ['nope']), /unknown layer/);
  model.dispose();
});

test('applyMasks zeroes exactly the masked weights in place and leaks no tensors', () => {
  const model = smallCnn();
  const before = tf.memory().numTensors;
  const weights = prunableWeights(model);
  const masks = magnitudeMasks(weights, 0.8, 'layer');
  applyMasks(model, masks);
  assert.equal(tf.memory().numTensors, before);
  for (const w of prunableWeights(model)) {
    const v = w.values.dataSync();
    const m = masks[w.name];
    const expectedZeros = Math.round(0.8 * v.length);
    assert.equal(m.filter((x) => x === 0).length, expectedZeros);
    for (let i = 0; i < v.length; i++) if (m[i] === 0) assert.equal(v[i], 0);
    assert.equal(sparsityOf([w]), expectedZeros / v.length);
  }
  // Re-computing masks on the pruned model keeps the same zeros (they are the smallest now).
  const again = magnitudeMasks(prunableWeights(model), 0.8, 'layer');
  for (const name of Object.keys(masks)) assert.deepEqual(mask(again[name]), mask(masks[name]));
  assert.throws(() => applyMasks(model, { 'nope/kernel': new Uint8Array(1) }), /does not have/);
  model.dispose();
});

test('constantSparsity follows the tfmot pruning-step rule', () => {
  const s = constantSparsity({ targetSparsity: 0.7, beginStep: 10, endStep: 50, frequency: 20 });
  assert.equal(s.sparsityAt(0), 0.7);
  assert.deepEqual(
    [0, 9, 10, 20, 30, 50, 70].map((t) => s.shouldPrune(t)),
    [false, false, true, false, true, true, false],
  );
  const forever = constantSparsity({ targetSparsity: 0.5, beginStep: 0, endStep: -1, frequency: 5 });
  assert.equal(forever.shouldPrune(1_000_000), true);
  assert.equal(forever.shouldPrune(1_000_001), false);
  assert.throws(() => constantSparsity({ targetSparsity: 1 }), /targetSparsity/);
});

test('polynomialDecay matches final + (initial - final) * (1 - p)^power', () => {
  const [initial, final, begin, end, power] = [0.1, 0.9, 100, 1100, 3];
  const s = polynomialDecay({ initialSparsity: initial, finalSparsity: final, beginStep: begin, endStep: end, power, frequency: 100 });
  const ref = (t: number) => final + (initial - final) * (1 - Math.min(1, Math.max(0, (t - begin) / (end - begin)))) ** power;
  for (const t of [0, 100, 350, 600, 1000, 1100, 5000]) assert.ok(Math.abs(s.sparsityAt(t) - ref(t)) < 1e-12, `step ${t}`);
  assert.ok(Math.abs(s.sparsityAt(600) - (0.9 - 0.8 * 0.125)) < 1e-12);
  assert.ok(Math.abs(s.sparsityAt(50) - initial) < 1e-12);
  assert.equal(s.sparsityAt(2000), final);
  assert.deepEqual(
    [99, 100, 150, 200, 1100, 1200].map((t) => s.shouldPrune(t)),
    [false, true, false, true, true, false],
  );
  const quadratic = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 10, power: 2 });
  assert.ok(Math.abs(quadratic.sparsityAt(5) - 0.375) < 1e-12);
  assert.throws(() => polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 10, endStep: 10 }), /endStep/);
});

test('GradualPruner keeps pruned weights at zero through fit and reaches the final sparsity', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [6], units: 12, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([64, 6], 0, 1, 'float32', 1);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 64 }, (_, i) => i % 2),
      'int32',
    ),
    2,
  );
  const pruner = new GradualPruner(model, polynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.75, beginStep: 0, endStep: 6, frequency: 2 }));
  const before = tf.memory().numTensors; // sgd keeps no optimizer state, so any growth is a leak
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, callbacks: pruner.callback() });
  assert.equal(tf.memory().numTensors, before);
  const [kernel] = prunableWeights(model);
  assert.equal(sparsityOf([kernel]), Math.round(0.75 * 72) / 72);
  x.dispose();
  y.dispose();
  model.dispose();
});

test('GradualPruner blockSize: kernels pruned in runs of 4 along the last axis, scored by the run (blockScores)', () => {
  assert.deepEqual(Array.from(blockScores(Float32Array.from([1, -2, 3, 0.5, 0.5, 9]), 3, 2)), [3, 3, 3, 1, 1, 9]);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [10], units: 12, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  const pruner = new GradualPruner(model, constantSparsity({ targetSparsity: 0.75, beginStep: 0, frequency: 1 }), { blockSize: 4 });
  pruner.beforeBatch();
  const [kernel] = prunableWeights(model);
  const v = kernel.values.dataSync();
  assert.equal(sparsityOf([kernel]), 0.75);
  // 90 of 120 weights: 22 whole blocks and the threshold's block split (exact top-k), no other block touched.
  let partial = 0;
  for (let b = 0; b < v.length; b += 4) {
    const zeros = v.slice(b, b + 4).filter((x) => x === 0).length;
    if (zeros !== 0 && zeros !== 4) partial++;
  }
  assert.equal(partial, 1);
  model.dispose();
});

// Sensitivity scan (shape, model restored exactly, monotone damage on a real signal) and the per-layer sparsity
// allocation it feeds; global pruning with per-layer caps; activation-aware scores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { sensitivityScan } from '../../src/ml/compress/sensitivity/scan.ts';
import { allocateSparsity, layerSparsityAt } from '../../src/ml/compress/sensitivity/allocate.ts';
import { magnitudeMasks, prunableWeights } from '../../src/ml/compress/prune/magnitude.ts';
import { activationScores } from '../../src/ml/compress/prune/activation-score.ts';
import { mulberry32 } from '../../src/ml/dataset.ts';

await tf.setBackend('cpu');

function smallModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [6, 6, 1],
        filters: 3,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

test('sensitivity scan: one row per prunable kernel (classifier included), one accuracy per sparsity, model restored', async () => {
  const model = smallModel();
  const rnd = mulberry32(4);
  const x = tf.tensor4d(
    Array.from({ length: 64 * 36 }, () => rnd()),
    [64, 6, 6, 1],
  );
  const before = model.weights.map((w) => Array.from(w.read().dataSync()));
  const reference = (model.predict(x) as tf.Tensor).argMax(-1);
  // "Accuracy" = agreement with the unpruned model's predictions: 1 at baseline, and it can only change by pruning.
  const agreement = async (m: tf.LayersModel) =>
    tf.tidy(() => tf.mean(tf.cast(tf.equal((m.predict(x) as tf.Tensor).argMax(-1), reference), 'float32')).dataSync()[0]);
  const seen: number[] = [];
  const tensors = tf.memory().numTensors;
  const scan = await sensitivityScan(model, agreement, { sparsities: [0.5, 0.9, 0.99], onProgress: (done) => void seen.push(done) });
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leak');
  assert.equal(scan.baseline, 1);
  assert.deepEqual(scan.sparsities, [0.5, 0.9, 0.99]);
  assert.deepEqual(
    scan.layers.map((l) => [l.name, l.params, l.accuracy.length]),
    [
      [model.layers[0].name, 27, 3],
      [model.layers[2].name, 480, 3],
      [model.layers[3].name, 20, 3],
    ],
  );
  for (const l of scan.layers) for (const a of l.accuracy) assert.ok(a >= 0 && a <= 1);
  assert.ok(
    scan.layers.some((l) => l.accuracy[2] < 1),
    'pruning 99% of some layer changes predictions',
  );
  assert.deepEqual(
    seen,
    Array.from({ length: 10 }, (_, i) => i + 1),
    'progress after the baseline and each of 3 × 3 measurements',
  );
  assert.deepEqual(
    model.weights.map((w) => Array.from(w.read().dataSync())),
    before,
    'weights restored exactly',
  );
  tf.dispose([x, reference]);
  model.dispose();
});

test('allocation: the smallest common tolerated drop that reaches the target; robust layers pruned harder', () => {
  const scan = {
    baseline: 0.98,
    sparsities: [0.5, 0.8, 0.9, 0.95],
    layers: [
      { name: 'fragile', weight: 'f', params: 100, accuracy: [0.97, 0.9, 0.8, 0.5] },
      { name: 'robust', weight: 'r', params: 900, accuracy: [0.98, 0.98, 0.979, 0.97] },
    ],
  };
  const a = allocateSparsity(scan, 0.8);
  assert.ok(Math.abs(a.overall - 0.8) < 1e-6, `overall ${a.overall}`);
  assert.ok(a.sparsities.robust > 0.85 && a.sparsities.fragile < 0.5, JSON.stringify(a));
  // Unreachable within the grid: every layer at its grid maximum, then spread up to maxSparsity.
  const all = allocateSparsity(scan, 0.97, { maxSparsity: 0.98 });
  assert.ok(Math.abs(all.overall - 0.97) < 1e-6 && all.sparsities.robust <= 0.98, JSON.stringify(all));
  // The interpolation: drop 0 at 0, 0.01 at 0.5, 0.08 at 0.8 → tolerance 0.045 lands halfway into [0.5, 0.8].
  assert.ok(Math.abs(layerSparsityAt([0.5, 0.8], [0.01, 0.08], 0.045, 0.99) - 0.65) < 1e-9);
});

test('global scope with per-layer caps: the budget is re-spread so the overall sparsity still holds', () => {
  const weights = [
    { name: 'small', values: Float32Array.from({ length: 100 }, (_, i) => 0.001 * (i + 1)) },
    { name: 'big', values: Float32Array.from({ length: 900 }, (_, i) => 0.05 + 0.001 * i) },
  ];
  const uncapped = magnitudeMasks(weights, 0.5, 'global');
  assert.equal(
    uncapped.small.reduce((z, m) => z + (m ? 0 : 1), 0),
    100,
    'without a cap the small-valued layer is wiped out',
  );
  const capped = magnitudeMasks(weights, 0.5, 'global', { maxSparsity: { small: 0.3 } });
  const zeros = (m: Uint8Array) => m.reduce((z, x) => z + (x ? 0 : 1), 0);
  assert.equal(zeros(capped.small), 30);
  assert.equal(zeros(capped.small) + zeros(capped.big), 500);
});

test('activation scores prune the weights of inputs that are never active first', () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.ones() })] });
  // Input 2 is always 0: its weights are as large as any, but useless.
  const x = tf.tensor2d([1, 2, 0, 1, 2, 1, 0, 3, 1, 1, 0, 2], [3, 4]);
  const weights = prunableWeights(model, [], { pruneLastDense: true });
  const masks = magnitudeMasks(activationScores(model, weights, x), 0.25, 'layer');
  assert.deepEqual(Array.from(masks[weights[0].name]), [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
  x.dispose();
  model.dispose();
});

test('activation scores for layers sharing one input (a ResNet conv and its projection shortcut)', () => {
  const input = tf.input({ shape: [4, 4, 1] });
  const stem = tf.layers.conv2d({ filters: 2, kernelSize: 1, kernelInitializer: tf.initializers.ones() }).apply(input) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.ones() }).apply(stem);
  const b = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.ones() }).apply(stem);
  const sum = tf.layers.add().apply([a, b] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(sum)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const x = tf.ones([2, 4, 4, 1]);
  const weights = prunableWeights(model, [], { pruneLastDense: true });
  const scores = activationScores(model, weights, x);
  // The stem outputs 1 everywhere: both convs reading it score |w| · 1 = 1 per weight.
  for (const name of [weights[1].name, weights[2].name])
    assert.ok(
      Array.from(scores.find((s) => s.name === name)!.values as Float32Array).every((v) => Math.abs(v - 1) < 1e-6),
      name,
    );
  x.dispose();
  model.dispose();
});

test('default protection: the classifier always; the first prunable layer only when it is small', async () => {
  const { protectedLayers } = await import('../../src/ml/compress/prune/plan.ts');
  const conv = smallModel(); // first conv 27 weights of 527: small → protected
  assert.deepEqual(protectedLayers(conv).sort(), [conv.layers[3].name, conv.layers[0].name].sort());
  const mlp = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [50], units: 20 }), tf.layers.dense({ units: 10 }), tf.layers.dense({ units: 3 })],
  });
  assert.deepEqual(protectedLayers(mlp), [mlp.layers[2].name], "an MLP's first Dense holds most weights: pruned");
  conv.dispose();
  mlp.dispose();
});

test('global caps: a small layer is not pruned beyond half the target sparsity, a large one up to maxLayerSparsity', async () => {
  const { layerCap, pruningPlan } = await import('../../src/ml/compress/prune/plan.ts');
  assert.equal(layerCap(2_400, 60_480, { maxLayerSparsity: 0.98, targetSparsity: 0.9 }), 0.45, "LeNet-5's conv2 (4% of the weights)");
  assert.equal(layerCap(48_000, 60_480, { maxLayerSparsity: 0.98, targetSparsity: 0.9 }), 0.98);
  assert.equal(layerCap(2_400, 60_480, { maxLayerSparsity: 0.4, targetSparsity: 0.9 }), 0.4, 'the explicit cap still holds');
  assert.equal(layerCap(2_400, 60_480, { maxLayerSparsity: 0.98 }), 0.98, 'no target (autocompress allocations): unchanged');

  // LeNet-5's prunable layers with the defaults' protection (first conv and classifier dense): conv2 is small.
  const lenet = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu' }),
      tf.layers.dense({ units: 84, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const plan = pruningPlan(lenet, { scope: 'global', score: 'magnitude', maxLayerSparsity: 0.98, targetSparsity: 0.9 });
  const caps = Object.entries(plan.maxSparsity!).map(([name, cap]) => [name.split('/')[0], cap]);
  assert.deepEqual(caps, [
    [lenet.layers[2].name, 0.45],
    [lenet.layers[5].name, 0.98],
    [lenet.layers[6].name, 0.98],
  ]);
  lenet.dispose();
});

// BatchNormalization statistics recalibration (src/ml/bn-recalibrate.ts): after it, each layer's moving mean and
// variance are the statistics of that layer's input under the current weights — computed here independently with
// plain tensor ops — with dropout off during the passes, and the layers' momentum and dropout rate restored.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { batchNormLayers, recalibrateBatchNorm } from '../../src/ml/bn-recalibrate.ts';
import { randomValues } from '../helpers/kernel-check.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

function close(actual: tf.Tensor, expected: tf.Tensor, label: string) {
  const a = actual.dataSync();
  const e = expected.dataSync();
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < e.length; i++) {
    scale = Math.max(scale, Math.abs(e[i]));
    diff = Math.max(diff, Math.abs(a[i] - e[i]));
  }
  assert.ok(diff / scale <= 1e-4, `${label}: relative error ${diff / scale} (${Array.from(a).slice(0, 4)} vs ${Array.from(e).slice(0, 4)})`);
}

/** dense → BN → dropout → dense → BN, BN moving statistics set far off. */
function model() {
  const input = tf.input({ shape: [6] });
  const d1 = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: 'ones' });
  const bn1 = tf.layers.batchNormalization({ momentum: 0.99 });
  const drop = tf.layers.dropout({ rate: 0.5, seed: 3 });
  const d2 = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) });
  const bn2 = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2 });
  const out = bn2.apply(d2.apply(drop.apply(bn1.apply(d1.apply(input))))) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  bn1.setWeights([tf.tensor1d(randomValues(5, 4, 0.3, 1)), tf.tensor1d(randomValues(5, 5)), tf.fill([5], 7), tf.fill([5], 9)]);
  bn2.setWeights([tf.ones([4]), tf.zeros([4]), tf.fill([4], -3), tf.fill([4], 0.01)]);
  return { m, d1, bn1, drop, d2, bn2 };
}

/** Biased mean and variance over axis 0 and the BN output with them. */
function stats(h: tf.Tensor2D, bn: tf.layers.Layer & { epsilon: number }) {
  const { mean, variance } = tf.moments(h, 0);
  const [gamma, beta] = bn.getWeights();
  return { mean, variance, out: tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, bn.epsilon))), gamma), beta) };
}

for (const backend of ['cpu', 'wasm']) {
  test(`one batch: moving statistics become the exact statistics of each layer's input (${backend})`, async () => {
    await tf.setBackend(backend);
    const { m, d1, bn1, drop, d2, bn2 } = model();
    const x = tf.tensor2d(randomValues(64 * 6, 6, 2, 0.5), [64, 6]);
    const r = recalibrateBatchNorm(m, x, { batchSize: 64, examples: 64 });
    assert.deepEqual(r, { layers: 2, examples: 64 });
    tf.tidy(() => {
      const s1 = stats(d1.apply(x) as tf.Tensor2D, bn1 as never);
      close(bn1.getWeights()[2], s1.mean, 'bn1 moving mean');
      close(bn1.getWeights()[3], s1.variance, 'bn1 moving variance');
      // Dropout off during the pass: bn2 sees d2 of bn1's batch-normalised output, unscaled.
      const s2 = stats(d2.apply(s1.out) as tf.Tensor2D, bn2 as never);
      close(bn2.getWeights()[2], s2.mean, 'bn2 moving mean');
      close(bn2.getWeights()[3], s2.variance, 'bn2 moving variance');
    });
    assert.equal((bn1 as unknown as { momentum: number }).momentum, 0.99);
    assert.equal((bn2 as unknown as { momentum: number }).momentum, 0.9);
    assert.equal((drop as unknown as { rate: number }).rate, 0.5);
    x.dispose();
    m.dispose();
  });
}

test('several batches: the moving mean is the mean over all the examples used; only the first `rows` rows count', async () => {
  await tf.setBackend('wasm');
  const { m, d1, bn1 } = model();
  const x = tf.tensor2d(randomValues(160 * 6, 8, 2, 0.5), [160, 6]);
  // 128 of the first 128 rows in 4 batches of 32; rows 128-159 (the "validation" rows) are far off.
  const shifted = tf.concat([x.slice(0, 128), tf.add(x.slice(128), 100)]);
  const r = recalibrateBatchNorm(m, shifted, { batchSize: 32, examples: 1000, rows: 128 });
  assert.deepEqual(r, { layers: 2, examples: 128 });
  tf.tidy(() => close(bn1.getWeights()[2], tf.mean(d1.apply(x.slice(0, 128)) as tf.Tensor, 0), 'bn1 moving mean over 4 batches'));
  assert.equal(batchNormLayers(m).length, 2);
  tf.dispose([x, shifted]);
  m.dispose();
});

test('a model without BatchNormalization is left alone', async () => {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const x = tf.ones([4, 3]);
  assert.deepEqual(recalibrateBatchNorm(m, x), { layers: 0, examples: 0 });
  x.dispose();
  m.dispose();
});

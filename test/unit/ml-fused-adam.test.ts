import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { FusedAdamOptimizer } from '../../src/ml/fused-adam.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** Five Adam steps on a small least-squares problem; returns the final weights. */
async function fiveSteps(backend: string, makeOptimizer: () => tf.Optimizer): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const w = tf.tidy(() => tf.variable(tf.tensor2d([0.5, -0.3, 0.2, 0.1, -0.7, 0.9], [3, 2])));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([0.05, -0.02])));
  const x = tf.tensor2d([1, 2, 3, -1, 0.5, 2, 0, -2, 1, 4, 1, -3], [4, 3]);
  const y = tf.tensor2d([1, 0, 0, 1, 1, 1, -1, 2], [4, 2]);
  const optimizer = makeOptimizer();
  for (let i = 0; i < 5; i++) {
    optimizer.minimize(() => tf.losses.meanSquaredError<tf.Tensor, tf.Scalar>(y, tf.add(tf.matMul(x, w), b)), false, [w, b]);
  }
  const out = [(await w.data()) as Float32Array, (await b.data()) as Float32Array];
  optimizer.dispose();
  tf.dispose([w, b, x, y]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors left behind`);
  return out;
}

test('FusedAdamOptimizer on wasm matches tf.train.adam on cpu, leaves nothing behind', async () => {
  const expected = await fiveSteps('cpu', () => tf.train.adam(0.05));
  const actual = await fiveSteps('wasm', () => new FusedAdamOptimizer(0.05, 0.9, 0.999));
  for (let i = 0; i < expected.length; i++) {
    for (let j = 0; j < expected[i].length; j++)
      assert.ok(Math.abs(actual[i][j] - expected[i][j]) < 1e-5, `weight ${i}[${j}]: ${actual[i][j]} vs ${expected[i][j]}`);
  }
  // The weights moved: the comparison is not between two untouched initial values.
  assert.ok(Math.abs(expected[0][0] - 0.5) > 0.1);
});

test('FusedAdamOptimizer keeps tfjs Adam state: getWeights after steps has m and v per variable', async () => {
  await tf.setBackend('wasm');
  const w = tf.variable(tf.tensor1d([1, 2, 3]));
  const optimizer = new FusedAdamOptimizer(0.1, 0.9, 0.999);
  optimizer.minimize(() => tf.sum<tf.Scalar>(tf.square(w)), false, [w]);
  optimizer.minimize(() => tf.sum<tf.Scalar>(tf.square(w)), false, [w]);
  const weights = await optimizer.getWeights();
  assert.equal(optimizer.iterations, 2);
  assert.deepEqual(
    weights.map((x) => x.name),
    ['iter', `${w.name}/m`, `${w.name}/v`],
  );
  // First moment after two steps of g = 2w: (1 - 0.9) * (0.9 * g1 + g2), positive for positive weights.
  assert.ok(((await weights[1].tensor.data()) as Float32Array).every((v) => v > 0));
  tf.dispose(weights.map((x) => x.tensor));
  optimizer.dispose();
  w.dispose();
});

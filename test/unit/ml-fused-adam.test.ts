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

test('wasm SIMD Adam (plain and shared memory) matches the JS loop, tail elements included, in place or not', async () => {
  const { adamUpdate, adamUpdateIn } = await import('../../src/ml/kernels/adam-update.ts');
  const { adamSimd } = await import('../../src/ml/kernels/adam-simd.ts');
  const n = 1027; // not a multiple of 4: the last 3 go through the JS loop
  const attrs = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, correction1: 1 - 0.9 ** 3, correction2: 1 - 0.999 ** 3 };
  const seeded = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.5);
  const expected = [seeded(1), seeded(2), seeded(3).map(Math.abs)];
  adamUpdate(expected[0].slice(), expected[1].slice(), expected[2].slice(), seeded(4), expected as [Float32Array, Float32Array, Float32Array], attrs);
  for (const shared of [false, true]) {
    const probe = new WebAssembly.Memory(shared ? { initial: 1, maximum: 1, shared: true } : { initial: 1 });
    const zeros = new Float32Array(probe.buffer, 0, 8);
    const p = [zeros.subarray(0, 8), zeros, zeros, zeros] as const;
    assert.equal(adamSimd(probe, ...p, [zeros, zeros, zeros], attrs), 8, `the SIMD function runs (shared memory: ${shared})`);
    for (const inPlace of [false, true]) {
      const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 1, shared: true } : { initial: 1 });
      const arrays = Array.from({ length: 7 }, (_, i) => new Float32Array(memory.buffer, 4 + i * 4 * n, n)); // unaligned on purpose
      arrays[0].set(seeded(1));
      arrays[1].set(seeded(2));
      arrays[2].set(seeded(3).map(Math.abs));
      arrays[3].set(seeded(4));
      const [value, m, v, g] = arrays;
      const out: [Float32Array, Float32Array, Float32Array] = inPlace ? [value, m, v] : [arrays[4], arrays[5], arrays[6]];
      adamUpdateIn(memory, value, m, v, g, out, attrs);
      out.forEach((o, k) =>
        o.forEach((x, i) =>
          assert.ok(Math.abs(x - expected[k][i]) < 1e-6, `shared ${shared}, in place ${inPlace}: output ${k}[${i}] ${x} vs ${expected[k][i]}`),
        ),
      );
      assert.ok(Math.abs(out[0][0] - seeded(1)[0]) > 1e-4, 'the weights moved');
    }
  }
});

test('the fused two-thread all-reduce + Adam (g0·s0 + g1·s1 in the same pass) matches reduce-then-Adam, tail included', async () => {
  const { adamUpdate, adamSum2In } = await import('../../src/ml/kernels/adam-update.ts');
  const { adamSum2Simd } = await import('../../src/ml/kernels/adam-simd.ts');
  const n = 1027;
  const attrs = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, correction1: 1 - 0.9 ** 3, correction2: 1 - 0.999 ** 3 };
  const seeded = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.5);
  const scales: [number, number] = [40 / 128, 88 / 128];
  const g = seeded(4).map((a, i) => a * scales[0] + seeded(5)[i] * scales[1]);
  const expected = [seeded(1), seeded(2), seeded(3).map(Math.abs)];
  adamUpdate(expected[0].slice(), expected[1].slice(), expected[2].slice(), g, expected as [Float32Array, Float32Array, Float32Array], attrs);
  for (const memoryKind of ['shared', 'none'] as const) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const [value, m, v, g0, g1] = Array.from({ length: 5 }, (_, i) => new Float32Array(memory.buffer, 4 + i * 4 * n, n));
    value.set(seeded(1));
    m.set(seeded(2));
    v.set(seeded(3).map(Math.abs));
    g0.set(seeded(4));
    g1.set(seeded(5));
    if (memoryKind === 'shared') {
      const probe = new Float32Array(memory.buffer, 60000, 8);
      assert.equal(adamSum2Simd(memory, probe, probe, probe, [probe, probe], scales, [probe, probe, probe], attrs), 8, 'the SIMD function runs');
    }
    adamSum2In(memoryKind === 'shared' ? memory : null, value, m, v, [g0, g1], scales, [value, m, v], attrs);
    [value, m, v].forEach((o, k) =>
      o.forEach((x, i) => assert.ok(Math.abs(x - expected[k][i]) < 1e-6, `${memoryKind}: output ${k}[${i}] ${x} vs ${expected[k][i]}`)),
    );
  }
});

// The fused training-mode BatchNormalization and ReLU6-gradient kernels (src/ml/kernels/batch-norm-train.ts) on
// wasm (SIMD where C is a multiple of 4, JS loops otherwise) against tfjs's own composite path on cpu (within 1e-4): layer output, the gradients of the input, gamma and
// beta, and the moving mean/variance after the step; and that wasm really takes the fused path.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { BN_TRAIN, BN_TRAIN_GRAD, CLIP_GRAD } from '../../src/ml/kernels/batch-norm-train.ts';
import { randomValues, relError } from '../helpers/kernel-check.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** conv → BN → ReLU6 → BN (rank 2 after flatten) on one batch: output, loss gradients, moving statistics. */
async function trainStep(backend: string, shape: number[], maxValue: number | undefined): Promise<{ values: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  const c = shape[shape.length - 1];
  const bn1 = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
  const relu = tf.layers.reLU({ maxValue });
  const flatten = tf.layers.flatten();
  const bn2 = tf.layers.batchNormalization({ momentum: 0.5, epsilon: 1e-5 });
  const input = tf.input({ shape: shape.slice(1) });
  const model = tf.model({ inputs: input, outputs: bn2.apply(flatten.apply(relu.apply(bn1.apply(input)))) as tf.SymbolicTensor });
  // Non-trivial gamma/beta and moving statistics so every term of the gradient shows.
  bn1.setWeights([
    tf.tensor1d(randomValues(c, 1, 0.5, 1)),
    tf.tensor1d(randomValues(c, 2, 0.3)),
    tf.tensor1d(randomValues(c, 3, 0.1)),
    tf.tensor1d(randomValues(c, 4, 0.1, 1)),
  ]);
  const kernels: string[] = [];
  const xv = tf.variable(
    tf.tensor(
      randomValues(
        shape.reduce((a, b) => a * b),
        5,
        2,
        0.7,
      ),
      shape,
    ),
  );
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => {
      const y = model.apply(xv, { training: true }) as tf.Tensor;
      return tf.sum<tf.Scalar>(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
    });
    const names = Object.keys(grads).sort();
    return [value, ...names.map((n) => grads[n])].map((t) => tf.keep(t));
  });
  kernels.push(...profile.kernelNames);
  const result = profile.result as tf.Tensor[];
  const values = [
    ...(await Promise.all(result.map(async (t) => (await t.data()) as Float32Array))),
    ...model.getWeights().map((w) => w.dataSync() as Float32Array),
  ];
  tf.dispose(result);
  xv.dispose();
  model.dispose();
  return { values, kernels };
}

for (const [label, shape, maxValue] of [
  ['4-d, ReLU6', [8, 6, 5, 7], 6],
  ['4-d, ReLU6 clipping often', [4, 3, 3, 16], 0.5],
  ['4-d, plain ReLU', [3, 4, 4, 5], undefined],
  // C a multiple of 4: the SIMD path, over more rows than one SIMD block (256).
  ['4-d, SIMD, 1,024 rows', [16, 8, 8, 8], 6],
] as const) {
  test(`fused training BatchNormalization on wasm matches cpu (${label})`, async () => {
    const expected = await trainStep('cpu', [...shape], maxValue);
    const actual = await trainStep('wasm', [...shape], maxValue);
    assert.ok(actual.kernels.includes(BN_TRAIN) && actual.kernels.includes(BN_TRAIN_GRAD), `fused path not taken: ${actual.kernels}`);
    assert.ok(!expected.kernels.includes(BN_TRAIN), 'cpu takes the stock path');
    assert.equal(actual.kernels.includes(CLIP_GRAD), maxValue !== undefined);
    assert.ok(!actual.kernels.includes('Moments') && !actual.kernels.includes('FusedBatchNorm'));
    assert.equal(actual.values.length, expected.values.length);
    // loss, gradients (input, then every weight), weights incl. moving mean/variance after the step.
    for (let i = 0; i < expected.values.length; i++) {
      const err = relError(actual.values[i], expected.values[i]);
      assert.ok(err <= 1e-4, `value ${i}: relative error ${err}`);
    }
    // The moving statistics moved (the comparison above is not of two untouched initial values).
    assert.ok(expected.values.length >= 8);
  });
}

test('inference mode and a non-last axis take the stock path on wasm and agree with cpu', async () => {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const bn = tf.layers.batchNormalization({ axis: 1 });
    const x = tf.tensor(randomValues(2 * 3 * 4, 9), [2, 3, 4]);
    const { kernelNames, result } = await tf.profile(() =>
      [bn.apply(x, { training: true }) as tf.Tensor, bn.apply(x) as tf.Tensor].map((t) => tf.keep(t)),
    );
    const out = (result as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
    tf.dispose([x, ...(result as tf.Tensor[])]);
    return { out, kernelNames };
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  assert.ok(!wasm.kernelNames.includes(BN_TRAIN));
  for (let i = 0; i < 2; i++) assert.ok(relError(wasm.out[i], cpu.out[i]) <= 1e-4);
});

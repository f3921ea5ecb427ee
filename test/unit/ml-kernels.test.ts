import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { randomValues, relError } from '../helpers/kernel-check.ts';

/** Runs `f` on `backend`, returns its outputs' values and checks it left no tensor and no backend buffer behind. */
async function runOn(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const outs = tf.tidy(f);
  const values = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensor leak`);
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore, `${backend}: backend buffer leak`);
  return values;
}

async function compareBackends(label: string, f: () => tf.Tensor[]): Promise<void> {
  const expected = await runOn('cpu', f);
  const actual = await runOn('wasm', f);
  for (let i = 0; i < expected.length; i++) {
    const err = relError(actual[i], expected[i]);
    assert.ok(err <= 1e-4, `${label} output ${i}: relative error ${err}`);
  }
}

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

type Shape4 = [number, number, number, number];
const convCases: { x: Shape4; f: Shape4; strides: number | [number, number]; pad: 'same' | 'valid' }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 11, 10, 2], f: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 11, 10, 2], f: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [2, 12, 12, 1], f: [5, 5, 1, 6], strides: 2, pad: 'same' },
  { x: [2, 8, 9, 4], f: [2, 4, 4, 3], strides: [2, 3], pad: 'valid' },
  { x: [4, 28, 28, 1], f: [5, 5, 1, 6], strides: 1, pad: 'same' },
];

for (const c of convCases) {
  const label = `conv2d x${c.x} f${c.f} s${c.strides} ${c.pad}`;
  test(`${label}: gradients (Conv2DBackpropFilter/Input) match cpu`, async () => {
    const xv = randomValues(
      c.x.reduce((a, b) => a * b),
      1,
    );
    const fv = randomValues(
      c.f.reduce((a, b) => a * b),
      2,
    );
    await compareBackends(label, () => {
      const x = tf.tensor4d(xv, c.x);
      const f = tf.tensor4d(fv, c.f);
      // Weighted sum so dy is not all ones.
      const loss = (a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      };
      const [dx, df] = tf.grads(loss)([x, f]);
      return [dx, df];
    });
  });
}

test('Conv2DBackpropFilter kernel called directly, NCHW and explicit padding, matches cpu', async () => {
  const xv = randomValues(2 * 3 * 10 * 9, 3);
  const dyv = randomValues(2 * 4 * 5 * 5, 4);
  await compareBackends('NCHW', () => {
    const x = tf.tensor4d(xv, [2, 3, 10, 9]);
    const dy = tf.tensor4d(dyv, [2, 4, 5, 5]);
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
    return [tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x, dy }, attrs)];
  });
  const xv2 = randomValues(2 * 7 * 7 * 2, 5);
  const dyv2 = randomValues(2 * 4 * 4 * 3, 6);
  await compareBackends('explicit pad', () => {
    const x = tf.tensor4d(xv2, [2, 7, 7, 2]);
    const dy = tf.tensor4d(dyv2, [2, 4, 4, 3]);
    const attrs = {
      strides: [2, 2],
      pad: [
        [0, 0],
        [1, 1],
        [2, 0],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      filterShape: [3, 3, 2, 3],
    };
    return [tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x, dy }, attrs)];
  });
});

const poolCases = [
  ['max', 3, 2, 'valid'],
  ['max', 3, 2, 'same'],
  ['max', 2, 2, 'valid'],
  ['max', 3, 1, 'same'],
  ['avg', 3, 2, 'valid'],
  ['avg', 3, 1, 'same'],
  ['avg', 2, 2, 'same'],
] as const;
for (const [kind, size, strides, pad] of poolCases) {
  // Shifted to mostly negative values: the stock wasm MaxPoolGrad fails exactly there.
  for (const shift of [0, -0.8]) {
    test(`${kind}Pool ${size}x${size} stride ${strides} ${pad}, values shifted ${shift}: forward and gradient match cpu`, async () => {
      const xv = randomValues(2 * 9 * 9 * 3, 7).map((v) => v + shift);
      await compareBackends(`${kind}Pool`, () => {
        const x = tf.tensor4d(xv, [2, 9, 9, 3]);
        const pool = (a: tf.Tensor) =>
          kind === 'max' ? tf.maxPool(a as tf.Tensor4D, size, strides, pad) : tf.avgPool(a as tf.Tensor4D, size, strides, pad);
        const y = pool(x);
        const w = tf.sin(tf.range(0, y.size).reshape(y.shape));
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), w)))(x)];
      });
    });
  }
}

test('maxPool gradient after relu (all-zero windows) matches cpu', async () => {
  const xv = randomValues(2 * 8 * 8 * 4, 9).map((v) => v - 0.7);
  await compareBackends('relu+maxPool', () => {
    const x = tf.tensor4d(xv, [2, 8, 8, 4]);
    const w = tf.range(1, 2 * 4 * 4 * 4 + 1).reshape([2, 4, 4, 4]);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.relu(a as tf.Tensor4D), 2, 2, 'valid'), w)))(x)];
  });
});

test('relu, softmax cross-entropy and batch-norm gradients match cpu', async () => {
  const xv = randomValues(8 * 10, 8);
  const labels = Array.from({ length: 8 }, (_, i) => (i * 3) % 10);
  await compareBackends('dense ops', () => {
    const x = tf.tensor2d(xv, [8, 10]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const f = (a: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, 0);
      const normed = tf.batchNorm(a, mean, variance, tf.fill([10], 0.1), tf.linspace(0.5, 1.5, 10), 1e-3);
      return tf.losses.softmaxCrossEntropy(y, tf.relu(normed));
    };
    return [tf.grad(f)(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(a), y)))(x)];
  });
});

test('BatchMatMul with transposeA / transposeB (2-D and batched) matches cpu', async () => {
  const av = randomValues(3 * 7 * 5, 10);
  const bv = randomValues(3 * 7 * 4, 11);
  await compareBackends('matMul', () => {
    const a = tf.tensor2d(av.subarray(0, 35), [7, 5]);
    const b = tf.tensor2d(bv.subarray(0, 28), [7, 4]);
    const a3 = tf.tensor3d(av, [3, 7, 5]);
    const b3 = tf.tensor3d(bv, [3, 7, 4]);
    return [
      tf.matMul(a, b, true, false),
      tf.matMul(b, a, true, false),
      tf.matMul(tf.transpose(a), tf.transpose(b), false, true),
      tf.matMul(tf.transpose(a), b, false, false),
      tf.matMul(a3, b3, true, false),
      tf.matMul(tf.transpose(a3, [0, 2, 1]), tf.transpose(b3, [0, 2, 1]), false, true),
    ];
  });
});

test('Tile (block copies) matches cpu: float32, int32 and bool, reps on inner, outer and several axes', async () => {
  const cases: [number[], number[]][] = [
    [[5], [3]],
    [
      [1, 1, 1, 6],
      [2, 3, 4, 1],
    ],
    [
      [2, 3, 4],
      [1, 1, 1],
    ],
    [
      [2, 3, 4],
      [3, 1, 2],
    ],
    [
      [2, 3],
      [1, 4],
    ],
    [
      [2, 1, 3, 1, 2],
      [2, 3, 1, 2, 2],
    ],
    [
      [0, 3],
      [2, 2],
    ],
  ];
  for (const [shape, reps] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = randomValues(n, 12);
    await compareBackends(`tile ${shape} × ${reps}`, () => {
      const x = tf.tensor(v, shape);
      const outs = [tf.tile(x, reps), tf.tile(tf.cast(tf.mul(x, 100), 'int32'), reps), tf.tile(tf.greater(x, 0), reps)];
      // tfjs has Tile's gradient up to rank 4 only.
      const weights = tf.range(0, outs[0].size).reshape(outs[0].shape);
      if (shape.length <= 4) outs.push(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.tile(a, reps), weights)))(x));
      return outs;
    });
  }
});

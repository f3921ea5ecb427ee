// Convolutions with a numeric `pad` on the wasm backend, forward and both gradients, against the cpu backend (within
// 1e-4). Stock tfjs-backend-wasm sized such an output with tfjs-core's quirk (the filter's and stride's height used for
// both dimensions) and XNNPACK wrote its own, wider size past it: the heap was corrupted and the module aborted
// ("memory access out of bounds") on a later allocation, failing every test after it (src/ml/kernels/numeric-pad-conv.ts).
// Meaningful on both paths: with MODELPRESS_NATIVE_BLAS=0 (stock forward + our wasm gradient composites) and without.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/ml/backend.ts';
import { tf } from '../../src/ml/tf.ts';
import { randomValues, relError } from '../helpers/kernel-check.ts';

async function runOn(backend: string, f: () => tf.Tensor[]): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const outs = tf.tidy(f);
  const results = await Promise.all(outs.map(async (t) => ({ shape: t.shape, values: (await t.data()) as Float32Array })));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensor leak`);
  return results;
}

/** wasm equals cpu (shapes, values within 1e-4), and the wasm heap still serves allocations afterwards. */
async function compareBackends(label: string, f: () => tf.Tensor[]): Promise<void> {
  const expected = await runOn('cpu', f);
  const actual = await runOn('wasm', f);
  for (let i = 0; i < expected.length; i++) {
    assert.deepEqual(actual[i].shape, expected[i].shape, `${label} output ${i}: shape`);
    const err = relError(actual[i].values, expected[i].values);
    assert.ok(err <= 1e-4, `${label} output ${i}: relative error ${err}`);
  }
  await heapStillWorks(label);
}

/** A corrupted heap shows on the next allocations (malloc/free trap): make a few hundred. */
async function heapStillWorks(label: string) {
  await tf.setBackend('wasm');
  const sum = tf.tidy(() => {
    let acc = tf.scalar(0);
    for (let i = 0; i < 200; i++) acc = tf.add(acc, tf.sum(tf.fill([17, 33], 1)));
    return acc;
  });
  assert.equal((await sum.data())[0], 200 * 17 * 33, `${label}: the wasm heap after the test`);
  sum.dispose();
}

const tensor = (shape: number[], seed: number) =>
  tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

type Shape4 = [number, number, number, number];
const cases: { x: Shape4; f: Shape4; strides: [number, number]; pad: number }[] = [
  { x: [2, 9, 8, 5], f: [3, 4, 5, 3], strides: [3, 2], pad: 0 }, // stock: allocated [2,3,2,3], written [2,3,3,3]
  { x: [2, 9, 8, 5], f: [3, 4, 5, 3], strides: [3, 2], pad: 1 }, // stock: allocated [2,3,3,3], written [2,3,4,3]
  { x: [1, 8, 8, 2], f: [1, 5, 2, 3], strides: [1, 1], pad: 0 }, // the quirk's output is wider than the real one
  { x: [2, 7, 9, 3], f: [2, 3, 3, 4], strides: [2, 3], pad: 2 },
  { x: [2, 6, 6, 2], f: [3, 3, 2, 2], strides: [1, 1], pad: 4 }, // a pad wider than the filter
  { x: [3, 10, 10, 4], f: [3, 3, 4, 5], strides: [2, 2], pad: 1 }, // square: no quirk, the common case
];

for (const c of cases) {
  test(`conv2d x${c.x} f${c.f} s${c.strides} pad ${c.pad}: forward and both gradients match cpu`, async () => {
    await compareBackends(`conv pad ${c.pad}`, () => {
      const x = tensor(c.x, 1) as tf.Tensor4D;
      const f = tensor(c.f, 2) as tf.Tensor4D;
      const loss = (a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
        return tf.sum(tf.mul(y, tensor(y.shape, 3)));
      };
      return [tf.conv2d(x, f, c.strides, c.pad), ...tf.grads(loss)([x, f])];
    });
  });
}

test('fused conv2d, depthwise conv2d and its gradients with a numeric pad match cpu', async () => {
  await compareBackends('fused conv pad 1', () => [
    tf.fused.conv2d({
      x: tensor([2, 9, 8, 5], 1) as tf.Tensor4D,
      filter: tensor([3, 4, 5, 3], 2) as tf.Tensor4D,
      strides: [3, 2],
      pad: 1,
      bias: tensor([3], 3),
      activation: 'relu',
    }),
  ]);
  await compareBackends('depthwise pad 1', () => {
    const x = tensor([2, 9, 8, 3], 1) as tf.Tensor4D;
    const f = tensor([3, 4, 3, 2], 2) as tf.Tensor4D;
    const loss = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, [3, 2], 1);
      return tf.sum(tf.mul(y, tensor(y.shape, 3)));
    };
    return [tf.depthwiseConv2d(x, f, [3, 2], 1), ...tf.grads(loss)([x, f])];
  });
});

test('maxPool and avgPool with a numeric pad (the same quirk), forward and gradient, match cpu', async () => {
  for (const [name, op] of [
    ['maxPool', tf.maxPool],
    ['avgPool', tf.avgPool],
  ] as const) {
    for (const pad of [0, 1]) {
      await compareBackends(`${name} pad ${pad}`, () => {
        const x = tensor([2, 9, 8, 3], 1) as tf.Tensor4D;
        const loss = (a: tf.Tensor) => {
          const y = op(a as tf.Tensor4D, [3, 4], [3, 2], pad);
          return tf.sum(tf.mul(y, tensor(y.shape, 3)));
        };
        return [op(x, [3, 4], [3, 2], pad), tf.grad(loss)(x)];
      });
    }
  }
});

test('a conv2d gradient kernel given a dy of the wrong shape throws a clear error, and the module keeps working', async () => {
  await tf.setBackend('wasm');
  const attrs = { strides: [3, 2], pad: 1, dataFormat: 'NHWC' };
  const [x, f, dy] = [tensor([2, 9, 8, 5], 1), tensor([3, 4, 5, 3], 2), tensor([2, 3, 4, 3], 3)]; // the real width, not tfjs's 3
  try {
    assert.throws(
      () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: [2, 9, 8, 5] }),
      /Conv2DBackpropInput: dy has shape \[2,3,4,3\] but .* gives \[2,3,3,3\]/,
    );
    assert.throws(
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 4, 5, 3] }),
      /Conv2DBackpropFilter: dy has shape \[2,3,4,3\] but .* gives \[2,3,3,3\]/,
    );
  } finally {
    tf.dispose([x, f, dy]);
  }
  await heapStillWorks('after the refused kernels');
});

// Our wasm depthwise-conv gradient kernels (src/ml/kernels/depthwise-conv2d-backprop-*.ts; the filter gradient in wasm
// SIMD where the channel multiplier is 1 and C a multiple of 4) against the cpu backend within 1e-4: strides,
// padding, dilation, channel multipliers, channel counts on and off the SIMD path.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { randomValues } from '../helpers/kernel-check.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

type Case = { x: [number, number, number, number]; k: number; m: number; stride: number; pad: 'same' | 'valid'; dilation: number };
const cases: Case[] = [
  { x: [3, 9, 9, 8], k: 3, m: 1, stride: 1, pad: 'same', dilation: 1 },
  { x: [2, 10, 11, 16], k: 3, m: 1, stride: 2, pad: 'same', dilation: 1 },
  { x: [2, 8, 8, 12], k: 3, m: 1, stride: 2, pad: 'valid', dilation: 1 },
  { x: [2, 7, 7, 4], k: 5, m: 1, stride: 1, pad: 'same', dilation: 1 },
  { x: [2, 7, 7, 6], k: 3, m: 1, stride: 2, pad: 'same', dilation: 1 },
  { x: [2, 6, 6, 4], k: 3, m: 2, stride: 1, pad: 'same', dilation: 1 },
  { x: [20, 14, 14, 24], k: 3, m: 1, stride: 1, pad: 'same', dilation: 1 },
];

for (const c of cases) {
  test(`depthwise conv gradients ${JSON.stringify(c)}: wasm matches cpu`, async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(
        randomValues(
          c.x.reduce((a, b) => a * b),
          1,
        ),
        c.x,
      );
      const f = tf.tensor4d(randomValues(c.k * c.k * c.x[3] * c.m, 2), [c.k, c.k, c.x[3], c.m]);
      const g = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => {
        const y = tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      });
      const [dx, df] = g([x, f]);
      const out = [await dx.data(), await df.data()] as Float32Array[];
      tf.dispose([x, f, dx, df]);
      return out;
    };
    const expected = await run('cpu');
    const actual = await run('wasm');
    for (let i = 0; i < 2; i++) {
      let diff = 0;
      let scale = 1e-6;
      for (let j = 0; j < expected[i].length; j++) {
        diff = Math.max(diff, Math.abs(actual[i][j] - expected[i][j]));
        scale = Math.max(scale, Math.abs(expected[i][j]));
      }
      assert.ok(diff / scale <= 1e-4, `${i === 0 ? 'dx' : 'dfilter'}: relative error ${diff / scale}`);
    }
  });
}

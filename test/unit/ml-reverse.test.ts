// Our wasm Reverse (src/ml/kernels/reverse.ts: block copies) against the cpu backend's, exactly: filters flipped on
// their spatial axes (the conv gradients' use), size-1 axes, the last axis, negative axes, int32 and bool.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { reverseConfig } from '../../src/ml/kernels/reverse.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

const cases: [number[], number | number[], tf.DataType][] = [
  [[3, 3, 4, 5], [0, 1], 'float32'],
  [[1, 1, 6, 7], [0, 1], 'float32'],
  [[3, 1, 2, 2], [0, 1], 'float32'],
  [[2, 3, 4], [2], 'float32'],
  [[2, 3, 4], [0, 2], 'int32'],
  [[4, 5], -1, 'float32'],
  [[2, 3, 4], [1], 'bool'],
  [[5], [0], 'int32'],
  [[2, 0, 3], [0], 'float32'],
];

for (const [shape, dims, dtype] of cases) {
  test(`Reverse ${shape} dims ${dims} ${dtype} matches cpu`, async () => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : i * 1.5 - 7));
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor(values as number[], shape, dtype);
      const y = tf.reverse(x, dims);
      const out = Array.from(await y.data());
      assert.deepEqual(y.shape, shape);
      assert.equal(y.dtype, dtype);
      tf.dispose([x, y]);
      return out;
    };
    assert.deepEqual(await run('wasm'), await run('cpu'));
  });
}

test('wasm runs our Reverse', () => {
  assert.equal(tf.getKernel('Reverse', 'wasm')?.kernelFunc, reverseConfig.kernelFunc);
});

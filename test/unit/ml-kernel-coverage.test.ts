// Kernel coverage for every layer class modelpress supports (issue 13): the kernels the forward and backward pass
// of each layer use (enumerated with tf.profile on the cpu backend) must all be registered on wasm — and on webgpu
// when a GPU is present — and outputs, loss and every gradient (weights and input) must match cpu within 1e-4.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { LAYER_CASES, type LayerCase } from '../helpers/layer-catalog.ts';
import { randomValues, relError } from '../helpers/kernel-check.ts';

const TOLERANCE = 1e-4;
const backends: string[] = ['wasm'];
let webgpuSkip: string | false = 'no WebGPU adapter on this machine';

before(async () => {
  // initBackend falls back to wasm when WebGPU cannot start (no adapter), which is what CI machines have.
  if ((await initBackend('webgpu')) === 'webgpu') {
    backends.push('webgpu');
    webgpuSkip = false;
  }
  assert.equal(await initBackend('wasm'), 'wasm');
});

/**
 * One training step's numbers: model output, a weighted-sum loss (so dy is not all ones) and the gradients of
 * every trainable weight and of each float input, keyed and ordered by name.
 */
function step(model: tf.LayersModel, inputs: tf.Tensor[], training: boolean): { names: string[]; tensors: tf.Tensor[] } {
  const inputVars = inputs.map((x, i) => (x.dtype === 'float32' ? tf.variable(x, true, `coverage_input_${i}`) : x));
  try {
    return tf.tidy(() => {
      let output: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const y = model.apply(inputVars.length === 1 ? inputVars[0] : inputVars, { training }) as tf.Tensor;
        output = tf.keep(y);
        return tf.sum<tf.Scalar>(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      });
      const names = Object.keys(grads).sort();
      return { names: ['output', 'loss', ...names], tensors: [output!, value, ...names.map((n) => grads[n])] };
    });
  } finally {
    for (const v of inputVars) if (v instanceof tf.Variable) v.dispose();
  }
}

async function run(backend: string, c: LayerCase, model: tf.LayersModel, inputs: tf.Tensor[], training: boolean) {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const { names, tensors } = step(model, inputs, training);
  const values = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${c.className} on ${backend}: tensor leak`);
  return { names, values };
}

const label = (c: LayerCase) => c.className + (c.variant ? ` (${c.variant})` : '');
const usedKernels = new Set<string>();

for (const c of LAYER_CASES) {
  test(`${label(c)}: forward + backward kernels registered on every backend, results match cpu within ${TOLERANCE}`, async () => {
    await tf.setBackend('cpu');
    const model = c.build();
    const inputs = c.inputs();
    try {
      const profile = await tf.profile(() => tf.dispose(step(model, inputs, true).tensors));
      const kernels = profile.kernelNames.filter((k) => !k.endsWith('__op')); // op-level entries, not kernels
      kernels.forEach((k) => usedKernels.add(k));
      const training = !c.random; // random layers differ per run in training mode: compare inference, still run training
      const expected = await run('cpu', c, model, inputs, training);
      for (const backend of backends) {
        const missing = kernels.filter((k) => !tf.getKernel(k, backend));
        assert.deepEqual(missing, [], `${label(c)}: kernels not registered on ${backend}`);
        const actual = await run(backend, c, model, inputs, training);
        assert.deepEqual(actual.names, expected.names);
        // The loss is a sum with cancelling terms: judge it against the size of its terms, not of the (possibly
        // near-zero) total, or float32 rounding alone fails the check (seen: 1.2e-4 on sigmoid/softplus/selu).
        const output = expected.values[0];
        let lossTerms = 0;
        for (let i = 0; i < output.length; i++) lossTerms += Math.abs(output[i] * Math.sin(i));
        expected.values.forEach((e, i) => {
          const err = relError(actual.values[i], e, expected.names[i] === 'loss' ? Math.max(lossTerms, 1e-6) : 1e-6);
          assert.ok(err <= TOLERANCE, `${label(c)} on ${backend}: ${expected.names[i]} differs from cpu by ${err.toExponential(2)}`);
        });
        if (c.random) await run(backend, c, model, inputs, true);
      }
    } finally {
      await tf.setBackend('cpu');
      model.dispose();
      tf.dispose(inputs);
    }
  });
}

test('the enumeration reaches the gradient kernels wasm lacks in tfjs 4.22 (the test would catch a regression)', () => {
  for (const k of [
    'DepthwiseConv2dNativeBackpropInput',
    'DepthwiseConv2dNativeBackpropFilter',
    'UnsortedSegmentSum',
    'Conv2DBackpropFilter',
    'MaxPoolGrad',
  ]) {
    assert.ok(usedKernels.has(k), `${k} not used by any layer case`);
  }
});

test('webgpu: the same coverage runs when a GPU is present', { skip: webgpuSkip }, () => {
  assert.ok(backends.includes('webgpu'));
});

async function compareKernel(label: string, f: () => tf.Tensor[]): Promise<void> {
  const out = async (backend: string) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    const ts = tf.tidy(f);
    const values = await Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(ts);
    assert.equal(tf.memory().numTensors, before, `${label} on ${backend}: tensor leak`);
    assert.equal(tf.engine().backend.numDataIds(), buffers, `${label} on ${backend}: backend buffer leak`);
    return values;
  };
  const expected = await out('cpu');
  for (const backend of backends) {
    const actual = await out(backend);
    expected.forEach((e, i) => {
      const err = relError(actual[i], e);
      assert.ok(err <= TOLERANCE, `${label} on ${backend}, output ${i}: relative error ${err.toExponential(2)}`);
    });
  }
}

type Shape4 = [number, number, number, number];
const depthwiseCases: { x: Shape4; f: Shape4; strides: number; pad: 'same' | 'valid' | number }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 1], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 1], strides: 1, pad: 'valid' },
  { x: [3, 11, 10, 2], f: [3, 3, 2, 2], strides: 2, pad: 'same' },
  { x: [3, 11, 10, 2], f: [3, 3, 2, 3], strides: 2, pad: 'valid' },
  { x: [2, 12, 12, 4], f: [5, 5, 4, 1], strides: 2, pad: 'same' },
  { x: [2, 8, 9, 4], f: [3, 3, 4, 2], strides: 1, pad: 1 },
  { x: [8, 14, 14, 16], f: [3, 3, 16, 1], strides: 1, pad: 'same' },
];
for (const c of depthwiseCases) {
  const name = `depthwiseConv2d x${c.x} f${c.f} s${c.strides} pad ${c.pad}`;
  test(`${name}: DepthwiseConv2dNativeBackpropInput/Filter match cpu`, async () => {
    const xv = randomValues(
      c.x.reduce((a, b) => a * b),
      1,
    );
    const fv = randomValues(
      c.f.reduce((a, b) => a * b),
      2,
    );
    await compareKernel(name, () => {
      const x = tf.tensor4d(xv, c.x);
      const f = tf.tensor4d(fv, c.f);
      const loss = (a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      };
      return tf.grads(loss)([x, f]);
    });
  });
}

test("wasm depthwise gradient kernels honour dilations (tfjs's own gradient refuses them; cpu's kernels ignore them)", async () => {
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const [dx, dw, dxRef, dwRef] = tf.tidy(() => {
    const x = tf.tensor4d(randomValues(2 * 9 * 9 * 2, 11), [2, 9, 9, 2]);
    const f = tf.tensor4d(randomValues(3 * 3 * 2 * 2, 12), [3, 3, 2, 2]);
    const y = tf.depthwiseConv2d(x, f, 1, 'same', 'NHWC', 2);
    const dy = tf.sin(tf.range(0, y.size).reshape(y.shape));
    const attrs = { strides: 1, dilations: 2, pad: 'same' };
    const dx = tf.engine().runKernel<tf.Tensor>(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: f }, { ...attrs, inputShape: x.shape });
    const dw = tf.engine().runKernel<tf.Tensor>(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: f.shape });
    // Reference: the same conv with the dilation written into a 5×5 filter (zeros between taps), no dilation.
    const spread = tf
      .stack([f, tf.zerosLike(f)], 1)
      .reshape([6, 3, 2, 2])
      .slice(0, 5);
    const dilated = tf
      .stack([spread, tf.zerosLike(spread)], 2)
      .reshape([5, 6, 2, 2])
      .slice([0, 0, 0, 0], [5, 5, 2, 2]) as tf.Tensor4D;
    const [dxRef, dwFull] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), dy)),
    )([x, dilated]);
    const dwRef = dwFull.stridedSlice([0, 0, 0, 0], [5, 5, 2, 2], [2, 2, 1, 1]);
    return [dx, dw, dxRef, dwRef];
  });
  assert.ok(relError(dx.dataSync() as Float32Array, dxRef.dataSync() as Float32Array) <= TOLERANCE);
  assert.ok(relError(dw.dataSync() as Float32Array, dwRef.dataSync() as Float32Array) <= TOLERANCE);
  tf.dispose([dx, dw, dxRef, dwRef]);
  assert.equal(tf.memory().numTensors, before);
});

test('UnsortedSegmentSum (gather gradient, repeated and out-of-range ids) matches cpu', async () => {
  const xv = randomValues(7 * 3 * 2, 3);
  await compareKernel('unsortedSegmentSum', () => {
    const x = tf.tensor3d(xv, [7, 3, 2]);
    const ids = tf.tensor1d([0, 4, 4, 1, 0, 9, 2], 'int32');
    const table = tf.tensor2d(randomValues(6 * 5, 4), [6, 5]);
    const gatherGrad = tf.grad((t: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.gather(
            t,
            tf.tensor2d(
              [
                [1, 5],
                [5, 0],
                [1, 1],
              ],
              [3, 2],
              'int32',
            ),
          ),
          2,
        ),
      ),
    )(table);
    return [tf.unsortedSegmentSum(x, ids, 5), gatherGrad];
  });
});

test('kernels wasm lacks fall back to the cpu kernel (Einsum), with no leaks', async () => {
  const av = randomValues(3 * 4, 5);
  const bv = randomValues(4 * 5, 6);
  await compareKernel('einsum', () => [tf.einsum('ij,jk->ik', tf.tensor2d(av, [3, 4]), tf.tensor2d(bv, [4, 5]))]);
  const cpuKernels = tf.getKernelsForBackend('cpu').map((k) => k.kernelName);
  const missing = cpuKernels.filter((k) => !tf.getKernel(k, 'wasm') && !/Complex|FFT|Imag|Real$|String|Regex/.test(k));
  assert.deepEqual(missing, [], 'every numeric cpu kernel has a wasm kernel (own or fallback)');
});

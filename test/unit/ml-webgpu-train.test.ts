// The WebGPU training program (src/ml/webgpu) against tfjs's autodiff on the cpu backend: same initial weights, same
// batches, then the weights after SGD steps within float tolerance, and Adam's epoch loss and accuracy. Needs a WebGPU
// adapter: a GPU, or Mesa's lavapipe (Vulkan on the CPU) from scripts/lavapipe.sh, which CI passes as
// MODELPRESS_TEST_VULKAN_ICD; skipped where there is none.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { buildModel } from '../../src/ml/architectures.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { tf } from '../../src/ml/tf.ts';
import { trainModel, type TrainOptions } from '../../src/ml/train.ts';
import { lastGpuRefusal } from '../../src/ml/webgpu/gpu-stepper.ts';

let gpu = false;
before(async () => {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // Read by the Vulkan loader when Dawn starts, i.e. after this: the driver applies to this test process alone.
  const icd = process.env.MODELPRESS_TEST_VULKAN_ICD ?? 'node_modules/.cache/lavapipe/lvp.json';
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  gpu = (await initBackend('webgpu')) === 'webgpu';
});
after(async () => {
  await tf.setBackend('cpu');
});

/** A seeded random data set: n rows of `shape`, one-hot labels over `classes`. */
function dataset(n: number, shape: number[], classes: number, seed: number) {
  let s = seed;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => rand());
  const labels = Array.from({ length: n }, () => Math.floor(rand() * classes));
  return { x, shape: [n, ...shape], labels, classes };
}

/** Trains a fresh model from `init` weights on `backend`; returns the weights after and the history. */
async function trainOn(
  backend: 'webgpu' | 'cpu',
  make: () => tf.LayersModel,
  init: tf.Tensor[],
  d: ReturnType<typeof dataset>,
  opts: TrainOptions,
): Promise<{ weights: Float32Array[]; loss: number; accuracy: number; refusal: string | null }> {
  await tf.setBackend(backend);
  const model = make();
  model.setWeights(init);
  const x = tf.tensor(d.x, d.shape);
  const y = tf.oneHot(tf.tensor1d(d.labels, 'int32'), d.classes).toFloat();
  try {
    const r = await trainModel(model, { x, y }, opts);
    const weights = await Promise.all(model.getWeights().map(async (w) => Float32Array.from(await w.data())));
    return { weights, loss: r.history[0].loss, accuracy: r.history[0].accuracy, refusal: lastGpuRefusal };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((w, i) => w.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** Every layer kind and option the program covers: strides, both paddings, overlapping pools, a standalone ReLU, softmax head. */
function coverageModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [9, 9, 2],
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: 'glorotUniform',
      }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 2, padding: 'valid' }),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 7, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

const sgd = (batchSize: number): TrainOptions => ({ epochs: 1, batchSize, optimizer: 'sgd', learningRate: 0.1, validationSplit: 0, seed: 3 });

/** Trains `make()`'s model from the same weights on the GPU program and on cpu autodiff with SGD; both must agree. */
async function sgdMatchesAutodiff(make: () => tf.LayersModel, d: ReturnType<typeof dataset>, batchSize: number): Promise<void> {
  await tf.setBackend('cpu');
  const init = make().getWeights();
  const g = await trainOn('webgpu', make, init, d, sgd(batchSize));
  assert.equal(g.refusal, null);
  const c = await trainOn('cpu', make, init, d, sgd(batchSize));
  assert.ok(maxDiff(g.weights, c.weights) < 1e-4, `max weight difference ${maxDiff(g.weights, c.weights)}`);
  assert.ok(Math.abs(g.loss - c.loss) < 1e-4, `loss ${g.loss} vs ${c.loss}`);
  assert.equal(g.accuracy, c.accuracy);
}

describe('WebGPU training program', () => {
  test('LeNet-300-100: weights after SGD steps match autodiff on cpu', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    // 64 + 64 + 22 rows: the last batch is short.
    await sgdMatchesAutodiff(() => buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 }), dataset(150, [28, 28, 1], 10, 7), 64);
  });

  test('LeNet-5: weights after SGD steps match autodiff on cpu', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    await sgdMatchesAutodiff(() => buildModel('lenet-5', [28, 28, 1], 10, { seed: 2 }), dataset(80, [28, 28, 1], 10, 9), 32);
  });

  test('strides, paddings, overlapping pools, a standalone ReLU and a softmax head match autodiff', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    await sgdMatchesAutodiff(coverageModel, dataset(40, [9, 9, 2], 3, 11), 16);
  });

  test('Adam and momentum: the epoch loss and weights follow autodiff', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    const make = () => buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 4 });
    await tf.setBackend('cpu');
    const init = make().getWeights();
    const d = dataset(256, [28, 28, 1], 10, 13);
    for (const optimizer of ['adam', 'momentum'] as const) {
      const opts: TrainOptions = { epochs: 1, batchSize: 64, optimizer, learningRate: 1e-3, validationSplit: 0, seed: 5 };
      const g = await trainOn('webgpu', make, init, d, opts);
      assert.equal(g.refusal, null);
      const c = await trainOn('cpu', make, init, d, opts);
      assert.ok(Math.abs(g.loss - c.loss) < 1e-3, `${optimizer}: loss ${g.loss} vs ${c.loss}`);
      // Adam's first steps move a weight by ~lr whatever its gradient's size, so a gradient that is ~0 on both sides
      // may move either way: bound the difference by a few steps of lr.
      assert.ok(maxDiff(g.weights, c.weights) < 1e-2, `${optimizer}: max weight difference ${maxDiff(g.weights, c.weights)}`);
    }
  });

  test('an observing onBatch hook keeps the program; a weight-editing afterBatch takes tfjs ops', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    const make = () => buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 6 });
    await tf.setBackend('webgpu');
    const d = dataset(64, [28, 28, 1], 10, 19);
    const x = tf.tensor(d.x, d.shape);
    const y = tf.oneHot(tf.tensor1d(d.labels, 'int32'), d.classes).toFloat();
    try {
      let batches = 0;
      const model = make();
      await trainModel(model, { x, y }, sgd(16), { onBatch: () => void batches++ });
      assert.equal(lastGpuRefusal, null);
      assert.equal(batches, 4);
      // A hook that zeroes a weight after every batch: its edits must stand at the end (the program would train its
      // own copy and write it back over them).
      const zeroFirst = () => {
        const v = model.layers.find((l) => l.getClassName() === 'Dense')!.weights[0].read() as tf.Variable;
        v.assign(
          tf.tidy(() =>
            v.mul(
              tf
                .oneHot(tf.tensor1d([0], 'int32'), v.size)
                .reshape(v.shape)
                .sub(1)
                .neg(),
            ),
          ),
        );
      };
      await trainModel(model, { x, y }, sgd(16), { afterBatch: zeroFirst });
      const after = await model.layers
        .find((l) => l.getClassName() === 'Dense')!
        .getWeights()[0]
        .data();
      assert.equal(after[0], 0);
      model.dispose();
    } finally {
      tf.dispose([x, y]);
    }
  });

  test('a model outside the plan trains on tfjs ops and says why', async (t) => {
    if (!gpu) return t.skip('no WebGPU adapter');
    const make = () =>
      tf.sequential({
        layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'tanh' }), tf.layers.dense({ units: 2, activation: 'softmax' })],
      });
    await tf.setBackend('cpu');
    const init = make().getWeights();
    const d = dataset(20, [4], 2, 17);
    // cpu first: tfjs-layers caches scalars on the backend that made them, and moving them off WebGPU needs a sync
    // read that tfjs-webgpu cannot do under Node.
    const c = await trainOn('cpu', make, init, d, sgd(8));
    const g = await trainOn('webgpu', make, init, d, sgd(8));
    assert.match(g.refusal ?? '', /activation tanh/);
    assert.ok(maxDiff(g.weights, c.weights) < 1e-4);
  });
});

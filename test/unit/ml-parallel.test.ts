// Data-parallel training (src/ml/parallel/): two threads give the single-thread result within float tolerance,
// for dense and conv models, with custom losses rebuilt in the replicas and with weights changed between steps;
// cancellation stops within one batch; a replica failure fails the training and the pool recovers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, type PresetName } from '../../src/ml/architectures.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { closeReplicas, warmReplicas } from '../../src/ml/parallel/pool.ts';
import { tf } from '../../src/ml/tf.ts';
import { createOptimizer, disposeOptimizer, trainModel, type TrainOptions, type TrainResult } from '../../src/ml/train.ts';
import { defaultLoss } from '../../src/ml/loss.ts';
import { ParallelStepper } from '../../src/ml/parallel/leader.ts';
import { LocalStepper, trainableVariables } from '../../src/ml/train-step.ts';
import { evaluateModel } from '../../src/ml/evaluate.ts';
import { readMnist } from './ml-mnist.ts';
import { scaledCrossEntropy } from '../helpers/replica-losses.ts';
import { logitsModel } from '../../src/ml/compress/distill/loss.ts';
import {
  cachedDistillLoss,
  cachedDistillLossRef,
  distillLoss,
  distillLossRef,
  distillTargets,
  teacherLogitsOf,
} from '../../src/ml/compress/distill/teacher-loss.ts';
import '../../src/ml/layers/index.ts';

const LOSSES = new URL('../helpers/replica-losses.ts', import.meta.url).href;
let data: { x: tf.Tensor; y: tf.Tensor };
let testSet: { x: tf.Tensor; y: tf.Tensor };

function mnist(split: 'train' | 'test', n: number): { x: tf.Tensor; y: tf.Tensor } {
  const { images, labels } = readMnist(split, n);
  const ys = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) ys[i * 10 + labels[i]] = 1;
  return {
    x: tf.tensor(
      Float32Array.from(images, (v) => v / 255),
      [n, 28, 28, 1],
    ),
    y: tf.tensor2d(ys, [n, 10]),
  };
}

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  data = mnist('train', 768);
  testSet = mnist('test', 500);
  // Started replicas join from the first step: the comparison below is over every step.
  await warmReplicas(1);
});
after(async () => {
  tf.dispose([data.x, data.y, testSet.x, testSet.y]);
  await closeReplicas();
});

const base: TrainOptions = { epochs: 2, batchSize: 64, optimizer: 'adam', learningRate: 2e-3, validationSplit: 0, seed: 3 };

async function trained(
  preset: PresetName,
  opts: Partial<TrainOptions>,
  hooks: Parameters<typeof trainModel>[3] = {},
): Promise<{ result: TrainResult; weights: Float32Array[]; accuracy: number }> {
  const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
  try {
    const result = await trainModel(model, data, { ...base, ...opts }, hooks);
    const weights = model.weights.map((w) => w.read().dataSync() as Float32Array);
    const { accuracy } = await evaluateModel(model, testSet);
    return { result, weights, accuracy };
  } finally {
    model.dispose();
  }
}

function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((w, i) => w.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i][j])))));
  return max;
}

test('lenet-300-100: 2 threads give the 1-thread weights (same seed) within float tolerance and the same accuracy', async () => {
  const tensors = tf.memory().numTensors;
  const one = await trained('lenet-300-100', { threads: 1 });
  const two = await trained('lenet-300-100', { threads: 2 });
  assert.equal(one.result.threads, 1);
  assert.equal(two.result.threads, 2);
  assert.equal(tf.memory().numTensors, tensors, 'no tensors left behind');
  assert.ok(maxDifference(one.weights, two.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, two.weights)}`);
  two.result.history.forEach((h, i) => {
    assert.ok(Math.abs(h.loss - one.result.history[i].loss) < 1e-4, `epoch ${i} loss ${h.loss} vs ${one.result.history[i].loss}`);
    assert.ok(Math.abs(h.accuracy - one.result.history[i].accuracy) < 2e-3);
  });
  assert.ok(Math.abs(two.accuracy - one.accuracy) <= 0.004, `test accuracy ${two.accuracy} vs ${one.accuracy}`);
  assert.ok(two.accuracy > 0.8, `learned: ${two.accuracy}`);
});

test('lenet-5 (conv, pooling): 2 threads match 1 thread', async () => {
  const opts = { epochs: 1, batchSize: 128 };
  const one = await trained('lenet-5', { ...opts, threads: 1 });
  const two = await trained('lenet-5', { ...opts, threads: 2 });
  assert.equal(two.result.threads, 2);
  assert.ok(maxDifference(one.weights, two.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, two.weights)}`);
  assert.ok(Math.abs(two.result.history[0].loss - one.result.history[0].loss) < 1e-4);
});

test('momentum (the leader applies the reduced gradient; Adam is split across the threads): 2 threads match 1 thread', async () => {
  const opts = { epochs: 1, optimizer: 'momentum' as const, learningRate: 0.02 };
  const one = await trained('lenet-300-100', { ...opts, threads: 1 });
  const two = await trained('lenet-300-100', { ...opts, threads: 2 });
  assert.equal(two.result.threads, 2);
  assert.ok(maxDifference(one.weights, two.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, two.weights)}`);
  assert.ok(Math.abs(two.result.history[0].loss - one.result.history[0].loss) < 1e-4);
});

test('calibrateThreads: the first steps alternate 1 and 2 threads, one way is kept, and the result still matches 1 thread', async () => {
  // 768 rows in batches of 16: 48 steps, 28 of them calibration (4 warm-up + 3 blocks of 4 each way).
  const opts = { epochs: 1, batchSize: 16 };
  const one = await trained('lenet-300-100', { ...opts, threads: 1 });
  const auto = await trained('lenet-300-100', { ...opts, threads: 2, calibrateThreads: true });
  const c = auto.result.threadCalibration;
  assert.ok(c, 'calibration decided');
  assert.ok(c.parallelMsPerRow > 0 && c.localMsPerRow > 0);
  assert.equal(auto.result.threads, c.kept);
  assert.equal(c.kept, c.parallelMsPerRow * 1.1 < c.localMsPerRow ? 2 : 1);
  assert.ok(maxDifference(one.weights, auto.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, auto.weights)}`);
  assert.ok(Math.abs(auto.result.history[0].loss - one.result.history[0].loss) < 1e-4);
});

test('Adam moments move into shared memory when replicas join after local steps, and back at the end', async () => {
  // A job's first steps may run before its replica threads are up; the optimizer state must carry over both ways.
  const rows = (k: number) => Int32Array.from({ length: 64 }, (_, i) => (k * 64 + i) % 768);
  const run = async (parallel: boolean) => {
    const model = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 });
    const optimizer = createOptimizer('adam', 2e-3);
    try {
      const inputs = { model, data, optimizer, lossFn: defaultLoss(model), vars: trainableVariables(model) };
      const local = new LocalStepper(inputs);
      for (let k = 0; k < 2; k++) local.step(rows(k));
      if (parallel) {
        const stepper = await ParallelStepper.start(inputs, { threads: 2, batchSize: 64, loss: null });
        for (let k = 2; k < 5; k++) await stepper.step(rows(k));
        assert.equal(stepper.maxParticipants, 2);
        await stepper.close();
      } else for (let k = 2; k < 5; k++) local.step(rows(k));
      local.step(rows(5));
      const state = await optimizer.getWeights();
      const out = {
        iterations: optimizer.iterations,
        names: state.map((w) => w.name),
        moments: state.map((w) => w.tensor.dataSync() as Float32Array),
        weights: model.weights.map((w) => w.read().dataSync() as Float32Array),
      };
      tf.dispose(state.map((w) => w.tensor));
      return out;
    } finally {
      disposeOptimizer(optimizer);
      model.dispose();
    }
  };
  const one = await run(false);
  const two = await run(true);
  assert.equal(two.iterations, 6);
  const unnumbered = (names: string[]) => names.map((n) => n.replace(/_\d+/g, '')); // the two models' variable names differ
  assert.deepEqual(unnumbered(two.names), unnumbered(one.names));
  assert.ok(maxDifference(one.moments, two.moments) < 1e-5, `moments differ by ${maxDifference(one.moments, two.moments)}`);
  assert.ok(maxDifference(one.weights, two.weights) < 1e-4, `weights differ by ${maxDifference(one.weights, two.weights)}`);
});

test('a custom loss is rebuilt in the replicas from its factory; without one training stays on one thread', async () => {
  const lossFn = scaledCrossEntropy({ scale: 3 });
  const one = await trained('lenet-300-100', { epochs: 1, lossFn, threads: 1 });
  const two = await trained('lenet-300-100', {
    epochs: 1,
    lossFn,
    threads: 2,
    replicaLoss: { module: LOSSES, name: 'scaledCrossEntropy', args: { scale: 3 } },
  });
  const closureOnly = await trained('lenet-300-100', { epochs: 1, lossFn, threads: 2 });
  assert.equal(two.result.threads, 2);
  assert.equal(closureOnly.result.threads, 1);
  assert.ok(Math.abs(two.result.history[0].loss - one.result.history[0].loss) < 1e-4, 'the scaled loss is what both report');
  assert.ok(maxDifference(one.weights, two.weights) < 1e-3);
});

test('distillation trains data-parallel: the teacher travels to the replicas, 2 threads match 1 thread', async () => {
  const teacher = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 2 });
  teacher.trainable = false;
  const kd = { temperature: 4, alpha: 0.7 };
  const distilled = async (threads: number) => {
    const student = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 });
    try {
      const replicaLoss = threads > 1 ? await distillLossRef(teacher, kd) : undefined;
      const lossFn = distillLoss(teacher, logitsModel(teacher), kd);
      const result = await trainModel(logitsModel(student), data, { ...base, epochs: 1, threads, lossFn, replicaLoss });
      return { result, weights: student.weights.map((w) => w.read().dataSync() as Float32Array) };
    } finally {
      student.dispose();
    }
  };
  try {
    const one = await distilled(1);
    const two = await distilled(2);
    assert.equal(two.result.threads, 2);
    assert.ok(Math.abs(two.result.history[0].loss - one.result.history[0].loss) < 1e-4, 'the distillation loss is what both report');
    assert.ok(maxDifference(one.weights, two.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, two.weights)}`);
    // The distill job's path: teacher logits cached once as extra target columns; the replicas need no teacher.
    const targets = tf.tidy(() => distillTargets(data.y as tf.Tensor2D, teacherLogitsOf(teacher, data.x)));
    try {
      const student = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 });
      try {
        const opts = { ...base, epochs: 1, threads: 2, lossFn: cachedDistillLoss(kd), replicaLoss: cachedDistillLossRef(kd) };
        const result = await trainModel(logitsModel(student), { x: data.x, y: targets }, opts);
        const weights = student.weights.map((w) => w.read().dataSync() as Float32Array);
        assert.equal(result.threads, 2);
        assert.ok(Math.abs(result.history[0].loss - one.result.history[0].loss) < 1e-4, 'cached: the same loss');
        assert.equal(result.history[0].accuracy, one.result.history[0].accuracy, 'accuracy counted on the label columns');
        assert.ok(maxDifference(one.weights, weights) < 1e-3, `cached: weights differ by ${maxDifference(one.weights, weights)}`);
      } finally {
        student.dispose();
      }
    } finally {
      targets.dispose();
    }
  } finally {
    teacher.dispose();
  }
});

test('a model with a layer class tfjs lacks (Subtract) trains on 2 threads: replicas register our layers too', async () => {
  const input = tf.input({ shape: [28, 28, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const a = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(flat);
  const b = tf.layers.dense({ units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(flat);
  const diff = tf.serialization.SerializationMap.getMap().classNameMap.Subtract[0] as unknown as new (c: object) => tf.layers.Layer;
  const sub = new diff({}).apply([a, b] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(sub);
  const model = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
  try {
    const result = await trainModel(model, data, { ...base, epochs: 1, threads: 2 });
    assert.equal(result.threads, 2);
    assert.ok(Number.isFinite(result.history[0].loss));
  } finally {
    model.dispose();
  }
});

test('weights changed after each step (afterBatch) reach the replicas: pruned weights stay zero, results match', async () => {
  // Zero the first 100 input rows of the first Dense kernel after every step, as magnitude pruning re-applies its masks.
  const mask = (model: tf.LayersModel) => {
    const dense = model.layers.find((l) => l.getClassName() === 'Dense')!;
    const [kernel, bias] = dense.getWeights();
    const [rows, units] = kernel.shape;
    const masked = tf.tidy(() => tf.mul(kernel, tf.concat([tf.zeros([100, units]), tf.ones([rows - 100, units])])));
    dense.setWeights([masked, bias]);
    masked.dispose();
  };
  const one = await trained('lenet-300-100', { epochs: 1, threads: 1 }, { afterBatch: mask });
  const two = await trained('lenet-300-100', { epochs: 1, threads: 2 }, { afterBatch: mask });
  assert.equal(two.result.threads, 2);
  assert.ok(
    two.weights[0].subarray(0, 100 * 300).every((v) => v === 0),
    'masked weights are zero',
  );
  assert.ok(maxDifference(one.weights, two.weights) < 1e-3, `weights differ by ${maxDifference(one.weights, two.weights)}`);
});

test('shouldStop stops a 2-thread training before the next batch; the replicas serve the next training', async () => {
  let steps = 0;
  const canceled = await trained('lenet-300-100', { threads: 2 }, { shouldStop: () => steps >= 3, afterBatch: () => void steps++ });
  assert.equal(canceled.result.canceled, true);
  assert.equal(canceled.result.steps, 3);
  const next = await trained('lenet-300-100', { epochs: 1, threads: 2 });
  assert.equal(next.result.threads, 2);
  assert.equal(next.result.steps, 768 / 64);
});

test('a replica that cannot build its loss fails the training with its error; the next training works', async () => {
  const lossFn = scaledCrossEntropy({ scale: 1 });
  await assert.rejects(
    trained('lenet-300-100', {
      epochs: 1,
      lossFn,
      threads: 2,
      replicaLoss: { module: LOSSES, name: 'brokenLoss', args: { message: 'no teacher here' } },
    }),
    /training replica 1 failed: no teacher here/,
  );
  const next = await trained('lenet-300-100', { epochs: 1, threads: 2 });
  assert.equal(next.result.threads, 2);
});

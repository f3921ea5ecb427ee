import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { buildModel } from '../../src/ml/architectures.ts';
import { loadSplit, type SplitTensors } from '../../src/ml/dataset.ts';
import { crossEntropy, trainModel, type EpochLog, type OptimizerName } from '../../src/ml/train.ts';
import { compareLatency, evaluateModel, getLatencyRuns, setLatencyRuns } from '../../src/ml/evaluate.ts';
import { modelStats } from '../../src/ml/model-stats.ts';
import { FsObjectStore } from '../../src/storage/fs-store.ts';
import { putMnistSplit } from './ml-mnist.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ml-train-'));
const store = new FsObjectStore(dir);
const normalization = { scale: 1 / 255, offset: 0 };
let train: SplitTensors;
let testSet: SplitTensors;

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  await store.init();
  train = await loadSplit(store, await putMnistSplit(store, 'mnist/', 'train', 5000), { normalization, numClasses: 10 });
  testSet = await loadSplit(store, await putMnistSplit(store, 'mnist/', 'test'), { normalization, numClasses: 10 });
});
after(() => {
  tf.dispose([train.x, train.y, testSet.x, testSet.y]);
  rmSync(dir, { recursive: true, force: true });
});

const subset = (n: number) => ({ x: train.x.slice(0, n), y: train.y.slice(0, n) });

test('lenet-300-100 on 5,000 real MNIST examples, 1 epoch: >= 0.90 on the 10k test set; evaluation adds up', async () => {
  const model = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 0 });
  const before = tf.memory().numTensors;
  const steps: number[] = [];
  const epochs: EpochLog[] = [];
  const result = await trainModel(
    model,
    train,
    { epochs: 1, batchSize: 16, optimizer: 'adam', learningRate: 5e-4, validationSplit: 0, seed: 0 },
    {
      onStep: (s) => {
        steps.push(s.step);
        assert.ok(Number.isFinite(s.loss));
      },
      onEpoch: (e) => {
        epochs.push(e);
      },
    },
  );
  assert.equal(tf.memory().numTensors, before, 'training leaves no tensors behind');
  assert.equal(result.steps, Math.ceil(5000 / 16));
  assert.deepEqual(steps.slice(0, 3), [10, 20, 30]);
  assert.equal(epochs.length, 1);
  assert.ok(epochs[0].samplesPerSec > 0 && epochs[0].accuracy > 0.8, JSON.stringify(epochs[0]));

  const evaluation = await evaluateModel(model, testSet, { latency: true });
  assert.ok(evaluation.accuracy >= 0.9, `test accuracy ${evaluation.accuracy}`);
  assert.equal(
    evaluation.confusionMatrix.flat().reduce((a, b) => a + b, 0),
    10_000,
  );
  assert.equal(evaluation.perClassAccuracy.length, 10);
  assert.ok(evaluation.latencyMs!.batch1.p50 > 0 && evaluation.latencyMs!.batch256.p95 >= evaluation.latencyMs!.batch256.p50);
  assert.ok(Math.abs(evaluation.loss) < 1);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('a small conv model trains on wasm with decreasing loss and a stable tensor count', async () => {
  const data = subset(1000);
  const model = buildModel(
    {
      layers: [
        { type: 'conv2d', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
        { type: 'maxPooling2d', poolSize: 2 },
        { type: 'conv2d', filters: 8, kernelSize: 3, activation: 'relu' },
        { type: 'flatten' },
      ],
    },
    [28, 28, 1],
    10,
    { seed: 1 },
  );
  const counts: number[] = [];
  const result = await trainModel(
    model,
    data,
    { epochs: 3, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, validationSplit: 0.2, seed: 1 },
    {
      onEpoch: () => {
        counts.push(tf.memory().numTensors);
      },
    },
  );
  const losses = result.history.map((h) => h.loss);
  assert.ok(losses[1] < losses[0] && losses[2] < losses[1], `losses ${losses}`);
  assert.ok(result.history[2].val_accuracy! > 0.5, JSON.stringify(result.history[2]));
  assert.equal(new Set(counts).size, 1, `tensor counts per epoch ${counts}`);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

for (const optimizer of ['sgd', 'momentum', 'adam'] as OptimizerName[]) {
  test(`batch-norm + dropout + avg-pool model trains with ${optimizer}; lr decays per epoch`, async () => {
    const data = subset(256);
    const model = buildModel(
      {
        layers: [
          { type: 'conv2d', filters: 4, kernelSize: 5, strides: 2, padding: 'valid' },
          { type: 'batchNormalization' },
          { type: 'activation', activation: 'relu' },
          { type: 'averagePooling2d', poolSize: 2 },
          { type: 'flatten' },
          { type: 'dropout', rate: 0.25 },
          { type: 'dense', units: 10 },
        ],
      },
      [28, 28, 1],
      10,
      { seed: 2 },
    );
    const before = tf.memory().numTensors;
    const result = await trainModel(model, data, {
      epochs: 3,
      batchSize: 64,
      optimizer,
      learningRate: optimizer === 'adam' ? 0.01 : 0.1,
      decay: 0.5,
      validationSplit: 0,
      seed: 3,
    });
    const lr0 = optimizer === 'adam' ? 0.01 : 0.1;
    result.history.forEach((h, epoch) => assert.ok(Math.abs(h.lr - lr0 / (1 + 0.5 * epoch)) < 1e-12, `epoch ${epoch} lr ${h.lr}`));
    assert.ok(result.history.every((h) => Number.isFinite(h.loss)));
    assert.ok(result.history[2].loss < result.history[0].loss, `${optimizer} losses ${result.history.map((h) => h.loss)}`);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
}

test('shouldStop stops within one batch and reports canceled; afterBatch and lossFn hooks run per step', async () => {
  const data = subset(640);
  const model = buildModel('lenet-300-100', [28, 28, 1], 10);
  const before = tf.memory().numTensors;
  let checks = 0;
  let afterBatches = 0;
  let lossCalls = 0;
  const result = await trainModel(
    model,
    data,
    {
      epochs: 5,
      batchSize: 64,
      optimizer: 'sgd',
      learningRate: 0.1,
      validationSplit: 0,
      lossFn: (yTrue, yPred) => {
        lossCalls++;
        return crossEntropy(yTrue, yPred, false);
      },
    },
    {
      shouldStop: async () => ++checks > 13,
      afterBatch: () => {
        afterBatches++;
      },
    },
  );
  assert.equal(result.canceled, true);
  assert.equal(result.steps, 13);
  assert.equal(afterBatches, 13);
  assert.equal(lossCalls, 13);
  assert.equal(result.epochsRun, 1);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

test('early stopping halts after `patience` epochs without improvement; bad options are rejected', async () => {
  const data = subset(200);
  const model = buildModel('lenet-300-100', [28, 28, 1], 10);
  const result = await trainModel(
    model,
    data,
    {
      epochs: 10,
      batchSize: 50,
      optimizer: 'sgd',
      learningRate: 0.05,
      validationSplit: 0.25,
      earlyStopping: { metric: 'val_loss', patience: 1, minDelta: 1e9 },
    },
    {},
  );
  assert.equal(result.stoppedEarly, true);
  assert.equal(result.epochsRun, 3);
  assert.equal(result.bestEpoch, 0);
  assert.ok(result.history.every((h) => h.val_loss !== undefined && h.val_accuracy !== undefined));
  const base = { epochs: 1, batchSize: 10, optimizer: 'sgd' as const, learningRate: 0.1, validationSplit: 0 };
  await assert.rejects(trainModel(model, data, { ...base, earlyStopping: { metric: 'val_accuracy', patience: 1 } }), {
    code: 'INVALID_JOB_PARAMS',
    details: { field: 'earlyStopping.metric' },
  });
  await assert.rejects(trainModel(model, data, { ...base, batchSize: 0 }), { code: 'INVALID_JOB_PARAMS', details: { field: 'batchSize' } });
  tf.dispose([data.x, data.y]);
  model.dispose();
});

test('modelStats counts parameters, zeros per layer and sizes', async () => {
  const model = buildModel('lenet-5', [28, 28, 1], 10);
  const dense = model.getLayer('dense_5');
  const [kernel, bias] = dense.getWeights();
  // Zero half of dense_5's kernel.
  const mask = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform(kernel.shape), 0.5), 'float32'));
  const zeroed = tf.mul(kernel, mask);
  dense.setWeights([zeroed, bias]);
  const zeros = kernel.size - (await tf.sum(mask).data())[0];
  tf.dispose([mask, zeroed]);
  const stats = await modelStats(model);
  assert.equal(stats.params, 61_706);
  // Biases start at zero: 6 + 16 + 120 + 84 + 10 of them.
  assert.equal(stats.nonzeroParams, 61_706 - 236 - zeros);
  const layer = stats.layers.find((l) => l.name === 'dense_5')!;
  assert.equal(layer.className, 'Dense');
  assert.ok(Math.abs(layer.sparsity - (zeros + 120) / 48_120) < 1e-9);
  assert.deepEqual(layer.outputShape, [null, 120]);
  assert.ok(stats.sizeBytes > 61_706 * 4 && stats.sizeBytes < 61_706 * 4 + 10_000);
  assert.ok(stats.gzipBytes < stats.sizeBytes);
  model.dispose();
});

test('compareLatency times several models with their runs interleaved: run i of each before run i + 1 of any', async () => {
  const before = tf.memory().numTensors;
  const small = buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 });
  const large = buildModel({ layers: [{ type: 'dense', units: 1200, activation: 'relu' }] }, [28, 28, 1], 10, { seed: 1 });
  // Record which model each forward pass ran on.
  const calls: string[] = [];
  for (const [name, m] of [
    ['small', small],
    ['large', large],
  ] as const) {
    const apply = m.apply.bind(m);
    m.apply = (x, kwargs) => {
      calls.push(name);
      return apply(x, kwargs);
    };
  }
  const runs = getLatencyRuns();
  setLatencyRuns(4);
  try {
    // compiled: false times model.apply (the spied method); the default compiled path orders its runs the same way.
    const [s, l] = await compareLatency([small, large], testSet.x, { compiled: false });
    for (const m of [s, l]) assert.ok(m.batch1.p50 > 0 && m.batch256.p95 >= m.batch256.p50, JSON.stringify(m));
    // Batch 1: min(50, 10 × 4) warm-ups + 4 runs; batch 256: 3 warm-ups + 4 runs; the order rotated each run.
    assert.deepEqual(calls.slice(0, 6), ['small', 'large', 'large', 'small', 'small', 'large']);
    assert.equal(calls.length, 2 * (40 + 4) + 2 * (3 + 4));
  } finally {
    setLatencyRuns(runs);
    small.dispose();
    large.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

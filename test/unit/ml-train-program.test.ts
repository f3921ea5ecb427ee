// The compiled training step (src/ml/train-program.ts) against tfjs-layers' autodiff (the general path): same
// loss, correct count and gradients on the wasm backend, for dense and conv chains with a softmax head or logits;
// trainings with and without it end with the same weights; no tensor or heap buffer is left behind; models it
// does not cover are refused (they train on the general path).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../../src/ml/architectures.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { countCorrect, hostFloats } from '../../src/ml/host-data.ts';
import { crossEntropy, crossEntropyOps, defaultLoss } from '../../src/ml/loss.ts';
import { tf } from '../../src/ml/tf.ts';
import { compileTrainProgram, programRefusal, softmaxCrossEntropy } from '../../src/ml/train-program.ts';
import { batchGradients, trainableVariables } from '../../src/ml/train-step.ts';
import { trainModel, type TrainOptions } from '../../src/ml/train.ts';
import { closeReplicas, warmReplicas } from '../../src/ml/parallel/pool.ts';
import { readMnist } from './ml-mnist.ts';

let data: { x: tf.Tensor; y: tf.Tensor };
/** Buffers on the wasm heap, the engine's and those made by kernels outside it. */
const heapBuffers = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const n = 256;
  const { images, labels } = readMnist('train', n);
  const ys = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) ys[i * 10 + labels[i]] = 1;
  data = {
    x: tf.tensor(
      Float32Array.from(images, (v) => v / 255),
      [n, 28, 28, 1],
    ),
    y: tf.tensor2d(ys, [n, 10]),
  };
});
after(async () => {
  tf.dispose([data.x, data.y]);
  await closeReplicas();
});

/** A logits head (no final softmax), standalone activation layers, a strided 'same' conv and a 'same' pool. */
function logitsModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }));
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 32 }));
  m.add(tf.layers.reLU());
  m.add(tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 2 }) }));
  return m;
}

const MODELS: [string, () => tf.LayersModel][] = [
  ['lenet-300-100', () => buildModel('lenet-300-100', [28, 28, 1], 10, { seed: 1 })],
  ['lenet-5', () => buildModel('lenet-5', [28, 28, 1], 10, { seed: 1 })],
  ['conv + dense, logits head', logitsModel],
];

function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const [name, make] of MODELS) {
  test(`${name}: the compiled step's loss, correct count and gradients equal autodiff's`, () => {
    const model = make();
    const vars = trainableVariables(model);
    const program = compileTrainProgram(model, vars, 10);
    assert.ok(program, `refused: ${programRefusal(model, vars, 10)}`);
    try {
      // A first step sizes the program's own buffers (kept until dispose()).
      const warm = data.x.slice(0, 64);
      program.release(program.step(warm, hostFloats(data.y).slice(0, 640)).grads);
      warm.dispose();
      for (const rows of [64, 37]) {
        const start = heapBuffers();
        const x = data.x.slice(0, rows);
        const y = data.y.slice(0, rows);
        const auto = batchGradients(model, vars, defaultLoss(model), x, y);
        const autoLoss = auto.loss.dataSync()[0];
        const autoCorrect = countCorrect(hostFloats(auto.pred), hostFloats(y), rows, 10);
        const before = { tensors: tf.memory().numTensors, buffers: heapBuffers() };
        const step = program.step(x, hostFloats(y).slice());
        try {
          assert.ok(Math.abs(step.loss - autoLoss) < 1e-5, `loss ${step.loss} vs ${autoLoss}`);
          assert.equal(step.correct, autoCorrect);
          vars.forEach((v, i) => {
            const g = step.grads[i];
            assert.ok(g, `no gradient for ${v.name}`);
            assert.deepEqual(g.shape, v.shape);
            const ours = hostFloats(g as tf.Tensor);
            const theirs = auto.grads[i]!.dataSync() as Float32Array;
            const scale = theirs.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
            assert.ok(maxAbs(ours, theirs) / scale < 1e-5, `${v.name}: gradients differ by ${maxAbs(ours, theirs)} (scale ${scale})`);
          });
          // The step's own intermediates are gone: what is left is its gradients (heap buffers, no engine tensors).
          assert.equal(tf.memory().numTensors, before.tensors);
          assert.equal(heapBuffers(), before.buffers + vars.length);
        } finally {
          program.release(step.grads);
          tf.dispose([x, y, auto.loss, auto.pred, ...auto.grads.filter((g): g is tf.Tensor => g !== null)]);
        }
        assert.equal(heapBuffers(), start);
      }
    } finally {
      program.dispose();
      model.dispose();
    }
  });
}

test('the probability head: a clipped probability sends no gradient through its row, as autodiff', () => {
  // Row 0: the label's probability is below 1e-7 (clipped); row 1: ordinary.
  const z = Float32Array.from([30, 0, 0, 1, 2, 3]);
  const y = Float32Array.from([0, 1, 0, 0, 0, 1]);
  const dz = new Float32Array(6);
  const { loss } = softmaxCrossEntropy(z, y, 2, 3, true, dz);
  const expected = tf.tidy(() => {
    const f = (logits: tf.Tensor) => crossEntropy(tf.tensor2d(y, [2, 3]), tf.softmax(logits), false);
    return tf
      .grad(f)(tf.tensor2d(z, [2, 3]))
      .dataSync() as Float32Array;
  });
  assert.ok(maxAbs(dz, expected) < 1e-6, `${Array.from(dz)} vs ${Array.from(expected)}`);
  assert.ok(Math.abs(dz[0]) + Math.abs(dz[1]) + Math.abs(dz[2]) === 0);
  assert.ok(loss > 7);
});

for (const fromLogits of [true, false]) {
  test(`the general path's fused cross-entropy (${fromLogits ? 'logits' : 'probabilities'}) equals the tf ops: value, both gradients, no tensor left`, () => {
    const y = tf.tensor2d([0, 1, 0, 0, 0, 1, 0.3, 0.7, 0, 1, 0, 0], [4, 3]);
    // Logits with a large spread; probabilities with one clipped below ε and one above 1 − ε.
    const pred = fromLogits
      ? tf.tensor2d([30, 0, 0, 1, 2, 3, -1, 0.5, 2, 0, 0, 0], [4, 3])
      : tf.tensor2d([1 - 1e-9, 1e-9, 0, 0.2, 0.3, 0.5, 0.1, 0.6, 0.3, 0.05, 0.9, 0.05], [4, 3]);
    const before = tf.memory().numTensors;
    const [fused, ops] = [crossEntropy, crossEntropyOps].map((f) => {
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => f(a, b, fromLogits))([y, pred]);
      const out = { value: value.dataSync()[0], dy: grads[0].dataSync() as Float32Array, dp: grads[1].dataSync() as Float32Array };
      tf.dispose([value, ...grads]);
      return out;
    });
    assert.equal(tf.memory().numTensors, before);
    assert.ok(Math.abs(fused.value - ops.value) < 1e-5 * Math.max(1, Math.abs(ops.value)), `${fused.value} vs ${ops.value}`);
    assert.ok(maxAbs(fused.dp, ops.dp) < 1e-5, `d/dpred ${Array.from(fused.dp)} vs ${Array.from(ops.dp)}`);
    // The labels' gradient (nothing trains them): tfjs's softmaxCrossEntropy returns its own; ours is the derivative.
    const dyRef = fromLogits
      ? (tf.tidy(() =>
          tf
            .grad((a: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(a, tf.logSoftmax(pred)), -1))))(y)
            .dataSync(),
        ) as Float32Array)
      : ops.dy;
    assert.ok(maxAbs(fused.dy, dyRef) < 1e-5, `d/dy ${Array.from(fused.dy)} vs ${Array.from(dyRef)}`);
    tf.dispose([y, pred]);
  });
}

const opts: TrainOptions = { epochs: 1, batchSize: 64, optimizer: 'adam', learningRate: 2e-3, validationSplit: 0, seed: 3 };

async function trainedWeights(
  preset: 'lenet-300-100' | 'lenet-5',
  compiled: boolean,
  hooks = {},
  threads = 1,
): Promise<{ weights: Float32Array[]; loss: number; threads: number }> {
  const saved = process.env.MODELPRESS_TRAIN_PROGRAM;
  process.env.MODELPRESS_TRAIN_PROGRAM = compiled ? '1' : '0';
  const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
  try {
    const r = await trainModel(model, data, { ...opts, threads }, hooks);
    return { weights: model.weights.map((w) => w.read().dataSync() as Float32Array), loss: r.history[0].loss, threads: r.threads };
  } finally {
    if (saved === undefined) delete process.env.MODELPRESS_TRAIN_PROGRAM;
    else process.env.MODELPRESS_TRAIN_PROGRAM = saved;
    model.dispose();
  }
}

for (const preset of ['lenet-300-100', 'lenet-5'] as const) {
  test(`${preset}: training with the compiled step ends where autodiff's does (4 Adam steps, same seed), leaving no tensor`, async () => {
    const before = tf.memory().numTensors;
    const auto = await trainedWeights(preset, false);
    const compiled = await trainedWeights(preset, true);
    let diff = 0;
    auto.weights.forEach((w, i) => (diff = Math.max(diff, maxAbs(w, compiled.weights[i]))));
    assert.ok(diff < 1e-4, `weights differ by ${diff}`);
    assert.ok(Math.abs(auto.loss - compiled.loss) < 1e-5, `loss ${compiled.loss} vs ${auto.loss}`);
    assert.equal(tf.memory().numTensors, before);
  });
}

test('data-parallel replicas step with the compiled program too: 2 threads compiled end where 1 thread autodiff does', async () => {
  await warmReplicas(1);
  const auto = await trainedWeights('lenet-5', false);
  const compiled = await trainedWeights('lenet-5', true, {}, 2);
  assert.equal(compiled.threads, 2);
  let diff = 0;
  auto.weights.forEach((w, i) => (diff = Math.max(diff, maxAbs(w, compiled.weights[i]))));
  assert.ok(diff < 1e-4, `weights differ by ${diff}`);
  assert.ok(Math.abs(auto.loss - compiled.loss) < 1e-5, `loss ${compiled.loss} vs ${auto.loss}`);
});

test('masks re-applied after every batch (pruning fine-tuning) hold with the compiled step', async () => {
  const mask = (model: tf.LayersModel) => {
    const w = model.layers.find((l) => l.getClassName() === 'Dense')!.getWeights()[0];
    const values = w.dataSync().slice();
    for (let i = 0; i < values.length; i += 2) values[i] = 0;
    const masked = tf.tensor(values, w.shape);
    model.layers.find((l) => l.getClassName() === 'Dense')!.weights[0].write(masked);
    masked.dispose();
  };
  const run = await trainedWeights('lenet-300-100', true, { afterBatch: mask });
  const auto = await trainedWeights('lenet-300-100', false, { afterBatch: mask });
  for (let i = 0; i < run.weights[0].length; i += 2) assert.equal(run.weights[0][i], 0);
  assert.ok(maxAbs(run.weights[0], auto.weights[0]) < 1e-4);
});

test('models outside the common case are refused (they train on the general path)', () => {
  const dropout = buildModel(
    {
      layers: [
        { type: 'dense', units: 8, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
      ],
    },
    [28, 28, 1],
    10,
  );
  const tanh = buildModel({ layers: [{ type: 'dense', units: 8, activation: 'tanh' }] }, [28, 28, 1], 10);
  try {
    assert.match(programRefusal(dropout, trainableVariables(dropout), 10) ?? '', /Dropout/);
    assert.match(programRefusal(tanh, trainableVariables(tanh), 10) ?? '', /tanh/);
    // Labels wider than the output (distillation's cached logits travel with them): general path.
    assert.equal(programRefusal(tanh, [], 10) !== null, true);
    const mlp = buildModel('lenet-300-100', [28, 28, 1], 10);
    assert.equal(programRefusal(mlp, trainableVariables(mlp), 10), null);
    assert.match(programRefusal(mlp, trainableVariables(mlp), 20) ?? '', /wide/);
    // A variable the program does not update (e.g. a frozen layer's weight passed in anyway): general path.
    assert.match(programRefusal(mlp, [...trainableVariables(mlp), tf.variable(tf.zeros([1]))], 10) ?? '', /variable/);
    mlp.dispose();
  } finally {
    dropout.dispose();
    tanh.dispose();
  }
});

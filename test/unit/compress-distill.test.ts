import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { distillationLoss, logitsModel } from '../../src/ml/compress/distill/loss.ts';

await tf.setBackend('cpu');

const student = [
  [2.0, 1.0, 0.1],
  [0.5, 2.5, -1.0],
];
const teacher = [
  [3.0, 0.2, -0.5],
  [-0.3, 1.7, 0.4],
];
const labels = [
  [1, 0, 0],
  [0, 0, 1],
];

// Plain float64 reference: alpha*T²*KL(pT‖pS) + (1-alpha)*CE, averaged over the batch.
function logSoftmaxRef(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}
function reference(T: number, alpha: number, y?: number[][]): number {
  let total = 0;
  student.forEach((s, b) => {
    const lt = logSoftmaxRef(teacher[b].map((v) => v / T));
    const ls = logSoftmaxRef(s.map((v) => v / T));
    const kl = lt.reduce((acc, v, j) => acc + Math.exp(v) * (v - ls[j]), 0);
    const ce = y ? -logSoftmaxRef(s).reduce((acc, v, j) => acc + y[b][j] * v, 0) : 0;
    total += y ? alpha * T * T * kl + (1 - alpha) * ce : T * T * kl;
  });
  return total / student.length;
}

function lossValue(T: number, alpha: number, withLabels: boolean): number {
  return tf.tidy(
    () =>
      distillationLoss({
        studentLogits: tf.tensor2d(student),
        teacherLogits: tf.tensor2d(teacher),
        labels: withLabels ? tf.tensor2d(labels) : undefined,
        temperature: T,
        alpha,
      }).dataSync()[0],
  );
}

test('distillation loss matches a hand-computed reference (2x3 logits)', () => {
  const before = tf.memory().numTensors;
  for (const [T, alpha] of [
    [1, 0.5],
    [4, 0.9],
    [2.5, 0],
    [3, 1],
  ] as const) {
    const got = lossValue(T, alpha, true);
    const want = reference(T, alpha, labels);
    assert.ok(Math.abs(got - want) <= 1e-6, `T=${T} alpha=${alpha}: ${got} vs ${want}`);
  }
  // Without labels: pure soft targets, alpha ignored.
  assert.ok(Math.abs(lossValue(2, 0.3, false) - reference(2, 1)) <= 1e-6);
  assert.ok(Math.abs(lossValue(2, 0.3, false) - lossValue(2, 1, true)) <= 1e-6);
  assert.equal(tf.memory().numTensors, before);
});

test('distillation loss is stable for large logits and zero when student equals teacher', () => {
  const v = tf.tidy(() => {
    const big = tf.tensor2d([
      [1000, -1000, 0],
      [500, 499, -800],
    ]);
    return distillationLoss({ studentLogits: big, teacherLogits: big.mul<tf.Tensor2D>(0.5), temperature: 2, alpha: 1 }).dataSync()[0];
  });
  assert.ok(Number.isFinite(v) && v > 0);
  const zero = tf.tidy(() => {
    const t = tf.tensor2d(teacher);
    return distillationLoss({ studentLogits: t, teacherLogits: t, temperature: 3, alpha: 1 }).dataSync()[0];
  });
  assert.ok(Math.abs(zero) < 1e-6);
  assert.throws(
    () => distillationLoss({ studentLogits: tf.zeros([2, 3]), teacherLogits: tf.zeros([2, 4]), temperature: 1, alpha: 1 }),
    /same \[batch, classes\] shape/,
  );
  assert.throws(
    () => distillationLoss({ studentLogits: tf.zeros([2, 3]), teacherLogits: tf.zeros([2, 3]), temperature: 0, alpha: 1 }),
    /temperature/,
  );
});

function classifier(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax', biasInitializer: 'randomNormal' }),
    ],
  });
}

test('logitsModel shares variables with the softmax model and outputs its logits', () => {
  const model = classifier();
  const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1);
  const before = tf.memory().numTensors;
  const logits = logitsModel(model);
  assert.equal(tf.memory().numTensors, before, 'no new variables');
  const diff = tf.tidy(
    () =>
      tf
        .softmax(logits.predict(x) as tf.Tensor)
        .sub(model.predict(x) as tf.Tensor)
        .abs()
        .max()
        .dataSync()[0],
  );
  assert.ok(diff < 1e-6);
  // Writing the original's last kernel changes the logits view: the variables are shared.
  const kernel = model.layers[1].weights[0];
  const y0 = logits.predict(x) as tf.Tensor;
  tf.tidy(() => {
    kernel.write(kernel.read().mul(2));
  });
  const y1 = logits.predict(x) as tf.Tensor;
  assert.ok(tf.tidy(() => y1.sub(y0).abs().max().dataSync()[0]) > 1e-3);
  tf.dispose([x, y0, y1]);
  model.dispose();
});

test('training a student through logitsModel with the distillation loss moves it toward the teacher', () => {
  const teacherModel = classifier();
  const studentModel = classifier();
  const [teacherLogitsModel, studentLogitsModel] = [logitsModel(teacherModel), logitsModel(studentModel)];
  const x = tf.randomNormal([32, 5], 0, 1, 'float32', 2);
  const targets = tf.tidy(() => teacherLogitsModel.predict(x) as tf.Tensor2D);
  const lastKernelBefore = studentModel.layers[1].getWeights()[0].clone();
  const optimizer = tf.train.adam(0.05);
  const varList = studentModel.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = () =>
    distillationLoss({ studentLogits: studentLogitsModel.apply(x) as tf.Tensor2D, teacherLogits: targets, temperature: 2, alpha: 1 });
  const first = tf.tidy(() => loss().dataSync()[0]);
  for (let i = 0; i < 60; i++) optimizer.minimize(loss, false, varList);
  const last = tf.tidy(() => loss().dataSync()[0]);
  assert.ok(last < first * 0.2, `loss ${first} → ${last}`);
  assert.ok(tf.tidy(() => studentModel.layers[1].getWeights()[0].sub(lastKernelBefore).abs().max().dataSync()[0]) > 1e-3);
  tf.dispose([x, targets, lastKernelBefore]);
  optimizer.dispose();
  teacherModel.dispose();
  studentModel.dispose();
});

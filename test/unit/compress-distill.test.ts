import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { distillationLoss, logitsModel } from '../../src/ml/compress/distill/loss.ts';
import { cachedDistillLoss, cachedDistillLossRef, distillLoss, distillTargets, teacherLogitsOf } from '../../src/ml/compress/distill/teacher-loss.ts';
import { countCorrect } from '../../src/ml/host-data.ts';
import { buildLoss, correctCount } from '../../src/ml/loss.ts';
import { narrowedModel } from '../../src/ml/compress/prune/structured.ts';

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

// Issue 16: the gradient w.r.t. the student's logits, by hand: the soft term's is alpha·T·(softmax(s/T) − softmax(t/T))
// (T² times the 1/T of the chain rule), the hard term's (1 − alpha)·(softmax(s) − y), each divided by the batch size.
// On probabilities instead of logits (the classic bug) the result differs, which the last assertion pins.
test('distillation loss: gradient w.r.t. the student logits matches the hand-computed one, and differs on probabilities', () => {
  const softmaxRef = (row: number[], T = 1) => logSoftmaxRef(row.map((v) => v / T)).map(Math.exp);
  for (const [T, alpha] of [
    [4, 0.9],
    [1, 0.5],
    [2.5, 1],
  ] as const) {
    const want = student.map((s, b) => {
      const qs = softmaxRef(s, T);
      const qt = softmaxRef(teacher[b], T);
      const p = softmaxRef(s);
      return s.map((_, j) => (alpha * T * (qs[j] - qt[j]) + (1 - alpha) * (p[j] - labels[b][j])) / student.length);
    });
    const got = tf.tidy(() =>
      tf
        .grad((s: tf.Tensor) =>
          distillationLoss({
            studentLogits: s as tf.Tensor2D,
            teacherLogits: tf.tensor2d(teacher),
            labels: tf.tensor2d(labels),
            temperature: T,
            alpha,
          }),
        )(tf.tensor2d(student))
        .arraySync(),
    ) as number[][];
    got.forEach((row, b) =>
      row.forEach((g, j) => assert.ok(Math.abs(g - want[b][j]) < 1e-6, `T=${T} alpha=${alpha} [${b}][${j}]: ${g} vs ${want[b][j]}`)),
    );
  }
  // Fed softmax outputs instead of logits, the soft targets are different distributions (and KD degrades).
  const onProbs = tf.tidy(
    () =>
      distillationLoss({
        studentLogits: tf.softmax<tf.Tensor2D>(tf.tensor2d(student)),
        teacherLogits: tf.softmax<tf.Tensor2D>(tf.tensor2d(teacher)),
        temperature: 4,
        alpha: 1,
      }).dataSync()[0],
  );
  assert.ok(Math.abs(onProbs - reference(4, 1)) > 0.1, `on probabilities ${onProbs} vs on logits ${reference(4, 1)}`);
});

test('distillation loss with logit standardization: KL on per-row z-scored logits, scale-free in the student', () => {
  const z = (row: number[]) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const sd = Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length + 1e-12);
    return row.map((v) => (v - mean) / sd);
  };
  const want = (T: number, alpha: number, scale = 1) =>
    student.reduce((total, s, b) => {
      const lt = logSoftmaxRef(z(teacher[b]).map((v) => v / T));
      const ls = logSoftmaxRef(z(s.map((v) => v * scale)).map((v) => v / T));
      const kl = lt.reduce((acc, v, j) => acc + Math.exp(v) * (v - ls[j]), 0);
      const ce = -logSoftmaxRef(s.map((v) => v * scale)).reduce((acc, v, j) => acc + labels[b][j] * v, 0);
      return total + (alpha * T * T * kl + (1 - alpha) * ce) / student.length;
    }, 0);
  const got = (T: number, alpha: number, scale = 1) =>
    tf.tidy(
      () =>
        distillationLoss({
          studentLogits: tf.tensor2d(student).mul<tf.Tensor2D>(scale),
          teacherLogits: tf.tensor2d(teacher),
          labels: tf.tensor2d(labels),
          temperature: T,
          alpha,
          standardize: true,
        }).dataSync()[0],
    );
  for (const [T, alpha] of [
    [1, 0.9],
    [2, 0.5],
  ] as const)
    assert.ok(Math.abs(got(T, alpha) - want(T, alpha)) < 1e-5, `T=${T} alpha=${alpha}: ${got(T, alpha)} vs ${want(T, alpha)}`);
  // Soft term alone: scaling the student's logits changes nothing once standardized.
  assert.ok(Math.abs(got(2, 1, 5) - got(2, 1)) < 1e-5);
  // A row of equal student logits (zero biases, blank input) keeps a finite gradient.
  const g = tf.tidy(() =>
    Array.from(
      tf
        .grad((s: tf.Tensor) =>
          distillationLoss({ studentLogits: s as tf.Tensor2D, teacherLogits: tf.tensor2d(teacher), temperature: 2, alpha: 1, standardize: true }),
        )(tf.tensor2d([[0, 0, 0], student[1]]))
        .dataSync(),
    ),
  );
  assert.ok(g.every(Number.isFinite), `gradient ${g}`);
});

test('cached teacher logits: the same loss and gradients as running the teacher in every step; accuracy counts the label columns', async () => {
  const teacherModel = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
  teacherModel.trainable = false;
  const studentModel = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 4, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
    ],
  });
  const studentLogits = logitsModel(studentModel);
  const x = tf.randomNormal([10, 5], 0, 1, 'float32', 7);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3).toFloat() as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const tLogits = teacherLogitsOf(teacherModel, x, 4); // 3 batches of ≤ 4 rows
  assert.equal(tf.memory().numTensors, before + 1);
  assert.ok(
    tf.tidy(
      () =>
        tf
          .softmax(tLogits)
          .sub(teacherModel.predict(x) as tf.Tensor)
          .abs()
          .max()
          .dataSync()[0],
    ) < 1e-6,
  );
  const targets = distillTargets(y, tLogits);
  assert.deepEqual(targets.shape, [10, 6]);
  const params = { temperature: 3, alpha: 0.7 };
  const perStep = distillLoss(teacherModel, logitsModel(teacherModel), params);
  const cached = cachedDistillLoss(params);
  const fromRef = await buildLoss(cachedDistillLossRef(params));
  const vars = studentLogits.trainableWeights.map((w) => w.read() as tf.Variable);
  const gradsOf = (f: () => tf.Scalar) =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(f, vars);
      return [value.dataSync()[0], ...vars.flatMap((v) => Array.from(grads[v.name].dataSync()))];
    });
  const a = gradsOf(() => perStep(y, studentLogits.apply(x) as tf.Tensor, x));
  const b = gradsOf(() => cached(targets, studentLogits.apply(x) as tf.Tensor, x));
  const c = gradsOf(() => fromRef(targets, studentLogits.apply(x) as tf.Tensor, x));
  assert.ok(a.length > 10);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6 && Math.abs(v - c[i]) < 1e-6, `[${i}] ${v} ${b[i]} ${c[i]}`));
  // Accuracy of the student's [10, 3] predictions against the 6-wide targets: the labels' columns only.
  const pred = studentLogits.predict(x) as tf.Tensor;
  const want = tf.tidy(() => correctCount(y, pred).dataSync()[0]);
  assert.equal(
    tf.tidy(() => correctCount(targets, pred).dataSync()[0]),
    want,
  );
  assert.equal(countCorrect(pred.dataSync() as Float32Array, targets.dataSync() as Float32Array, 10, 3, 6), want);
  assert.equal(countCorrect(pred.dataSync() as Float32Array, y.dataSync() as Float32Array, 10, 3), want);
  tf.dispose([x, y, tLogits, targets, pred]);
  teacherModel.dispose();
  studentModel.dispose();
});

// distill's widthMultiplier student: narrowed through the channel graph (issue 13).
const convOf = (m: tf.LayersModel, name: string) => m.getLayer(name).getConfig() as { filters?: number; units?: number };

test('narrowedModel: a residual graph (Add with the model input, BN, depthwise, Concatenate) narrows coupled channels together', async () => {
  const input = tf.input({ shape: [6, 6, 3] });
  const c3 = tf.layers.conv2d({ name: 'c3', filters: 3, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
  const addIn = tf.layers.add({ name: 'add_input' }).apply([input, c3]) as tf.SymbolicTensor; // couples c3 to the input: not narrowable
  const c8 = tf.layers.conv2d({ name: 'c8', filters: 8, kernelSize: 3, padding: 'same' }).apply(addIn) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(c8) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same' }).apply(bn) as tf.SymbolicTensor;
  const res = tf.layers.add({ name: 'res' }).apply([bn, dw]) as tf.SymbolicTensor;
  const sep = tf.layers.separableConv2d({ name: 'sep', filters: 6, kernelSize: 3, padding: 'same' }).apply(res) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([res, sep]) as tf.SymbolicTensor;
  const flat = tf.layers.flatten().apply(cat) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ name: 'hidden', units: 10, activation: 'relu' }).apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }).apply(hidden) as tf.SymbolicTensor;
  const teacher = tf.model({ inputs: input, outputs: out });
  teacher.trainable = false;
  const student = await narrowedModel(teacher, 0.5);
  assert.equal(convOf(student, 'c3').filters, 3, 'coupled to the model input by the residual Add');
  assert.equal(convOf(student, 'c8').filters, 4);
  assert.equal(convOf(student, 'sep').filters, 3);
  assert.equal(convOf(student, 'hidden').units, 5);
  assert.equal(convOf(student, 'out').units, 3, 'the output keeps its width');
  assert.deepEqual(student.outputs[0].shape, [null, 3]);
  assert.ok(student.layers.filter((l) => l.weights.length > 0).every((l) => l.trainable));
  assert.ok(student.countParams() < teacher.countParams());
  const y = student.predict(tf.zeros([2, 6, 6, 3])) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 3]);
  tf.dispose([y]);
  student.dispose();
  teacher.dispose();
});

test('narrowedModel: Embedding + Bidirectional(LSTM) + Dense narrow their units; the token input keeps its length', async () => {
  const input = tf.input({ shape: [7] });
  let x = tf.layers.embedding({ name: 'emb', inputDim: 30, outputDim: 8, maskZero: true }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.bidirectional({ name: 'bi', layer: tf.layers.lstm({ units: 6 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'hidden', units: 8, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'out', units: 2, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  const teacher = tf.model({ inputs: input, outputs: out });
  const student = await narrowedModel(teacher, 0.5);
  assert.equal((student.getLayer('emb').getConfig() as { outputDim: number }).outputDim, 4);
  assert.deepEqual(student.getLayer('bi').outputShape, [null, 6]);
  assert.equal(convOf(student, 'hidden').units, 4);
  const y = student.predict(tf.tensor2d([[1, 2, 3, 0, 0, 0, 0]])) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 2]);
  y.dispose();
  student.dispose();
  teacher.dispose();
});

// The compression code on the wasm backend (the service's default): kernels and backend quirks differ from cpu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { distillationLoss, logitsModel } from '../../src/ml/compress/distill/loss.ts';
import { applyMasks, magnitudeMasks, prunableWeights, sparsityOf } from '../../src/ml/compress/prune/magnitude.ts';
import { structuredPrune, zeroRemovedUnits } from '../../src/ml/compress/prune/structured.ts';

assert.equal(await initBackend('wasm'), 'wasm');

test('wasm: magnitude masks, structured rebuild (fused bias kernels) and distillation gradients', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 6, kernelSize: 3, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 12, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const before = tf.memory().numTensors;
  applyMasks(model, magnitudeMasks(prunableWeights(model), 0.7, 'global'));
  assert.equal(tf.memory().numTensors, before);
  assert.ok(Math.abs(sparsityOf(prunableWeights(model)) - 0.7) < 1e-3);

  const { model: small, removed } = await structuredPrune(model, { fraction: 0.5, norm: 'l2' });
  zeroRemovedUnits(model, removed);
  const x = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 1);
  const diff = tf.tidy(
    () =>
      (model.predict(x) as tf.Tensor)
        .sub(small.predict(x) as tf.Tensor)
        .abs()
        .max()
        .dataSync()[0],
  );
  assert.ok(diff <= 1e-5, `diff ${diff}`);

  const logits = logitsModel(small);
  const teacher = tf.randomNormal<tf.Rank.R2>([4, 3], 0, 2, 'float32', 2);
  const optimizer = tf.train.sgd(0.1);
  const varList = small.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = () => distillationLoss({ studentLogits: logits.apply(x) as tf.Tensor2D, teacherLogits: teacher, temperature: 3, alpha: 1 });
  const first = tf.tidy(() => loss().dataSync()[0]);
  for (let i = 0; i < 20; i++) optimizer.minimize(loss, false, varList);
  const last = tf.tidy(() => loss().dataSync()[0]);
  assert.ok(last < first, `loss ${first} → ${last}`);
  tf.dispose([x, teacher]);
  small.dispose();
  model.dispose();
});

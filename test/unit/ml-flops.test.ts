// FLOPs (multiply-adds per example) per layer class against hand-computed figures, and the drop after a structured prune.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { layerFlops, modelFlops } from '../../src/ml/flops.ts';
import { structuredPrune } from '../../src/ml/compress/prune/structured.ts';

await tf.setBackend('cpu');

const sym = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

test('per layer class: conv, depthwise, separable, transpose, dense, rnn, wrappers, dot', () => {
  const img = tf.input({ shape: [8, 8, 3] });
  const conv = sym(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'conv' }), img);
  const dw = sym(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw' }), conv);
  const sep = sym(tf.layers.separableConv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'sep' }), dw);
  const up = sym(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, name: 'up' }), sep);
  const flat = sym(tf.layers.flatten(), up);
  const dense = sym(tf.layers.dense({ units: 5, name: 'dense' }), flat);
  const seq = tf.input({ shape: [6, 4] });
  const lstm = sym(tf.layers.lstm({ units: 3, returnSequences: true, name: 'lstm' }), seq);
  const bi = sym(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2 }), name: 'bi' }), lstm);
  const td = sym(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 7 }), name: 'td' }), lstm);
  const dot = sym(tf.layers.dot({ axes: -1, name: 'dot' }), [bi, sym(tf.layers.dense({ units: 4, name: 'proj' }), bi)]);
  const model = tf.model({ inputs: [img, seq], outputs: [dense, td, dot] });
  const f = (name: string) => layerFlops(model.getLayer(name));
  assert.equal(f('conv'), 8 * 8 * 8 * 9 * 3);
  assert.equal(f('dw'), 8 * 8 * 16 * 9);
  assert.equal(f('sep'), 4 * 4 * 16 * 9 + 4 * 4 * 16 * 4);
  assert.equal(f('up'), 4 * 4 * 4 * 4 * 2);
  assert.equal(f('dense'), 8 * 8 * 2 * 5);
  assert.equal(f('lstm'), 6 * 4 * 3 * (4 + 3));
  assert.equal(f('bi'), 2 * 6 * 3 * 2 * (3 + 2));
  assert.equal(f('td'), 6 * 3 * 7);
  assert.equal(f('proj'), 4 * 4);
  assert.equal(f('dot'), 1 * 4);
  const { flops, layers } = modelFlops(model);
  assert.equal(
    flops,
    layers.reduce((s, l) => s + l.flops, 0),
  );
  assert.equal(layers.find((l) => l.name === 'flatten_Flatten1' || l.name.startsWith('flatten'))!.flops, 0);
  model.dispose();
});

test('structured prune at 50% roughly quarters the FLOPs of a conv stack', async () => {
  const input = tf.input({ shape: [12, 12, 1] });
  let x = sym(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }), input);
  x = sym(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
  x = sym(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
  x = sym(tf.layers.globalAveragePooling2d({}), x);
  const model = tf.model({ inputs: input, outputs: sym(tf.layers.dense({ units: 10 }), x) });
  const { model: pruned } = await structuredPrune(model, { fraction: 0.5, norm: 'l1' });
  const [a, b] = [modelFlops(model).flops, modelFlops(pruned).flops];
  // conv1 in 1 → half the filters; conv2, conv3: half in × half out; dense: half in.
  assert.equal(b, 144 * 9 * 8 + 2 * 144 * 9 * 8 * 8 + 8 * 10);
  assert.ok(a / b > 3, `${a} → ${b}`);
  [model, pruned].forEach((m) => m.dispose());
});

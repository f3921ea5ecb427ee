import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { compileForInference } from '../../src/ml/inference.ts';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** Gives every BatchNormalization trained-looking statistics (γ, β, moving mean, variance far from 1 / 0). */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const name = layer.weights[i].originalName;
        const u = tf.randomUniform(w.shape, 0, 1, 'float32', seed++);
        if (name.endsWith('moving_variance')) return tf.add(0.05, tf.mul(u, 3));
        if (name.endsWith('gamma')) return tf.add(0.2, tf.mul(u, 2));
        return tf.sub(tf.mul(u, 2), 1);
      }),
    );
  }
}

/** Conv → BN → ReLU6, depthwise → BN → ReLU, 1×1 conv → BN added back to the first block (residual), ReLU, GAP, Dropout, Dense. */
function residualDepthwise(head: 'linear' | 'softmax'): tf.LayersModel {
  const input = tf.input({ shape: [9, 9, 3] });
  const bn = () => tf.layers.batchNormalization({ epsilon: 1e-3 });
  const a = tf.layers
    .reLU({ maxValue: 6 })
    .apply(
      bn().apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(input)),
    ) as tf.SymbolicTensor;
  let y = tf.layers
    .reLU()
    .apply(bn().apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(a))) as tf.SymbolicTensor;
  y = bn().apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, strides: 1 }).apply(y)) as tf.SymbolicTensor;
  let x = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([a, y])) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5 }).apply(tf.layers.globalAveragePooling2d({}).apply(x)) as tf.SymbolicTensor;
  x = bn().apply(tf.layers.dense({ units: 7 }).apply(x)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, activation: head }).apply(x) as tf.SymbolicTensor });
}

async function maxRelDiff(model: tf.LayersModel, compiled: ReturnType<typeof compileForInference>, x: tf.Tensor): Promise<number> {
  const expected = model.apply(x, { training: false }) as tf.Tensor;
  const actual = compiled.predict(x);
  assert.deepEqual(actual.shape, expected.shape);
  const [e, a] = await Promise.all([expected.data(), actual.data()]);
  tf.dispose([expected, actual]);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < e.length; i++) {
    diff = Math.max(diff, Math.abs(e[i] - a[i]));
    scale = Math.max(scale, Math.abs(e[i]));
  }
  return diff / scale;
}

for (const backend of ['wasm', 'cpu']) {
  test(`${backend}: folded residual + depthwise graph equals model.apply within 1e-5 (BN folded, activations fused, dropout skipped), no leaks`, async () => {
    await tf.setBackend(backend);
    try {
      for (const head of ['linear', 'softmax'] as const) {
        const model = residualDepthwise(head);
        randomizeBatchNorms(model, 3);
        const compiled = compileForInference(model);
        // 4 BNs folded (3 into convs, 1 into a dense), 2 ReLUs fused (not the one after the Add), the dropout skipped.
        assert.equal(compiled.removedLayers.filter((n) => n.startsWith('batch_normalization')).length, 4, String(compiled.removedLayers));
        assert.equal(compiled.removedLayers.length, 7, String(compiled.removedLayers));
        assert.ok(compiled.kernels !== null, 'runs as a kernel program');
        for (const batch of [1, 5]) {
          const x = tf.randomNormal([batch, 9, 9, 3], 0, 1, 'float32', batch);
          const tensors = tf.memory().numTensors;
          const buffers = tf.engine().backend.numDataIds();
          const err = await maxRelDiff(model, compiled, x);
          assert.ok(err <= 1e-5, `${head} batch ${batch}: relative difference ${err}`);
          assert.equal(tf.memory().numTensors, tensors, 'tensor leak');
          assert.equal(tf.engine().backend.numDataIds(), buffers, 'backend buffer leak');
          x.dispose();
        }
        compiled.dispose();
        model.dispose();
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });
}

test('a BN that cannot fold (after an Add, or its conv output also used elsewhere) and layers without a kernel form run as they are: still equal', async () => {
  const input = tf.input({ shape: [8, 8, 2] });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.batchNormalization().apply(c) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([b, c]) as tf.SymbolicTensor;
  let x = tf.layers.batchNormalization().apply(sum) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.concatenate().apply([x, x]) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  randomizeBatchNorms(model, 11);
  const compiled = compileForInference(model);
  assert.deepEqual(compiled.removedLayers, []);
  assert.equal(compiled.kernels, null, 'tf ops: MaxPooling2D / Concatenate have no kernel form here');
  const x0 = tf.randomNormal([3, 8, 8, 2], 0, 1, 'float32', 5);
  const err = await maxRelDiff(model, compiled, x0);
  assert.ok(err <= 1e-5, `relative difference ${err}`);
  tf.dispose([x0]);
  compiled.dispose();
  model.dispose();
});

test('Sequential conv → BN → ReLU → flatten → dense folds too; a model with two inputs runs as its own apply()', async () => {
  const seq = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3 }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu6' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
  randomizeBatchNorms(seq, 21);
  const compiled = compileForInference(seq);
  assert.equal(compiled.removedLayers.length, 2);
  assert.ok(compiled.kernels !== null);
  const x = tf.randomNormal([4, 6, 6, 1], 0, 1, 'float32', 7);
  assert.ok((await maxRelDiff(seq, compiled, x)) <= 1e-5);
  x.dispose();
  compiled.dispose();

  const a = tf.input({ shape: [3] });
  const b = tf.input({ shape: [3] });
  const two = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor });
  assert.equal(compileForInference(two).kernels, null);
});

// Weight clustering: exact centroid count, zeros preserved, gradients shared per cluster during fine-tuning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { tf } from '../../src/ml/tf.ts';
import { clusterTensor, clusteredValues, kmeans1d } from '../../src/ml/compress/cluster/kmeans.ts';
import { clusterModel, fineTuneCentroids, sharedGradient } from '../../src/ml/compress/cluster/weights.ts';
import { mulberry32 } from '../../src/ml/dataset.ts';

await tf.setBackend('cpu');

function randomValues(n: number, zeroShare: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rnd() < zeroShare ? 0 : (rnd() * 2 - 1) * 0.3));
}

const distinct = (v: Float32Array) => new Set(v).size;

test('k-means 1-D: finds well separated groups exactly and never returns more than k centroids', () => {
  const v = Float32Array.from([1, 1.1, 0.9, 5, 5.2, 4.8, -3, -3.1, -2.9]);
  const c = kmeans1d(v, 3);
  assert.deepEqual(
    Array.from(c).map((x) => Math.round(x * 1000) / 1000),
    [-3, 1, 5],
  );
  assert.equal(kmeans1d(Float32Array.from([2, 2, 2]), 4).length, 1);
  assert.equal(kmeans1d(randomValues(1000, 0, 1), 7).length, 7);
});

test('clusterTensor: exactly 2^bits distinct values (zero one of them when the tensor is pruned), zeros stay zero', () => {
  for (const bits of [2, 4, 5, 8]) {
    const k = 2 ** bits;
    const dense = randomValues(5000, 0, bits);
    assert.equal(distinct(clusteredValues(clusterTensor(dense, k))), k, `dense, ${bits} bits`);

    const sparse = randomValues(5000, 0.9, bits + 10);
    const c = clusterTensor(sparse, k);
    const out = clusteredValues(c);
    assert.equal(distinct(out), k, `sparse, ${bits} bits`);
    assert.equal(c.centroids.length, k);
    for (let i = 0; i < sparse.length; i++) assert.equal(out[i] === 0, sparse[i] === 0, `element ${i}: zero pattern must be kept exactly`);
  }
});

test('clusterTensor: each value goes to its nearest non-zero centroid; few distinct values keep their count', () => {
  const v = randomValues(2000, 0.5, 3);
  const c = clusterTensor(v, 16);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) continue;
    const mine = Math.abs(v[i] - c.centroids[c.indices[i]]);
    for (const x of c.centroids) if (x !== 0) assert.ok(mine <= Math.abs(v[i] - x) + 1e-7);
  }
  assert.equal(distinct(clusteredValues(clusterTensor(Float32Array.from([0, 0.5, 0.5, -1]), 8))), 3);
});

test('clustered tensors gzip far smaller than the originals', () => {
  const v = randomValues(20000, 0.9, 5);
  const c = clusteredValues(clusterTensor(v, 16));
  const gz = (a: Float32Array) => gzipSync(Buffer.from(a.buffer)).length;
  assert.ok(gz(c) < 0.6 * gz(v), `${gz(c)} vs ${gz(v)}`);
});

test('sharedGradient sums the gradient over each cluster and freezes the zero cluster', () => {
  const c = { centroids: Float32Array.from([-1, 0, 2]), indices: Uint16Array.from([0, 1, 2, 2, 0, 1]) };
  assert.deepEqual(Array.from(sharedGradient(c, [1, 5, 2, 3, -4, 7])), [-3, 0, 5]);
});

test('centroid fine-tuning: gradients shared per cluster (every member moves together), zeros stay zero, count kept', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  // Prune half of the first kernel so the zero cluster exists.
  const kernel0 = model.layers[0].weights[0];
  tf.tidy(() => {
    const k0 = kernel0.read();
    kernel0.write(tf.where(tf.greater(tf.abs(k0), 0.35), k0, tf.zerosLike(k0)));
  });
  const zerosBefore = Array.from(kernel0.read().dataSync(), (x) => x === 0);

  const clustered = clusterModel(model, { clusters: 4 });
  assert.equal(clustered.length, 2);
  const centroidsBefore = clustered.map((c) => Float32Array.from(c.centroids));
  const rnd = mulberry32(9);
  const x = tf.tensor2d(
    Array.from({ length: 32 * 6 }, () => rnd() * 2 - 1),
    [32, 6],
  );
  const y = tf
    .oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 3),
        'int32',
      ),
      3,
    )
    .toFloat();

  // The summed gradient of each cluster at the starting point, computed independently.
  const kernels = clustered.map((c) => c.variable.read() as tf.Variable);
  const { grads, value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, tf.log(model.apply(x) as tf.Tensor)), kernels);
  const expectedSign = clustered.map((c, i) => Array.from(sharedGradient(c, grads[kernels[i].name].dataSync()), Math.sign));
  tf.dispose([value, ...Object.values(grads)]);

  const tensorsBefore = tf.memory().numTensors;
  const lr = 0.01;
  await fineTuneCentroids(model, clustered, { x, y }, { epochs: 1, batchSize: 32, learningRate: lr, seed: 1 });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leak');

  clustered.forEach((c, li) => {
    const now = c.variable.read().dataSync();
    // Every element equals its centroid: members of a cluster moved together.
    for (let i = 0; i < now.length; i++) assert.equal(now[i], c.centroids[c.indices[i]]);
    assert.equal(new Set(now).size, centroidsBefore[li].length, 'same number of distinct values');
    // One Adam step moves each centroid by lr against the sign of its summed (shared) gradient; the zero cluster stays.
    c.centroids.forEach((v, k) => {
      const before = centroidsBefore[li][k];
      if (before === 0) assert.equal(v, 0);
      else assert.ok(Math.abs(v - (before - lr * expectedSign[li][k])) < 1e-5, `layer ${li} centroid ${k}: ${before} → ${v}`);
    });
  });
  const k = clustered[0].variable.read().dataSync();
  zerosBefore.forEach((z, i) => assert.equal(k[i] === 0, z, `first kernel element ${i}`));
  tf.dispose([x, y]);
  model.dispose();
});

test('clusterModel with clustersFor: each kernel gets the count chosen from its size (small kernels keep more values), zeros stay zero', () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [64], units: 32, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const big = model.layers[0].weights[0];
  tf.tidy(() => {
    big.write(tf.tensor(randomValues(64 * 32, 0.8, 3), [64, 32]));
  });
  const zerosBefore = Array.from(big.read().dataSync(), (x) => x === 0);
  const seen: [number, number][] = [];
  const clustered = clusterModel(model, {
    clusters: 256,
    clustersFor: (size, total) => {
      seen.push([size, total]);
      return size < 0.1 * total ? 16 : 4;
    },
  });
  assert.deepEqual(seen, [
    [2048, 2144],
    [96, 2144],
  ]);
  const values = clustered.map((c) => c.variable.read().dataSync() as Float32Array);
  assert.equal(distinct(values[0]), 4, 'big kernel: 4 values (zero one of them)');
  assert.ok(
    values[0].every((v, i) => (v === 0) === zerosBefore[i]),
    'zeros stay zero, no new zeros',
  );
  assert.equal(distinct(values[1]), 16, 'small kernel: 16 values');
  model.dispose();
});

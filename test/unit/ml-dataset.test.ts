import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { batches, loadSplit, seededShuffle, trainValSplit } from '../../src/ml/dataset.ts';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { FsObjectStore } from '../../src/storage/fs-store.ts';
import { putMnistSplit, readMnist } from './ml-mnist.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ml-dataset-'));
const store = new FsObjectStore(dir);

before(async () => {
  await initBackend('wasm');
  await store.init();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('loadSplit reads MNIST npy files with a limit, normalizes and one-hot encodes', async () => {
  const keys = await putMnistSplit(store, 'mnist/', 'test');
  const { images, labels } = readMnist('test', 300);
  const before = tf.memory().numTensors;
  const split = await loadSplit(store, keys, { limit: 300, normalization: { scale: 2 / 255, offset: -1 }, numClasses: 10 });
  assert.equal(split.n, 300);
  assert.deepEqual(split.x.shape, [300, 28, 28, 1]);
  assert.deepEqual(split.y.shape, [300, 10]);
  const x = await split.x.data();
  for (const i of [0, 1000, 150_000, 300 * 784 - 1]) assert.ok(Math.abs(x[i] - ((images[i] * 2) / 255 - 1)) < 1e-6);
  const y = (await split.y.data()) as Float32Array;
  for (let i = 0; i < 300; i++) {
    assert.equal(split.labels[i], labels[i]);
    assert.equal(y[i * 10 + labels[i]], 1);
  }
  assert.equal(
    y.reduce((a, b) => a + b, 0),
    300,
  );
  tf.dispose([split.x, split.y]);
  assert.equal(tf.memory().numTensors, before);
});

test('loadSplit rejects out-of-range labels, count mismatches and truncated files as INVALID_DATASET', async () => {
  const put = (key: string, dtype: 'uint8' | 'int32' | 'float32', shape: number[], data: ArrayBufferView) =>
    store.put(key, Buffer.concat([buildNpyHeader(dtype, shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  await put('bad/x.npy', 'float32', [3, 2], new Float32Array(6));
  await put('bad/y.npy', 'int32', [3], Int32Array.from([0, 1, 5]));
  await put('bad/y2.npy', 'int32', [2], Int32Array.from([0, 1]));
  await store.put('bad/short.npy', Buffer.concat([buildNpyHeader('float32', [3, 2]), Buffer.alloc(8)]));
  const opts = { normalization: { scale: 1, offset: 0 }, numClasses: 3 };
  const before = tf.memory().numTensors;
  await assert.rejects(loadSplit(store, { x: 'bad/x.npy', y: 'bad/y.npy' }, opts), { code: 'INVALID_DATASET', message: /label 5 at row 2/ });
  await assert.rejects(loadSplit(store, { x: 'bad/x.npy', y: 'bad/y2.npy' }, opts), { code: 'INVALID_DATASET' });
  await assert.rejects(loadSplit(store, { x: 'bad/short.npy', y: 'bad/y.npy' }, opts), { code: 'INVALID_DATASET' });
  // With a limit only the rows read matter: the bad label at row 2 is never reached.
  const ok = await loadSplit(store, { x: 'bad/x.npy', y: 'bad/y.npy' }, { ...opts, limit: 2 });
  assert.equal(ok.n, 2);
  tf.dispose([ok.x, ok.y]);
  assert.equal(tf.memory().numTensors, before);
});

test('seededShuffle is a deterministic permutation; trainValSplit partitions', () => {
  const a = seededShuffle(1000, 42);
  assert.deepEqual(a, seededShuffle(1000, 42));
  assert.notDeepEqual(a, seededShuffle(1000, 43));
  assert.deepEqual(
    Array.from(a).sort((p, q) => p - q),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  const { train, val } = trainValSplit(1000, 0.1, 7);
  assert.equal(val.length, 100);
  assert.equal(train.length, 900);
  assert.equal(new Set([...train, ...val]).size, 1000);
  assert.deepEqual(trainValSplit(1000, 0.1, 7).val, val);
  assert.throws(() => trainValSplit(10, 1, 0), { code: 'INVALID_JOB_PARAMS' });
});

test('batches yields the requested rows in order and leaks nothing', async () => {
  const x = tf.tensor2d(
    Float32Array.from({ length: 20 }, (_, i) => i),
    [10, 2],
  );
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3).toFloat();
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  for (const b of batches(x, y, 4, Int32Array.from([9, 3, 5, 0, 1]))) {
    seen.push(
      ...Array.from(await b.x.data())
        .filter((_, i) => i % 2 === 0)
        .map((v) => v / 2),
    );
    assert.equal(b.y.shape[0], b.size);
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual(seen, [9, 3, 5, 0, 1]);
  const sizes: number[] = [];
  for (const b of batches(x, y, 3)) {
    sizes.push(b.size);
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual(sizes, [3, 3, 3, 1]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

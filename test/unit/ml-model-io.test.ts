import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { buildModel } from '../../src/ml/architectures.ts';
import {
  loadArtifactsFromStore,
  loadModelFromStore,
  modelArtifactsToFiles,
  modelToFiles,
  saveFilesToStore,
  serializeModel,
  type ModelFile,
} from '../../src/ml/model-io.ts';
import { modelStats } from '../../src/ml/model-stats.ts';
import { compactTopology } from '../../src/ml/compact-topology.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { AppError } from '../../src/errors.ts';

// A Map-backed ObjectStore, only for this unit test of the IOHandlers.
class MemoryStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly objects = new Map<string, Buffer>();
  async put(key: string, body: Readable | Buffer) {
    const data = Buffer.isBuffer(body) ? body : Buffer.concat(await body.toArray());
    this.objects.set(key, data);
    return { sizeBytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  private must(key: string): Buffer {
    const data = this.objects.get(key);
    if (!data) throw new AppError('NOT_FOUND', key);
    return data;
  }
  async get(key: string) {
    return Readable.from([this.must(key)]);
  }
  async getBuffer(key: string) {
    return this.must(key);
  }
  async stat(key: string) {
    const d = this.objects.get(key);
    return d ? { sizeBytes: d.length } : null;
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
  async deletePrefix(prefix: string) {
    for (const k of this.objects.keys()) if (k.startsWith(prefix)) this.objects.delete(k);
  }
  async *list(prefix: string) {
    for (const k of this.objects.keys()) if (k.startsWith(prefix)) yield k;
  }
  async ping() {}
}

before(async () => {
  await initBackend('wasm');
});

function sampleInput(shape: number[]): tf.Tensor {
  return tf.tidy(() =>
    tf.sin(
      tf
        .range(
          0,
          shape.reduce((a, b) => a * b),
        )
        .reshape(shape),
    ),
  );
}

async function predictValues(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  y.dispose();
  return values;
}

test('lenet-5 round trip through the store (3 shards) gives identical outputs and no tensor leak', async () => {
  const store = new MemoryStore();
  const model = buildModel('lenet-5', [28, 28, 1], 10);
  const x = sampleInput([2, 28, 28, 1]);
  const expected = await predictValues(model, x);
  const files = await modelToFiles(model, 100_000);
  assert.deepEqual(
    files.map((f) => f.path),
    ['model.json', 'group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin'],
  );
  assert.equal(
    files.slice(1).reduce((s, f) => s + f.data.length, 0),
    61_706 * 4,
  );
  const refs = await saveFilesToStore(store, files, (p) => `models/m1/${p}`);
  assert.equal(refs[1].sizeBytes, 100_000);

  const before = tf.memory().numTensors;
  const loaded = await loadModelFromStore(
    store,
    refs.map(({ path, objectKey }) => ({ path, objectKey })),
  );
  assert.deepEqual(await predictValues(loaded, x), expected);
  loaded.dispose();
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
  x.dispose();
});

test('files we write load with stock tf.loadLayersModel (http loader over a fetch stub), outputs identical', async () => {
  const model = buildModel(
    { layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'batchNormalization' }, { type: 'dropout', rate: 0.2 }] },
    [5],
    3,
  );
  const x = sampleInput([4, 5]);
  const expected = await predictValues(model, x);
  const files = await modelToFiles(model, 64);
  assert.ok(files.length > 3);
  const byUrl = new Map(files.map((f) => [`http://models.test/m/${f.path}`, f.data]));
  const fetched: string[] = [];
  const fetchFunc = (async (url: string) => {
    fetched.push(url);
    const data = byUrl.get(url);
    return new Response(data ? new Uint8Array(data) : null, { status: data ? 200 : 404 });
  }) as typeof fetch;
  const loaded = await tf.loadLayersModel('http://models.test/m/model.json', { fetchFunc });
  assert.equal(fetched.length, files.length);
  assert.deepEqual(await predictValues(loaded, x), expected);
  loaded.dispose();
  model.dispose();
  x.dispose();
});

test('model.json in a folder resolves its shard paths relative to itself', async () => {
  const store = new MemoryStore();
  const model = buildModel('lenet-300-100', [784], 10);
  const files = (await modelToFiles(model)).map((f) => ({ ...f, path: `export/${f.path}` }));
  const refs = await saveFilesToStore(store, files, (p) => `k/${p.replace('/', '_')}`);
  const loaded = await loadModelFromStore(store, refs);
  assert.equal(loaded.countParams(), 266_610);
  loaded.dispose();
  model.dispose();
});

test('quantized weight specs (uint8 affine, float16) are dequantized by tfjs on load', async () => {
  const store = new MemoryStore();
  const model = buildModel({ layers: [{ type: 'dense', units: 3 }] }, [4], 3);
  const { artifacts } = await serializeModel(model);
  const [kernelSpec, biasSpec] = artifacts.weightSpecs!;
  // Replace the kernel by a uint8 affine encoding of 0..11 (scale 0.5, min -2) and the bias by float16 [1, 2, 3].
  const q = Uint8Array.from({ length: 12 }, (_, i) => i);
  const half = Uint16Array.from([0x3c00, 0x4000, 0x4200]);
  const quantized: tf.io.ModelArtifacts = {
    ...artifacts,
    weightSpecs: [
      { ...kernelSpec, quantization: { dtype: 'uint8', scale: 0.5, min: -2 } },
      { ...biasSpec, quantization: { dtype: 'float16' } },
    ],
    weightData: [q.buffer, half.buffer],
  };
  const files = modelArtifactsToFiles(quantized);
  assert.equal(files[1].data.length, 12 + 6);
  const refs = await saveFilesToStore(store, files, (p) => `q/${p}`);
  const loaded = await loadModelFromStore(store, refs);
  const [kernel, bias] = loaded.getWeights();
  assert.deepEqual(
    Array.from(await kernel.data()),
    Array.from(q, (v) => v * 0.5 - 2),
  );
  assert.deepEqual(Array.from(await bias.data()), [1, 2, 3]);
  // Stats of the artifacts count stored (quantized) bytes and dequantized values: kernel value 4·0.5-2 = 0.
  const stats = await modelStats(quantized);
  assert.equal(stats.sizeBytes, files[0].data.length + 18);
  assert.equal(stats.params, 15);
  assert.equal(stats.nonzeroParams, 14);
  loaded.dispose();
  model.dispose();
});

test('missing shard, wrong shard size and absent model.json are reported with their codes', async () => {
  const store = new MemoryStore();
  const model = buildModel({ layers: [{ type: 'dense', units: 2 }] }, [3], 2);
  const files = await modelToFiles(model);
  const refs = await saveFilesToStore(store, files, (p) => `e/${p}`);
  await assert.rejects(loadArtifactsFromStore(store, refs.slice(0, 1)), { code: 'MISSING_WEIGHTS' });
  await assert.rejects(loadArtifactsFromStore(store, refs.slice(1)), { code: 'INVALID_MODEL' });
  const truncated: ModelFile[] = [files[0], { path: files[1].path, data: files[1].data.subarray(4) }];
  await assert.rejects(loadArtifactsFromStore(store, await saveFilesToStore(store, truncated, (p) => `t/${p}`)), { code: 'WEIGHTS_MISMATCH' });
  await store.put('bad/model.json', Buffer.from('{"modelTopology": {"nope": 1}, "weightsManifest": []}'));
  await assert.rejects(loadModelFromStore(store, [{ path: 'model.json', objectKey: 'bad/model.json' }]), { code: 'INVALID_MODEL' });
  model.dispose();
});

test('model.json leaves out what tfjs fills in (compactTopology): stock tf.loadLayersModel builds the same config, outputs identical', async () => {
  const cases: [Parameters<typeof buildModel>[0], number[], Record<string, never>][] = [
    ['lenet-5', [28, 28, 1], {}],
    ['lenet-300-100', [784], {}],
    ['resnet-20', [32, 32, 3], {}],
    ['mobilenet-v2', [32, 32, 3], {}],
    [{ layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'batchNormalization' }, { type: 'dropout', rate: 0.2 }] }, [5], {}],
  ];
  for (const [arch, shape, opts] of cases) {
    const model = buildModel(arch, shape, 3, { seed: 1, ...opts });
    const full = JSON.stringify(model.toJSON(null, false));
    const [json, ...shards] = await modelToFiles(model);
    const written = JSON.parse(json.data.toString()) as tf.io.ModelJSON;
    const label = typeof arch === 'string' ? arch : 'spec';
    assert.ok(JSON.stringify(written.modelTopology).length < 0.9 * full.length, `${label}: topology compacted`);
    assert.ok(!('convertedBy' in written) && !('keras_version' in written.modelTopology), label);
    const byUrl = new Map([json, ...shards].map((f) => [`http://models.test/m/${f.path}`, f.data]));
    const fetchFunc = (async (url: string) => new Response(new Uint8Array(byUrl.get(url)!), { status: 200 })) as typeof fetch;
    const loaded = await tf.loadLayersModel('http://models.test/m/model.json', { fetchFunc });
    assert.equal(JSON.stringify(loaded.toJSON(null, false)), full, `${label}: stock loader rebuilds the full config`);
    const x = sampleInput([2, ...shape]);
    assert.deepEqual(await predictValues(loaded, x), await predictValues(model, x), `${label}: same outputs`);
    loaded.dispose();
    model.dispose();
    x.dispose();
  }
});

test('compactTopology keeps a topology it cannot rebuild byte for byte (keys in another order; text-cnn, whose rebuild adds a dtype) whole', async () => {
  const text = buildModel('text-cnn', [20], 3, { seed: 1, vocabSize: 50 });
  assert.deepEqual(await compactTopology(text.toJSON(null, false) as object), text.toJSON(null, false));
  text.dispose();
  const model = buildModel('lenet-300-100', [784], 10, { seed: 1 });
  const topology = model.toJSON(null, false) as unknown as { config: { layers: { config: Record<string, unknown> }[] } };
  const layer = topology.config.layers[1];
  layer.config = Object.fromEntries(Object.entries(layer.config).reverse());
  assert.deepEqual(await compactTopology(topology), topology);
  assert.ok(JSON.stringify(await compactTopology(model.toJSON(null, false) as object)).length < JSON.stringify(model.toJSON(null, false)).length);
  model.dispose();
});

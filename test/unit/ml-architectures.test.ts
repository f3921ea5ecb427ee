import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { buildModel, validateArchitecture, type ArchitectureSpec } from '../../src/ml/architectures.ts';
import { AppError } from '../../src/errors.ts';
import { tokenVocabulary } from '../../src/ml/presets.ts';
import { vocabularyOf } from '../../src/jobs/kinds/support.ts';
import type { JobContext } from '../../src/jobs/kind.ts';

before(async () => {
  await initBackend('wasm');
});

const classNames = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());

test('lenet-300-100 has 266,610 parameters and flattens image input', () => {
  const m = buildModel('lenet-300-100', [28, 28, 1], 10);
  assert.equal(m.countParams(), 266_610);
  assert.deepEqual(classNames(m), ['Flatten', 'Dense', 'Dense', 'Dense']);
  assert.deepEqual(m.outputs[0].shape, [null, 10]);
  const flat = buildModel('lenet-300-100', [784], 10);
  assert.equal(flat.countParams(), 266_610);
  assert.deepEqual(classNames(flat), ['Dense', 'Dense', 'Dense']);
  m.dispose();
  flat.dispose();
});

test('lenet-5 builds to the classic 61,706 parameters', () => {
  const m = buildModel('lenet-5', [28, 28, 1], 10);
  // conv 5·5·1·6+6, conv 5·5·6·16+16, dense 400·120+120, 120·84+84, 84·10+10
  assert.equal(m.countParams(), 156 + 2416 + 48_120 + 10_164 + 850);
  assert.deepEqual(classNames(m), ['Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense', 'Dense']);
  m.dispose();
  // [28, 28] and flat [784] inputs get a channel axis first.
  for (const shape of [[28, 28], [784]]) {
    const r = buildModel('lenet-5', shape, 10);
    assert.equal(r.layers[0].getClassName(), 'Reshape');
    assert.equal(r.countParams(), 61_706);
    r.dispose();
  }
});

test('a spec already ending in a numClasses dense keeps it (logits); others get a softmax head', () => {
  const logits = buildModel(
    {
      layers: [
        { type: 'dense', units: 16, activation: 'relu' },
        { type: 'dense', units: 3 },
      ],
    },
    [4],
    3,
  );
  assert.equal(logits.layers.length, 2);
  assert.equal((logits.layers[1].getConfig() as { activation: string }).activation, 'linear');
  const head = buildModel(
    {
      layers: [
        { type: 'dense', units: 16 },
        { type: 'batchNormalization' },
        { type: 'activation', activation: 'tanh' },
        { type: 'dropout', rate: 0.3 },
      ],
    },
    [4],
    3,
  );
  assert.deepEqual(classNames(head), ['Dense', 'BatchNormalization', 'Activation', 'Dropout', 'Dense']);
  assert.equal((head.layers[4].getConfig() as { activation: string }).activation, 'softmax');
  logits.dispose();
  head.dispose();
});

test('conv stride 2 / average pooling spec builds with the expected output shapes', () => {
  const spec: ArchitectureSpec = {
    layers: [
      { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: 2, padding: 'same', activation: 'relu' },
      { type: 'averagePooling2d', poolSize: 2 },
      { type: 'flatten' },
    ],
  };
  const m = buildModel(spec, [16, 16, 3], 5);
  assert.deepEqual(m.layers[0].outputShape, [null, 8, 8, 4]);
  assert.deepEqual(m.layers[1].outputShape, [null, 4, 4, 4]);
  assert.equal(m.countParams(), 3 * 3 * 3 * 4 + 4 + 64 * 5 + 5);
  m.dispose();
});

function assertInvalid(spec: unknown, field: string) {
  assert.throws(
    () => validateArchitecture(spec),
    (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, 'INVALID_JOB_PARAMS');
      assert.equal(e.details?.field, field);
      return true;
    },
  );
}

test('validateArchitecture names the failing field', () => {
  assertInvalid(null, 'architecture');
  assertInvalid({ layers: [] }, 'architecture.layers');
  assertInvalid({ layers: [{ type: 'dense', units: 3 }], extra: 1 }, 'architecture.extra');
  assertInvalid({ layers: [{ type: 'lstm', units: 3 }] }, 'architecture.layers[0].type');
  assertInvalid(
    {
      layers: [
        { type: 'dense', units: 3 },
        { type: 'dense', units: 0 },
      ],
    },
    'architecture.layers[1].units',
  );
  assertInvalid({ layers: [{ type: 'dense', units: 3, activation: 'nope' }] }, 'architecture.layers[0].activation');
  assertInvalid({ layers: [{ type: 'conv2d', filters: 2, kernelSize: 3, padding: 'full' }] }, 'architecture.layers[0].padding');
  assertInvalid({ layers: [{ type: 'dropout', rate: 1 }] }, 'architecture.layers[0].rate');
  assertInvalid({ layers: [{ type: 'flatten', units: 2 }] }, 'architecture.layers[0].units');
  assertInvalid({ layers: [{ type: 'conv2d', filters: 2 }] }, 'architecture.layers[0].kernelSize');
  validateArchitecture({ layers: [{ type: 'dense', units: 3 }] });
});

test('specs that do not fit the input are rejected without leaking tensors', () => {
  const before = tf.memory().numTensors;
  assert.throws(() => buildModel({ layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] }, [10], 2), { code: 'INCOMPATIBLE_INPUTS' });
  assert.throws(() => buildModel({ layers: [{ type: 'conv2d', filters: 2, kernelSize: 9 }] }, [4, 4, 1], 2), { code: 'INCOMPATIBLE_INPUTS' });
  assert.throws(() => buildModel('lenet-5', [28, 28], 1), { code: 'INVALID_JOB_PARAMS' });
  assert.equal(tf.memory().numTensors, before);
});

// Issue 13 presets and the graph form of the spec.
const hasClass = (m: tf.LayersModel, c: string) => m.layers.some((l) => l.getClassName() === c);

test('resnet-20 builds the CIFAR network (~0.27M params at 32x32x3) and any small image shape; residual Adds', () => {
  const cifar = buildModel('resnet-20', [32, 32, 3], 10, { seed: 1 });
  assert.ok(cifar.countParams() > 265_000 && cifar.countParams() < 280_000, String(cifar.countParams()));
  assert.equal(cifar.layers.filter((l) => l.getClassName() === 'Add').length, 9);
  cifar.dispose();
  for (const shape of [[8, 8, 1], [28, 28], [16]]) {
    const m = buildModel({ preset: 'resnet-20', widthMultiplier: 0.25 }, shape, 3);
    assert.deepEqual(m.outputs[0].shape, [null, 3], String(shape));
    m.dispose();
  }
});

test('mobilenet-v2 builds with widthMultiplier on small images: inverted residuals with depthwise convs and ReLU6', () => {
  const m = buildModel({ preset: 'mobilenet-v2', widthMultiplier: 0.35 }, [12, 12, 1], 4);
  assert.ok(hasClass(m, 'DepthwiseConv2D') && hasClass(m, 'Add'));
  assert.ok(m.layers.some((l) => l.getClassName() === 'ReLU' && (l.getConfig() as { maxValue?: number }).maxValue === 6));
  const half = buildModel({ preset: 'mobilenet-v2', widthMultiplier: 0.5 }, [12, 12, 1], 4);
  assert.ok(half.countParams() > m.countParams());
  const y = m.predict(tf.zeros([2, 12, 12, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 4]);
  tf.dispose([y]);
  m.dispose();
  half.dispose();
});

test('text-cnn and lstm-classifier build over [T] token ids with a vocabulary; refuse images and a missing vocabSize', () => {
  for (const preset of ['text-cnn', 'lstm-classifier'] as const) {
    const m = buildModel({ preset, widthMultiplier: 0.25, vocabSize: 50 }, [12], 3, { seed: 2 });
    assert.ok(hasClass(m, 'Embedding') && hasClass(m, preset === 'text-cnn' ? 'Conv1D' : 'LSTM'));
    const y = m.predict(tf.tensor2d([[3, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]])) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 3]);
    tf.dispose([y]);
    m.dispose();
    const fromOpts = buildModel(preset, [5], 2, { vocabSize: 10 });
    fromOpts.dispose();
    assert.throws(() => buildModel(preset, [5], 2), { code: 'INVALID_JOB_PARAMS' });
    assert.throws(() => buildModel(preset, [4, 4, 1], 2, { vocabSize: 10 }), { code: 'INCOMPATIBLE_INPUTS' });
  }
});

test('tokenVocabulary: largest id + 1 (at least 2), a given vocabSize must cover it, non-integer ids refused', () => {
  assert.equal(tokenVocabulary(41), 42);
  assert.equal(tokenVocabulary(0), 2);
  assert.equal(tokenVocabulary(41, 100), 100);
  assert.throws(() => tokenVocabulary(41, 41), { code: 'INVALID_JOB_PARAMS', details: { field: 'params.architecture.vocabSize' } });
  assert.throws(() => tokenVocabulary(41, 10, 'params.student.vocabSize'), /params\.student\.vocabSize: 10 does not cover .* at least 42/);
  assert.throws(() => tokenVocabulary(0.5), { code: 'INCOMPATIBLE_INPUTS' });
  assert.throws(() => tokenVocabulary(-1), { code: 'INCOMPATIBLE_INPUTS' });
});

/** A job context whose one dataset has these token rows per split, fed with `scale`. */
function tokenContext(splits: { train: number[][]; test?: number[][] }, scale = 1): { ctx: JobContext; loads: string[] } {
  const loads: string[] = [];
  const datasets = {
    open: async () => ({
      dataset: { name: 'tokens' },
      hasTest: splits.test !== undefined,
      preprocessing: { scale, offset: 0, mean: null, std: null, layout: null, origin: 'dataset' },
      async load(split: 'train' | 'test', opts: { limit?: number } = {}) {
        loads.push(`${split}:${opts.limit ?? 'all'}`);
        const rows = splits[split]!.slice(0, opts.limit);
        return {
          x: tf.tensor2d(rows),
          y: tf.tidy(() => tf.oneHot(tf.zeros([rows.length], 'int32'), 2)),
          labels: new Int32Array(rows.length),
          n: rows.length,
        };
      },
    }),
  };
  return { ctx: { datasets } as unknown as JobContext, loads };
}

test('vocabularyOf derives the vocabulary from the largest token id of every row of both splits, not the first rows', async () => {
  const before = tf.memory().numTensors;
  // The largest ids sit past the first batch of train and in the test split only.
  const train = [...Array.from({ length: 300 }, () => [1, 2, 3, 0]), [4, 57, 0, 0]];
  const { ctx, loads } = tokenContext({
    train,
    test: [
      [1, 2, 0, 0],
      [80, 3, 0, 0],
    ],
  });
  assert.equal(await vocabularyOf(ctx, 'd'), 81);
  assert.deepEqual(loads, ['train:all', 'test:all']);
  assert.equal(await vocabularyOf(ctx, 'd', 200), 200);
  await assert.rejects(vocabularyOf(ctx, 'd', 60), { code: 'INVALID_JOB_PARAMS', details: { field: 'params.architecture.vocabSize' } });
  assert.equal(await vocabularyOf(tokenContext({ train }).ctx, 'd'), 58);
  // uint8 features are fed as 0-1 image bytes: the embedding would see fractions of the ids.
  await assert.rejects(vocabularyOf(tokenContext({ train }, 1 / 255).ctx, 'd'), { code: 'INCOMPATIBLE_INPUTS', message: /unscaled.*int32/ });
  assert.equal(tf.memory().numTensors, before);
});

test('graph form: named layers with inputs build a residual model (Add, Concatenate); validation names bad names and inputs', () => {
  const spec = {
    layers: [
      { name: 'stem', type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same' },
      { name: 'bn', type: 'batchNormalization' },
      { name: 'act', type: 'relu', maxValue: 6 },
      { name: 'dw', type: 'depthwiseConv2d', kernelSize: 3, padding: 'same' },
      { name: 'res', type: 'add', inputs: ['act', 'dw'] },
      { name: 'sep', type: 'separableConv2d', filters: 4, kernelSize: 3, padding: 'same', inputs: ['res'] },
      { name: 'cat', type: 'concatenate', inputs: ['res', 'sep'] },
      { type: 'globalAveragePooling2d' },
    ],
  } as unknown as ArchitectureSpec;
  validateArchitecture(spec);
  const m = buildModel(spec, [8, 8, 1], 3, { seed: 0 });
  assert.deepEqual(m.outputs[0].shape, [null, 3]);
  assert.ok(hasClass(m, 'Add') && hasClass(m, 'Concatenate') && hasClass(m, 'SeparableConv2D'));
  assert.equal(m.getLayer('cat').outputShape[3], 8);
  m.dispose();
  const field = (s: unknown) => {
    try {
      validateArchitecture(s);
    } catch (e) {
      return (e as AppError).details?.field;
    }
    return null;
  };
  assert.equal(field({ layers: [{ type: 'dense', units: 2, inputs: ['nope'] }] }), 'architecture.layers[0].inputs[0]');
  assert.equal(
    field({
      layers: [
        { name: 'a', type: 'dense', units: 2 },
        { name: 'a', type: 'dense', units: 2 },
      ],
    }),
    'architecture.layers[1].name',
  );
  assert.equal(
    field({
      layers: [
        { name: 'a', type: 'dense', units: 2 },
        { type: 'add', inputs: ['a'] },
      ],
    }),
    'architecture.layers[1].inputs',
  );
  assert.equal(
    field({
      layers: [
        { name: 'a', type: 'dense', units: 2 },
        { type: 'dense', units: 2, inputs: ['a', 'input'] },
      ],
    }),
    'architecture.layers[1].inputs',
  );
  // Shapes that do not add up: INCOMPATIBLE_INPUTS naming the layer.
  assert.throws(
    () =>
      buildModel(
        {
          layers: [
            { name: 'a', type: 'dense', units: 2 },
            { type: 'add', inputs: ['a', 'input'] },
          ],
        } as unknown as ArchitectureSpec,
        [5],
        2,
      ),
    (e: AppError) => e.code === 'INCOMPATIBLE_INPUTS' && e.details?.field === 'architecture.layers[1]',
  );
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { buildModel, validateArchitecture, type ArchitectureSpec } from '../../src/ml/architectures.ts';
import { AppError } from '../../src/errors.ts';

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

// Keras writers: a model exported as Keras 2 .h5 and as Keras 3 .keras imports again (through our Keras importers,
// which read real Keras files) to the same predictions — for the real published Keras files, an imported ONNX graph,
// a functional model with branches, and a quantized model (written dequantized). No Keras installs here, so Keras
// itself does not check these files; the layouts follow what Keras 2.15 / 3.13 write (see the real fixtures).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportKeras, exportKerasH5 } from '../../src/formats/keras/export.ts';
import { importKerasH5 } from '../../src/formats/keras/import-h5.ts';
import { importKerasZip } from '../../src/formats/keras/import-keras.ts';
import type { ImportResult } from '../../src/formats/models/types.ts';
import { importOnnx } from '../../src/formats/onnx/import.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { quantizeWeights } from '../../src/ml/compress/quantize/affine.ts';
import { loadModelFromArtifacts, serializeModel } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { maxScaledDiff, mnistInputs, nchwToNhwc, ONNX_FIXTURES } from '../helpers/onnx.ts';
import { REAL_MODELS_SKIP, realModelPath, realModelsDir } from '../helpers/real-models.ts';

const N = 64;
let dir: string;
before(async () => {
  await initBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'formats-keras-export-'));
});
after(async () => fs.rm(dir, { recursive: true, force: true }));

/** Each import needs its own work directory (the conversion service gives it a fresh one). */
const ctx = () => ({
  limits: { maxFileBytes: 1 << 30, maxRequestBytes: 1 << 30, maxFiles: 100, maxModelJsonBytes: 1 << 24 },
  workDir: mkdtempSync(path.join(dir, 'import-')),
});

async function predict(artifacts: tf.io.ModelArtifacts, x: Float32Array, perExample: number[]): Promise<Float32Array> {
  const model = await loadModelFromArtifacts(artifacts);
  try {
    const t = tf.tensor(x, [x.length / perExample.reduce((a, b) => a * b, 1), ...perExample]);
    const y = model.predict(t) as tf.Tensor;
    const out = (await y.data()) as Float32Array;
    tf.dispose([t, y]);
    return out;
  } finally {
    model.dispose();
  }
}

/** Exports `artifacts` as .h5 and .keras, imports both back, and compares predictions on `x`. */
async function roundTrip(label: string, artifacts: tf.io.ModelArtifacts, x: Float32Array, perExample: number[]) {
  const expected = await predict(artifacts, x, perExample);
  const opts = { quantized: 'float' as const, inputLayout: 'NHWC' as const, baseName: label };
  const h5 = await exportKerasH5(artifacts, opts);
  const keras = await exportKeras(artifacts, opts);
  assert.equal(h5.fileName, `${label}.h5`);
  assert.equal(keras.fileName, `${label}.keras`);
  const h5Path = path.join(dir, `${label}.h5`);
  const kerasPath = path.join(dir, `${label}.keras`);
  await fs.writeFile(h5Path, h5.data);
  await fs.writeFile(kerasPath, keras.data);
  const results: [string, ImportResult][] = [
    ['h5', await importKerasH5([{ path: `${label}.h5`, localPath: h5Path, sizeBytes: h5.data.length }])],
    ['keras', await importKerasZip([{ path: `${label}.keras`, localPath: kerasPath, sizeBytes: keras.data.length }], ctx())],
  ];
  for (const [format, r] of results) {
    const actual = await predict(r.artifacts, x, perExample);
    assert.ok(maxScaledDiff(actual, expected) < 1e-6, `${label} via ${format}: ${maxScaledDiff(actual, expected)}`);
  }
  return results;
}

const mnist = () => {
  const { x } = mnistInputs(N, { scale: 1 / 255, offset: 0 });
  return { nchw: x, nhwc: nchwToNhwc(x, N, 1, 28, 28) };
};

describe('real Keras files: import → export → import', { skip: realModelsDir() ? false : REAL_MODELS_SKIP }, () => {
  test('keras2-mnist-cnn.h5, keras2-mnist-cnn-dropout.h5, keras3-mnist-mlp.keras', async () => {
    const { nhwc } = mnist();
    for (const name of ['keras2-mnist-cnn.h5', 'keras2-mnist-cnn-dropout.h5']) {
      const r = await importKerasH5([{ path: name, localPath: realModelPath(name)!, sizeBytes: 0 }]);
      const [[, h5], [, keras]] = await roundTrip(name.replace(/\W/g, '_'), r.artifacts, nhwc, [28, 28, 1]);
      assert.equal(h5.source.version, '2.15.0');
      assert.equal(keras.source.version, '3.13.0');
    }
    const mlp = await importKerasZip([{ path: 'm.keras', localPath: realModelPath('keras3-mnist-mlp.keras')!, sizeBytes: 0 }], ctx());
    await roundTrip('mlp', mlp.artifacts, nhwc, [28, 28]);
  });
});

test('an imported PyTorch ResNet-style graph (functional, residual Adds, BatchNorm) and its uint8-quantized copy', async () => {
  const { nhwc } = mnist();
  const r = await importOnnx([{ path: 'r.onnx', localPath: path.join(ONNX_FIXTURES, 'resnet-mini.onnx'), sizeBytes: 0 }]);
  await roundTrip('resnet', r.artifacts, nhwc, [28, 28, 1]);
  const q = quantizeWeights(r.artifacts.weightSpecs!, r.artifacts.weightData, 'uint8');
  await roundTrip('resnet_uint8', { ...r.artifacts, weightSpecs: q.specs, weightData: q.data }, nhwc, [28, 28, 1]);
});

test('a functional model with two branches, Concatenate, depthwise/separable convs, relu6 and LeakyReLU', async () => {
  const input = tf.input({ shape: [28, 28, 1] });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  let y = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.leakyReLU({ alpha: 0.1 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(y) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  const { artifacts } = await serializeModel(model);
  model.dispose();
  await roundTrip('branches', artifacts, mnist().nhwc, [28, 28, 1]);
});

// ONNX exporter: ONNX Runtime running the exported graph gives tfjs's outputs within 1e-4 — for every layer class of
// the catalog that ONNX can express, for the real published files and the PyTorch fixtures after import (and then
// equals ONNX Runtime on the original), for NHWC and NCHW inputs, and for uint8/float16-quantized weights written
// as QDQ or as float. Export → import gives the same predictions again.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { importKerasH5 } from '../../src/formats/keras/import-h5.ts';
import { importKerasZip } from '../../src/formats/keras/import-keras.ts';
import type { ImportResult } from '../../src/formats/models/types.ts';
import { exportOnnx } from '../../src/formats/onnx/export.ts';
import { importOnnx } from '../../src/formats/onnx/import.ts';
import { onnxRuntimeLatency } from '../../src/formats/onnx/latency.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { quantizeWeights } from '../../src/ml/compress/quantize/affine.ts';
import { loadModelFromArtifacts, serializeModel } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { LAYER_CASES } from '../helpers/layer-catalog.ts';
import { argmaxAccuracy, EXACT_QDQ, maxScaledDiff, mnistInputs, nchwToNhwc, ONNX_FIXTURES, runOrt } from '../helpers/onnx.ts';
import { REAL_MODELS_SKIP, realModelPath, realModelsDir } from '../helpers/real-models.ts';

const N = 256;
const TOL = 1e-4;
let dir: string;

before(async () => {
  await initBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'formats-onnx-export-'));
});
after(async () => fs.rm(dir, { recursive: true, force: true }));

async function predict(artifacts: tf.io.ModelArtifacts, x: Float32Array, perExample: number[]): Promise<Float32Array> {
  const model = await loadModelFromArtifacts(artifacts);
  try {
    const n = x.length / perExample.reduce((a, b) => a * b, 1);
    const t = tf.tensor(x, [n, ...perExample]);
    const y = model.predict(t) as tf.Tensor;
    const out = (await y.data()) as Float32Array;
    tf.dispose([t, y]);
    return out;
  } finally {
    model.dispose();
  }
}

const exportBytes = async (artifacts: tf.io.ModelArtifacts, inputLayout: 'NHWC' | 'NCHW', quantized: 'qdq' | 'float' = 'qdq') =>
  (await exportOnnx(artifacts, { inputLayout, quantized, baseName: 'm' })).data;

async function importBytes(name: string, bytes: Uint8Array): Promise<ImportResult> {
  const p = path.join(dir, name);
  await fs.writeFile(p, bytes);
  return importOnnx([{ path: name, localPath: p, sizeBytes: bytes.byteLength }]);
}

const mnistNhwc = (pre: Parameters<typeof mnistInputs>[1]) => {
  const { x, labels } = mnistInputs(N, pre);
  return { nchw: x, nhwc: nchwToNhwc(x, N, 1, 28, 28), labels };
};

describe('layer catalog: ONNX Runtime = tfjs', () => {
  const exported = new Set<string>();
  const refused: string[] = [];
  for (const c of LAYER_CASES) {
    const label = `${c.className}${c.variant ? ` (${c.variant})` : ''}`;
    test(label, async () => {
      const model = c.build();
      const inputs = c.inputs();
      try {
        const { artifacts } = await serializeModel(model);
        let bytes: Buffer;
        try {
          bytes = await exportBytes(artifacts, 'NHWC');
        } catch (err) {
          // Layers ONNX cannot take (int inputs, recurrent cells, ...) are named in one error.
          assert.ok(err instanceof AppError && err.code === 'UNSUPPORTED_OPERATOR', String(err));
          refused.push(label);
          return;
        }
        exported.add(c.className);
        assert.equal(inputs.length, 1, 'single-input cases only');
        const x = (await inputs[0].data()) as Float32Array;
        const expected = (await (model.predict(inputs[0]) as tf.Tensor).data()) as Float32Array;
        const actual = await runOrt(bytes, x, inputs[0].shape.slice(1), inputs[0].shape[0]);
        assert.ok(maxScaledDiff(actual, expected) < TOL, `${label}: ${maxScaledDiff(actual, expected)}`);
      } finally {
        tf.dispose(inputs);
        model.dispose();
      }
    });
  }

  test('the exporter covers the layers the catalog and our importers use', () => {
    for (const cls of [
      'Dense',
      'Conv2D',
      'DepthwiseConv2D',
      'SeparableConv2D',
      'BatchNormalization',
      'MaxPooling2D',
      'AveragePooling2D',
      'Add',
      'Concatenate',
    ]) {
      assert.ok(exported.has(cls), `${cls} exports`);
    }
    console.log(`# refused (UNSUPPORTED_OPERATOR): ${refused.join(', ')}`);
  });
});

describe('imported ONNX files: export matches ONNX Runtime on the original (NCHW in, like the original)', () => {
  const cases: { name: string; file: () => string | null; pre: Parameters<typeof mnistInputs>[1]; fixedBatch: boolean }[] = [
    { name: 'onnxzoo-mnist-8.onnx', file: () => realModelPath('onnxzoo-mnist-8.onnx'), pre: { scale: 1 / 255, offset: 0 }, fixedBatch: true },
    { name: 'pytorch-mnist-lenet.onnx', file: () => realModelPath('pytorch-mnist-lenet.onnx'), pre: { scale: 1 / 255, offset: 0 }, fixedBatch: true },
    ...['resnet-mini.onnx', 'mobilenet-mini.onnx', 'ops-zoo-opset9.onnx', 'ops-zoo-opset17.onnx'].map((name) => ({
      name,
      file: () => path.join(ONNX_FIXTURES, name),
      pre: { scale: 1 / 255, offset: 0 },
      fixedBatch: false,
    })),
  ];
  for (const c of cases) {
    const real = c.name.startsWith('onnxzoo') || c.name.startsWith('pytorch-mnist');
    test(c.name, { skip: real && !realModelsDir() ? REAL_MODELS_SKIP : false }, async () => {
      const file = c.file()!;
      const imported = await importOnnx([{ path: c.name, localPath: file, sizeBytes: 0 }]);
      const bytes = await exportBytes(imported.artifacts, 'NCHW');
      const { nchw, nhwc, labels } = mnistNhwc(c.pre);
      const original = await runOrt(file, nchw, [1, 28, 28], c.fixedBatch ? 1 : N);
      const exported = await runOrt(bytes, nchw, [1, 28, 28], N);
      const tfjs = await predict(imported.artifacts, nhwc, [28, 28, 1]);
      assert.ok(maxScaledDiff(exported, tfjs) < TOL, `export vs tfjs ${maxScaledDiff(exported, tfjs)}`);
      assert.ok(maxScaledDiff(exported, original) < TOL, `export vs original ${maxScaledDiff(exported, original)}`);
      assert.equal(argmaxAccuracy(exported, labels, 10), argmaxAccuracy(original, labels, 10));
      // Round trip: the export imports again to the same predictions.
      const again = await importBytes(`again-${c.name}`, bytes);
      assert.equal(again.source.layout, 'NCHW');
      const tfjsAgain = await predict(again.artifacts, nhwc, [28, 28, 1]);
      assert.ok(maxScaledDiff(tfjsAgain, tfjs) < TOL, `re-import vs tfjs ${maxScaledDiff(tfjsAgain, tfjs)}`);
    });
  }
});

describe('real Keras files: export (NHWC in) matches tfjs', { skip: realModelsDir() ? false : REAL_MODELS_SKIP }, () => {
  const ctx = () => ({ limits: { maxFileBytes: 1 << 30, maxRequestBytes: 1 << 30, maxFiles: 100, maxModelJsonBytes: 1 << 24 }, workDir: dir });
  const keras: { name: string; load: (f: string) => Promise<ImportResult>; perExample: number[] }[] = [
    { name: 'keras2-mnist-cnn.h5', load: (f) => importKerasH5([{ path: 'a.h5', localPath: f, sizeBytes: 0 }]), perExample: [28, 28, 1] },
    { name: 'keras2-mnist-cnn-dropout.h5', load: (f) => importKerasH5([{ path: 'a.h5', localPath: f, sizeBytes: 0 }]), perExample: [28, 28, 1] },
    { name: 'keras3-mnist-mlp.keras', load: (f) => importKerasZip([{ path: 'a.keras', localPath: f, sizeBytes: 0 }], ctx()), perExample: [28, 28] },
  ];
  for (const k of keras) {
    test(k.name, async () => {
      const imported = await k.load(realModelPath(k.name)!);
      const bytes = await exportBytes(imported.artifacts, 'NHWC');
      const { nhwc, labels } = mnistNhwc({ scale: 1 / 255, offset: 0 });
      const tfjs = await predict(imported.artifacts, nhwc, k.perExample);
      const ort = await runOrt(bytes, nhwc, k.perExample, N);
      assert.ok(maxScaledDiff(ort, tfjs) < TOL, `${maxScaledDiff(ort, tfjs)}`);
      assert.equal(argmaxAccuracy(ort, labels, 10), argmaxAccuracy(tfjs, labels, 10));
    });
  }
});

describe('quantized weights', () => {
  /** A small NHWC CNN with most of its weights in one Dense kernel (so sizes compare weights, not graph overhead). */
  async function cnn() {
    const input = tf.input({ shape: [28, 28, 1] });
    let y = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: 'glorotNormal' }).apply(input) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
    y = tf.layers.maxPooling2d({ poolSize: 2 }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
    y = tf.layers.dense({ units: 10, biasInitializer: 'randomNormal' }).apply(y) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: y });
    const { artifacts } = await serializeModel(model);
    model.dispose();
    return artifacts;
  }

  for (const dtype of ['uint8', 'float16'] as const) {
    test(`${dtype}: QDQ and float exports both equal the dequantizing tfjs model; QDQ keeps the small weights`, async () => {
      const file = path.join(ONNX_FIXTURES, 'resnet-mini.onnx');
      const resnet = (await importOnnx([{ path: 'r.onnx', localPath: file, sizeBytes: 0 }])).artifacts;
      const { nchw, nhwc } = mnistNhwc({ scale: 1 / 255, offset: 0 });
      for (const [name, base, layout] of [
        ['resnet-mini (NCHW)', resnet, 'NCHW'],
        ['cnn (NHWC)', await cnn(), 'NHWC'],
      ] as const) {
        const q = quantizeWeights(base.weightSpecs!, base.weightData as ArrayBuffer, dtype);
        const artifacts = { ...base, weightSpecs: q.specs, weightData: q.data };
        const tfjs = await predict(artifacts, nhwc, [28, 28, 1]);
        const sizes: Record<string, number> = {};
        for (const mode of ['qdq', 'float'] as const) {
          const bytes = await exportBytes(artifacts, layout, mode);
          sizes[mode] = bytes.byteLength;
          const ort = await runOrt(bytes, layout === 'NCHW' ? nchw : nhwc, layout === 'NCHW' ? [1, 28, 28] : [28, 28, 1], N, EXACT_QDQ);
          assert.ok(maxScaledDiff(ort, tfjs) < TOL, `${name} ${mode}: ${maxScaledDiff(ort, tfjs)}`);
          if (mode === 'qdq') assert.ok(bytes.includes(Buffer.from(dtype === 'uint8' ? 'DequantizeLinear' : 'Cast')));
        }
        if (name.startsWith('cnn')) {
          assert.ok(sizes.qdq < sizes.float * (dtype === 'uint8' ? 0.4 : 0.6), `qdq ${sizes.qdq} B vs float ${sizes.float} B`);
        }
      }
    });
  }
});

describe('ONNX Runtime latency (compression reports)', () => {
  test('p50/p95 at batch 1 and 256 for an exportable model (live or artifacts); null for one with an LSTM', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
    try {
      for (const source of [model, (await serializeModel(model)).artifacts]) {
        const l = await onnxRuntimeLatency(source, 3, 1);
        assert.ok(l);
        for (const b of [l.batch1, l.batch256]) assert.ok(b.p50 > 0 && b.p95 >= b.p50, JSON.stringify(b));
      }
    } finally {
      model.dispose();
    }
    const rnn = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [5, 4], units: 3 }), tf.layers.dense({ units: 2 })] });
    try {
      assert.equal(await onnxRuntimeLatency(rnn, 3, 1), null);
    } finally {
      rnn.dispose();
    }
  });
});

// ONNX importer: every fixture (the real published files and the PyTorch-made ones) converts to a TF.js model whose
// outputs equal ONNX Runtime's on 256 real MNIST inputs within 1e-4; hand-built graphs cover opsets past PyTorch
// 1.13's (up to 21), external data files, and the single error naming every unsupported op.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importOnnx } from '../../src/formats/onnx/import.ts';
import type { ImportResult } from '../../src/formats/models/types.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { loadModelFromArtifacts } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { AppError } from '../../src/errors.ts';
import {
  argmaxAccuracy,
  fixtureInfo,
  floatTensor,
  graph,
  int64Tensor,
  maxAbsDiff,
  maxScaledDiff,
  mnistInputs,
  node,
  ONNX_FIXTURES,
  runOrt,
  withExternalData,
} from '../helpers/onnx.ts';
import { REAL_MODELS_SKIP, realModelPath, realModelsDir } from '../helpers/real-models.ts';

const N = 256;
let dir: string;

before(async () => {
  await initBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'formats-onnx-'));
});
after(async () => fs.rm(dir, { recursive: true, force: true }));

const importFile = (p: string, extra: { path: string; localPath: string }[] = []) =>
  importOnnx([{ path: path.basename(p), localPath: p, sizeBytes: 0 }, ...extra.map((e) => ({ ...e, sizeBytes: 0 }))]);

async function writeTmp(name: string, data: Uint8Array): Promise<string> {
  const p = path.join(dir, name);
  await fs.writeFile(p, data);
  return p;
}

/** tfjs outputs of the imported model on NCHW inputs (fed NHWC, as the import expects). */
async function tfjsOutputs(r: ImportResult, x: Float32Array, n: number): Promise<Float32Array> {
  const model = await loadModelFromArtifacts(r.artifacts);
  try {
    const perExample = model.inputs[0].shape.slice(1) as number[];
    const input = r.source.layout === 'NCHW' ? nhwc(x, n, r.source.inputShape as number[]) : x;
    const t = tf.tensor(input, [n, ...perExample]);
    const y = model.predict(t) as tf.Tensor;
    const out = (await y.data()) as Float32Array;
    tf.dispose([t, y]);
    return out;
  } finally {
    model.dispose();
  }
}

function nhwc(x: Float32Array, n: number, shape: number[]): Float32Array {
  const [, c, h, w] = shape;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let ci = 0; ci < c; ci++)
      for (let y = 0; y < h; y++) for (let xi = 0; xi < w; xi++) out[((i * h + y) * w + xi) * c + ci] = x[((i * c + ci) * h + y) * w + xi];
  return out;
}

async function assertMatchesOrt(file: string, r: ImportResult, pre: Parameters<typeof mnistInputs>[1], fixedBatch: boolean) {
  const { x, labels } = mnistInputs(N, pre);
  const inShape = r.source.inputShape!.slice(1) as number[];
  const expected = await runOrt(file, x, inShape, fixedBatch ? 1 : N);
  const actual = await tfjsOutputs(r, x, N);
  const diff = maxScaledDiff(actual, expected);
  assert.ok(diff < 1e-4, `max |tfjs − onnxruntime| / max(1, |onnxruntime|) = ${diff}`);
  return { ortAccuracy: argmaxAccuracy(expected, labels, 10), tfjsAccuracy: argmaxAccuracy(actual, labels, 10) };
}

describe('real published ONNX files', { skip: realModelsDir() ? false : REAL_MODELS_SKIP }, () => {
  test('onnxzoo-mnist-8.onnx (CNTK, opset 8): NCHW → NHWC, outputs equal ONNX Runtime, 98%+ on MNIST', async () => {
    const file = realModelPath('onnxzoo-mnist-8.onnx')!;
    const r = await importFile(file);
    assert.equal(r.source.version, 'opset 8');
    assert.equal(r.source.layout, 'NCHW');
    assert.deepEqual(r.source.inputShape, [1, 1, 28, 28]);
    assert.equal(r.source.outputs, 'logits');
    const classes = (r.artifacts.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers.map((l) => l.class_name);
    // The bias Adds and ReLUs fold into the convolutions; the NCHW flatten becomes reordered Dense rows.
    assert.deepEqual(classes, ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']);
    // 0-1 pixels: with 0-255 ones the logits reach the thousands and float32 summation order alone differs by ~2e-4 relative.
    const acc = await assertMatchesOrt(file, r, { scale: 1 / 255, offset: 0 }, true);
    assert.equal(acc.tfjsAccuracy, acc.ortAccuracy);
    assert.ok(acc.tfjsAccuracy > 0.97, `accuracy ${acc.tfjsAccuracy}`);
  });

  test('pytorch-mnist-lenet.onnx (PyTorch 1.7, opset 9, Softmax in the graph)', async () => {
    const file = realModelPath('pytorch-mnist-lenet.onnx')!;
    const r = await importFile(file);
    assert.equal(r.source.version, 'opset 9');
    assert.equal(r.source.outputs, 'probabilities');
    await assertMatchesOrt(file, r, { scale: 1 / 255, offset: 0 }, true);
  });
});

describe('PyTorch-made fixtures (scripts/make-onnx-fixtures.py)', () => {
  for (const name of [
    'resnet-mini.onnx',
    'mobilenet-mini.onnx',
    'ops-zoo-opset7.onnx',
    'ops-zoo-opset9.onnx',
    'ops-zoo-opset13.onnx',
    'ops-zoo-opset17.onnx',
  ]) {
    test(`${name}: outputs equal ONNX Runtime on ${N} MNIST images`, async () => {
      const info = fixtureInfo(name);
      const file = path.join(ONNX_FIXTURES, name);
      const r = await importFile(file);
      assert.equal(r.source.version, `opset ${info.opset}`);
      assert.equal(r.source.layout, 'NCHW');
      const acc = await assertMatchesOrt(file, r, info.preprocessing, false);
      if (info.torchAccuracy !== undefined)
        assert.ok(Math.abs(acc.tfjsAccuracy - info.torchAccuracy) < 0.05, `${acc.tfjsAccuracy} vs torch ${info.torchAccuracy}`);
    });
  }

  test('mobilenet-mini keeps depthwise convolutions, BatchNormalization and ReLU6 as Keras layers', async () => {
    const r = await importFile(path.join(ONNX_FIXTURES, 'mobilenet-mini.onnx'));
    const layers = (r.artifacts.modelTopology as { config: { layers: { class_name: string; config: { activation?: string } }[] } }).config.layers;
    assert.ok(layers.some((l) => l.class_name === 'DepthwiseConv2D'));
    assert.ok(layers.some((l) => l.class_name === 'BatchNormalization'));
    assert.ok(layers.some((l) => l.config.activation === 'relu6'));
    assert.ok(
      layers.some((l) => l.class_name === 'Rescaling'),
      'the in-graph (x - 127.5) / 127.5 is one Rescaling layer',
    );
  });

  test('external data: model.onnx + model.onnx.data give the same model; without the data file → MISSING_WEIGHTS', async () => {
    const file = path.join(ONNX_FIXTURES, 'resnet-mini.onnx');
    const { model, data } = withExternalData(await fs.readFile(file), 'model.onnx.data');
    const modelPath = await writeTmp('model.onnx', model);
    const dataPath = await writeTmp('weights.bin', data);
    const inline = await importFile(file);
    const external = await importFile(modelPath, [{ path: 'model.onnx.data', localPath: dataPath }]);
    assert.deepEqual(Buffer.from(external.artifacts.weightData), Buffer.from(inline.artifacts.weightData));
    await assert.rejects(importFile(modelPath), (err: AppError) => err.code === 'MISSING_WEIGHTS');
  });
});

describe('hand-built graphs', () => {
  /** x [N, 8] → MatMul → Add → Relu → Reshape [N, 2, 2, 2] → Flatten → Gemm → Softmax, at `opset`. */
  function mlp(opset: number) {
    const w1 = Array.from({ length: 8 * 8 }, (_, i) => Math.sin(i) / 3);
    const w2 = Array.from({ length: 8 * 4 }, (_, i) => Math.cos(i) / 3);
    return graph({
      opset,
      input: ['x', ['batch', 8]],
      output: ['y', ['batch', 4]],
      initializers: [
        floatTensor('w1', [8, 8], w1),
        floatTensor('b1', [8], [0.1, -0.1, 0, 0.2, 0, 0, 0.3, -0.3]),
        floatTensor('w2', [4, 8], w2),
        floatTensor('b2', [4], [0.5, 0, -0.5, 0.25]),
        int64Tensor('shape', [0, 2, 2, 2]),
      ],
      nodes: [
        node('MatMul', ['x', 'w1'], ['h']),
        node('Add', ['h', 'b1'], ['hb']),
        node('Relu', ['hb'], ['r']),
        node('Reshape', ['r', 'shape'], ['r4']),
        node('Flatten', ['r4'], ['f'], { axis: 1 }),
        node('Gemm', ['f', 'w2', 'b2'], ['g'], { transB: 1, alpha: 0.5, beta: 1.5 }),
        node('Softmax', ['g'], ['y'], opset < 13 ? { axis: 1 } : { axis: -1 }),
      ],
    });
  }

  for (const opset of [7, 13, 18, 21]) {
    test(`opset ${opset}: MatMul/Add/Relu/Reshape/Flatten/Gemm/Softmax equal ONNX Runtime`, async () => {
      const file = await writeTmp(`mlp-${opset}.onnx`, mlp(opset));
      const r = await importFile(file);
      assert.equal(r.source.version, `opset ${opset}`);
      assert.equal(r.source.layout, null);
      assert.equal(r.source.outputs, 'probabilities');
      const x = Float32Array.from({ length: 16 * 8 }, (_, i) => Math.sin(i * 0.7));
      const expected = await runOrt(file, x, [8], 16);
      const actual = await tfjsOutputs(r, x, 16);
      assert.ok(maxAbsDiff(actual, expected) < 1e-5);
    });
  }

  test('every unsupported op and node is named in one 422 UNSUPPORTED_OPERATOR', async () => {
    const file = await writeTmp(
      'unsupported.onnx',
      graph({
        opset: 13,
        input: ['x', [1, 4, 8, 8]],
        output: ['y', [1, 4, 16, 16]],
        initializers: [floatTensor('w', [4, 2, 3, 3], new Array(72).fill(0.1)), floatTensor('scales', [4], [1, 1, 2, 2])],
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { group: 2, pads: [1, 1, 1, 1] }, 'grouped_conv'),
          node('Erf', ['c'], ['e'], {}, 'gelu_erf'),
          node('Resize', ['e', '', 'scales'], ['y'], { mode: 'nearest' }, 'upsample'),
        ],
      }),
    );
    await assert.rejects(importFile(file), (err: AppError) => {
      assert.equal(err.code, 'UNSUPPORTED_OPERATOR');
      assert.deepEqual(err.details?.operators, [
        { op: 'Erf', node: 'gelu_erf' },
        { op: 'Resize', node: 'upsample' },
      ]);
      return true;
    });
    // Known op types with attributes that cannot be converted are named with the reason.
    const grouped = await writeTmp(
      'grouped.onnx',
      graph({
        opset: 13,
        input: ['x', [1, 4, 8, 8]],
        output: ['y', [1, 4, 8, 8]],
        initializers: [floatTensor('w', [4, 2, 3, 3], new Array(72).fill(0.1))],
        nodes: [node('Conv', ['x', 'w'], ['c'], { group: 2, pads: [1, 1, 1, 1] }, 'grouped_conv'), node('Clip', ['c'], ['y'], {}, 'clip')],
      }),
    );
    await assert.rejects(importFile(grouped), (err: AppError) => {
      assert.equal(err.code, 'UNSUPPORTED_OPERATOR');
      const ops = err.details?.operators as { op: string; node: string; reason: string }[];
      assert.deepEqual(
        ops.map((o) => [o.op, o.node]),
        [['Conv', 'grouped_conv']],
      );
      assert.match(ops[0].reason, /group=2/);
      return true;
    });
  });
});

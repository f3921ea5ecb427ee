// The PyTorch-made ResNet-style and MobileNet-style fixtures (scripts/make-onnx-fixtures.py → test/fixtures/onnx/)
// through the whole bring-your-own-model path without HTTP: import, one epoch of training on 256 MNIST images fed
// as the fixture expects (fixtures.json preprocessing), structured pruning (smaller graph), ONNX export, and ONNX
// Runtime's outputs equal to the pruned tfjs model's within 1e-4 on 256 other MNIST images.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { exportOnnx } from '../../src/formats/onnx/export.ts';
import { importOnnx } from '../../src/formats/onnx/import.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { structuredPrune } from '../../src/ml/compress/prune/structured.ts';
import { loadModelFromArtifacts, serializeModel } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { trainModel } from '../../src/ml/train.ts';
import { fixtureInfo, maxScaledDiff, mnistInputs, nchwToNhwc, ONNX_FIXTURES, runOrt } from '../helpers/onnx.ts';

const N = 256;

before(async () => {
  await initBackend('wasm');
});

for (const name of ['resnet-mini.onnx', 'mobilenet-mini.onnx']) {
  test(`${name}: imports, trains 1 epoch, structured-prunes, exports to ONNX equal to tfjs in ONNX Runtime`, async (t) => {
    const info = fixtureInfo(name);
    const imported = await importOnnx([{ path: name, localPath: path.join(ONNX_FIXTURES, name), sizeBytes: 0 }]);
    assert.equal(imported.source.layout, 'NCHW');
    const model = await loadModelFromArtifacts(imported.artifacts);
    // Training images: the first N test images; the check uses the next N.
    const train = mnistInputs(N, info.preprocessing);
    const x = tf.tensor(nchwToNhwc(train.x, N, 1, 28, 28), [N, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(Int32Array.from(train.labels.subarray(0, N)), 'int32'), 10).toFloat();
    let pruned: tf.LayersModel | null = null;
    try {
      const trained = await trainModel(
        model,
        { x, y },
        { epochs: 1, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, validationSplit: 0, seed: 1 },
      );
      assert.equal(trained.epochsRun, 1);
      const params = model.countParams();
      const result = await structuredPrune(model, { fraction: 0.25, norm: 'l1' });
      pruned = result.model;
      assert.ok(pruned.countParams() < params, `${pruned.countParams()} < ${params}`);
      const { artifacts } = await serializeModel(pruned);
      const onnx = await exportOnnx(artifacts, { quantized: 'qdq', inputLayout: 'NCHW', baseName: 'm' });

      const check = mnistInputs(N, info.preprocessing, N);
      const xt = tf.tensor(nchwToNhwc(check.x, N, 1, 28, 28), [N, 28, 28, 1]);
      const yt = pruned.predict(xt) as tf.Tensor;
      const tfjs = (await yt.data()) as Float32Array;
      tf.dispose([xt, yt]);
      const ort = await runOrt(onnx.data, check.x, [1, 28, 28], N);
      const diff = maxScaledDiff(ort, tfjs);
      t.diagnostic(`${name}: ${params} → ${pruned.countParams()} params, ${onnx.data.byteLength} B ONNX, max diff ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `ONNX Runtime vs tfjs: ${diff}`);
    } finally {
      tf.dispose([x, y]);
      pruned?.dispose();
      model.dispose();
    }
  });
}

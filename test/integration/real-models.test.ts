// The five real published files (/work/shared/fixtures/real-models, never copied into the repo) through the HTTP
// API: upload (format detected, preprocessing detected or declared), evaluate on the built-in MNIST test split at
// their real accuracy (ONNX: equal to ONNX Runtime running the original file on the same images), structured prune
// with one epoch of fine-tuning on a small subset, and export to tfjs, keras, h5 and onnx (the ONNX export equal
// to tfjs within 1e-4 in ONNX Runtime). Also: a model trained on 0-255 pixels scores its real accuracy only once
// that is declared (upload field, PATCH). Skips (with the reason) when the fixtures directory is absent.
// Cost: the prune/export part runs on the embedded target only, and the real target takes one Keras and one ONNX file
// (their storage paths are the same for every file; the rest would double the file's minutes). Prune jobs run on a
// 256+256-image MNIST subset uploaded as .npz, since a prune measures accuracy on the whole test split (10,000 images)
// twice. See notes/14-byom.md for the seconds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stopConverter } from '../../src/formats/models/converter.ts';
import { importKerasH5 } from '../../src/formats/keras/import-h5.ts';
import { loadArtifactsFromStore, loadModelFromArtifacts, modelToFiles } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { binaryParser, zipBuffer } from '../helpers/fixtures.ts';
import { readMnist } from '../unit/ml-mnist.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, waitForJob, type JobJson } from '../helpers/jobs.ts';
import { argmaxAccuracy, maxScaledDiff, mnistInputs, nchwToNhwc, runOrt } from '../helpers/onnx.ts';
import { REAL_MODELS_SKIP, realModelPath, realModelsDir } from '../helpers/real-models.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';

const skip = realModelsDir() ? false : REAL_MODELS_SKIP;
const ENV = { MODELPRESS_BACKEND: 'wasm', MODELPRESS_BUILTIN_DATASETS: 'true', MODELPRESS_QUEUE_POLL_SECONDS: '1' };
/** MNIST test images evaluated per model. */
const N = 512;
/** Inputs compared between tfjs and ONNX Runtime for the exports. */
const N_ORT = 256;

interface Case {
  file: string;
  /** What the upload should detect. */
  detected: Record<string, unknown> | null;
  /** Accuracy bounds on the first N test images (measured: see notes/14-byom.md). */
  min: number;
  max: number;
  /** Static batch 1 in the original graph. */
  batch1?: boolean;
  /** Also run on the real PostgreSQL+S3 target (upload, evaluate, ONNX export). */
  real?: boolean;
}

/** The first `n` MNIST images of each split as one .npz (uint8 [n, 28, 28, 1], int32 labels). */
async function mnistSubsetNpz(n: number): Promise<Buffer> {
  const entries: { name: string; data: Buffer }[] = [];
  for (const split of ['train', 'test'] as const) {
    const { images, labels } = readMnist(split, n);
    entries.push({
      name: `x_${split}.npy`,
      data: Buffer.concat([buildNpyHeader('uint8', [n, 28, 28, 1]), Buffer.from(images.subarray(0, n * 784))]),
    });
    const y = Int32Array.from(labels.subarray(0, n));
    entries.push({ name: `y_${split}.npy`, data: Buffer.concat([buildNpyHeader('int32', [n]), Buffer.from(y.buffer)]) });
  }
  return zipBuffer(entries);
}

const CASES: Case[] = [
  { file: 'keras2-mnist-cnn-dropout.h5', detected: null, min: 0.97, max: 1 },
  { file: 'keras3-mnist-mlp.keras', detected: null, min: 0.95, max: 1, real: true },
  // Verified against a PyTorch reference of its weights (test/unit/formats-keras.test.ts): chance under every input scaling.
  { file: 'keras2-mnist-cnn.h5', detected: null, min: 0, max: 0.2 },
  { file: 'onnxzoo-mnist-8.onnx', detected: { layout: 'NCHW', origin: 'detected' }, min: 0.97, max: 1, batch1: true, real: true },
  // Exported before training (see the fixtures README): chance; still checked equal to ONNX Runtime.
  { file: 'pytorch-mnist-lenet.onnx', detected: { layout: 'NCHW', origin: 'detected' }, min: 0, max: 0.2, batch1: true },
];

const measured: Record<string, unknown>[] = [];

await forEachTarget('real models: upload, evaluate, prune, export', (target) => {
  let ctx: TestContext;
  let mnistId: string;
  let subsetId: string;
  const started = performance.now();

  before(async () => {
    if (skip) return;
    ctx = await startTestApp(target, ENV, { worker: { concurrency: 1 } });
    if (ctx.config.registerBuiltins) await ctx.runtime.services.datasets.ensureBuiltins();
    mnistId = (await ctx.http.get('/v1/datasets?name=mnist').expect(200)).body.items[0].id;
    if (target === 'embedded') {
      const ds = await ctx.http
        .post('/v1/datasets')
        .field('name', 'mnist-256')
        .attach('files', await mnistSubsetNpz(256), 'mnist-256.npz')
        .expect(201);
      subsetId = ds.body.id;
    }
  });
  after(async () => {
    await ctx?.close();
    await stopConverter();
    if (!skip) console.log(`# [${target}] real-models: ${((performance.now() - started) / 1000).toFixed(1)} s`, JSON.stringify(measured));
  });

  const run = async (body: Record<string, unknown>, timeoutMs = 240_000) => {
    const job = (await ctx.http.post('/v1/jobs').send(body).expect(201)).body as JobJson;
    const done = await waitForJob(ctx, job.id, finished, timeoutMs);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    return done;
  };
  const upload = async (name: string, data: Buffer, preprocessing?: unknown) => {
    let req = ctx.http.post('/v1/models').field('name', name);
    if (preprocessing !== undefined) req = req.field('preprocessing', JSON.stringify(preprocessing));
    return (await req.attach('files', data, name).expect(201)).body;
  };
  const download = (url: string) => ctx.http.get(url).buffer(true).parse(binaryParser).expect(200);

  /** tfjs outputs of a stored model on NCHW 0-1 images (fed NHWC). */
  async function tfjsOutputs(modelId: string, x: Float32Array, n: number): Promise<Float32Array> {
    const model = await loadModelFromArtifacts(
      await loadArtifactsFromStore(
        ctx.runtime.store,
        (await ctx.runtime.services.models.storedFiles(ALL_PROJECTS, modelId)).filter((f) => !f.path.startsWith('source/')),
      ),
    );
    try {
      const shape = model.inputs[0].shape.slice(1) as number[];
      const t = tf.tensor(nchwToNhwc(x, n, 1, 28, 28), [n, ...shape]);
      const y = model.predict(t) as tf.Tensor;
      const out = (await y.data()) as Float32Array;
      tf.dispose([t, y]);
      return out;
    } finally {
      model.dispose();
    }
  }

  for (const c of CASES.filter((k) => target === 'embedded' || k.real)) {
    test(
      `${c.file}: uploads, evaluates at its real accuracy${target === 'embedded' ? ', prunes with fine-tuning, exports to 4 formats' : ''}`,
      { skip },
      async (t) => {
        const path = realModelPath(c.file)!;
        const m = await upload(c.file, fs.readFileSync(path));
        assert.deepEqual(m.preprocessing, c.detected);
        const ev = await run({ type: 'evaluate', modelId: m.id, datasetId: mnistId, params: { limit: N } });
        const report = ev.report as Record<string, any>;
        assert.equal(report.examples, N);
        assert.equal(report.preprocessing.scale, 1 / 255, 'the dataset normalization (0-1 pixels) unless declared');
        const acc: number = report.accuracy;
        const row: Record<string, unknown> = { target, file: c.file, accuracy: acc, preprocessing: report.preprocessing };
        if (c.file.endsWith('.onnx')) {
          // The original file in ONNX Runtime on the same images, preprocessed the same way.
          const { x, labels } = mnistInputs(N, { scale: 1 / 255, offset: 0 });
          const ort = argmaxAccuracy(await runOrt(path, x, [1, 28, 28], c.batch1 ? 1 : N), labels, 10);
          row.onnxRuntimeAccuracy = ort;
          assert.ok(Math.abs(acc - ort) <= 1 / N, `evaluate ${acc} vs ONNX Runtime ${ort}`);
        }
        assert.ok(acc >= c.min && acc <= c.max, `accuracy ${acc} outside [${c.min}, ${c.max}]`);
        t.diagnostic(`${c.file}: accuracy ${acc} on ${N} MNIST test images`);
        if (target !== 'embedded') {
          // The real target still proves the ONNX export path over S3.
          const onnx = await download(`/v1/models/${m.id}/export?format=onnx`);
          assert.ok(onnx.body.length > 1000);
          measured.push(row);
          return;
        }

        const pruneJob = await run({
          type: 'prune',
          modelId: m.id,
          datasetId: subsetId,
          params: { method: 'structured', sparsity: 0.25, fineTuneEpochs: 1, batchSize: 64, seed: 1 },
        });
        const pruned = (await ctx.http.get(`/v1/models/${(pruneJob.resultModelIds as string[])[0]}`).expect(200)).body;
        assert.deepEqual(pruned.preprocessing, c.detected, 'the result inherits the preprocessing');
        assert.ok(pruned.params < m.params, `${pruned.params} < ${m.params}`);
        const pr = pruneJob.report as Record<string, any>;
        assert.equal(pr.preprocessing.scale, 1 / 255);
        row.pruned = { params: [m.params, pruned.params], accuracy: [pr.before.accuracy, pr.after.accuracy] };

        for (const format of ['tfjs', 'keras', 'h5']) {
          const res = await download(`/v1/models/${pruned.id}/export?format=${format}`);
          assert.ok(res.body.length > 0 && Number(res.headers['content-length']) === res.body.length, format);
        }
        const onnx = await download(`/v1/models/${pruned.id}/export?format=onnx`);
        const { x } = mnistInputs(N_ORT, { scale: 1 / 255, offset: 0 });
        // Exports of models imported from NCHW graphs take NCHW again; the Keras ones NHWC.
        const nchw = m.sourceLayout === 'NCHW';
        const perExample = nchw ? [1, 28, 28] : (pruned.inputShape as number[]).slice(1);
        const ortOut = await runOrt(onnx.body, nchw ? x : nchwToNhwc(x, N_ORT, 1, 28, 28), perExample, N_ORT);
        const diff = maxScaledDiff(await tfjsOutputs(pruned.id, x, N_ORT), ortOut);
        row.onnxExportMaxDiff = diff;
        assert.ok(diff < 1e-4, `ONNX export vs tfjs: ${diff}`);
        measured.push(row);
      },
    );
  }

  describe('a model trained on 0-255 pixels', { skip: target === 'embedded' ? skip : 'embedded target only (no storage path of its own)' }, () => {
    test('scores at chance fed 0-1 pixels, its real accuracy once {"scale":1} is declared (upload or PATCH)', { skip }, async () => {
      // keras2-mnist-cnn-dropout.h5 with its first kernel divided by 255: exactly a model that expects 0-255 input.
      const r = await importKerasH5([{ path: 'm.h5', localPath: realModelPath('keras2-mnist-cnn-dropout.h5')!, sizeBytes: 0 }]);
      const model = await loadModelFromArtifacts(r.artifacts);
      const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
      const [k, b] = conv.getWeights();
      conv.setWeights([k.div(255), b]);
      const files = await modelToFiles(model);
      model.dispose();
      let req = ctx.http.post('/v1/models').field('name', 'cnn-0-255').field('preprocessing', '{"scale":1,"offset":0}');
      for (const f of files) req = req.attach('files', f.data, f.path);
      const m = (await req.expect(201)).body;
      assert.deepEqual(m.preprocessing, { scale: 1, offset: 0, origin: 'declared' });
      const declared = (await run({ type: 'evaluate', modelId: m.id, datasetId: mnistId, params: { limit: 128 } })).report as Record<string, any>;
      assert.ok(declared.accuracy > 0.97, `declared: ${declared.accuracy}`);
      assert.deepEqual(declared.preprocessing, { scale: 1, offset: 0, mean: null, std: null, layout: null, origin: 'declared' });

      const cleared = (await ctx.http.patch(`/v1/models/${m.id}`).send({ preprocessing: null }).expect(200)).body;
      assert.equal(cleared.preprocessing, null);
      const plain = (await run({ type: 'evaluate', modelId: m.id, datasetId: mnistId, params: { limit: 128 } })).report as Record<string, any>;
      assert.ok(plain.accuracy < declared.accuracy - 0.3, `0-1 pixels: ${plain.accuracy}`);
      assert.equal(plain.preprocessing.origin, 'dataset');

      // Mean/std (torchvision style) through PATCH: same numbers as 0-255 → (x/255 − 0) / (1/255).
      const patched = (
        await ctx.http
          .patch(`/v1/models/${m.id}`)
          .send({ preprocessing: { scale: 1 / 255, mean: [0], std: [1 / 255] } })
          .expect(200)
      ).body;
      assert.deepEqual(patched.preprocessing, { scale: 1 / 255, mean: [0], std: [1 / 255], origin: 'declared' });
      const std = (await run({ type: 'evaluate', modelId: m.id, datasetId: mnistId, params: { limit: 128 } })).report as Record<string, any>;
      assert.ok(Math.abs(std.accuracy - declared.accuracy) < 1e-9, `${std.accuracy} vs ${declared.accuracy}`);

      const bad = await ctx.http
        .patch(`/v1/models/${m.id}`)
        .send({ preprocessing: { std: [0] } })
        .expect(400);
      assert.match(bad.body.detail, /preprocessing/);
      const gql = await ctx.http
        .post('/graphql')
        .send({ query: `mutation { updateModel(id: "${m.id}", input: { preprocessing: { scale: 1 } }) { preprocessing } }` })
        .expect(200);
      assert.deepEqual(gql.body.data.updateModel.preprocessing, { scale: 1, origin: 'declared' });
    });
  });
});

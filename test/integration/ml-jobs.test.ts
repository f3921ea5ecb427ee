// train and evaluate jobs through the HTTP API with an in-process worker on the wasm backend and the built-in
// MNIST: accuracy of a real run, a downloadable result model, evaluation figures, a conv model learning on wasm,
// cancellation, parameter validation and incompatible inputs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { modelToFiles } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, waitForJob, type JobJson } from '../helpers/jobs.ts';

const ENV = { MODELPRESS_BACKEND: 'wasm', MODELPRESS_BUILTIN_DATASETS: 'true', MODELPRESS_QUEUE_POLL_SECONDS: '1' };

await forEachTarget('ML jobs: train and evaluate', (target) => {
  let ctx: TestContext;
  let mnistId: string;
  let trainedModelId: string;
  let trainReport: Record<string, any>;

  before(async () => {
    ctx = await startTestApp(target, ENV, { worker: { concurrency: 1 } });
    // The server registers built-ins at start (server.ts); the harness builds the app directly, so do it here.
    if (ctx.config.registerBuiltins) await ctx.runtime.services.datasets.ensureBuiltins();
    const page = (await ctx.http.get('/v1/datasets?name=mnist').expect(200)).body;
    mnistId = page.items[0].id;
  });
  after(async () => ctx?.close());

  const create = async (body: Record<string, unknown>) => (await ctx.http.post('/v1/jobs').send(body).expect(201)).body as JobJson;
  const run = async (body: Record<string, unknown>, timeoutMs = 120_000) => waitForJob(ctx, (await create(body)).id, finished, timeoutMs);
  const metrics = async (id: string, name: string) =>
    (await ctx.http.get(`/v1/jobs/${id}/metrics?name=${name}&limit=1000`).expect(200)).body.items as { step: number; epoch: number; value: number }[];
  async function upload(model: tf.LayersModel, name: string): Promise<string> {
    let req = ctx.http.post('/v1/models').field('name', name);
    for (const f of await modelToFiles(model)) req = req.attach('files', f.data, f.path);
    return (await req.expect(201)).body.id;
  }

  test('train lenet-300-100 on 5,000 MNIST examples, 1 epoch: test accuracy >= 0.90; the model downloads and loads', async (t) => {
    const job = await run({
      type: 'train',
      datasetId: mnistId,
      params: { architecture: 'lenet-300-100', epochs: 1, batchSize: 32, limit: 5000, seed: 0 },
    });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.backend, 'wasm');
    trainReport = job.report as Record<string, any>;
    t.diagnostic(`test accuracy ${trainReport.test.accuracy}, ${Math.round(trainReport.samplesPerSec)} samples/s`);
    assert.ok(trainReport.test.accuracy >= 0.9, `test accuracy ${trainReport.test.accuracy}`);
    assert.equal(trainReport.test.examples, 10_000);
    assert.equal(trainReport.trainExamples + trainReport.validationExamples, 5000);
    assert.ok(trainReport.samplesPerSec > 0 && trainReport.final.val_accuracy > 0.8, JSON.stringify(trainReport.final));
    assert.equal((job.resultModelIds as string[]).length, 1);
    trainedModelId = (job.resultModelIds as string[])[0];

    const dto = (await ctx.http.get(`/v1/models/${trainedModelId}`).expect(200)).body;
    assert.equal(dto.params, 266_610);
    assert.equal(dto.producedByJobId, job.id);
    assert.equal(dto.parentModelId, null);
    assert.equal(dto.name, 'mnist-lenet-300-100-trained');
    // Downloaded over HTTP and loaded by stock tfjs.
    const modelJson = (await ctx.http.get(`/v1/models/${trainedModelId}/files/model.json`).expect(200)).body;
    const shards: Buffer[] = [];
    for (const p of modelJson.weightsManifest[0].paths) {
      const res = await ctx.http
        .get(`/v1/models/${trainedModelId}/files/${p}`)
        .buffer(true)
        .parse((r, cb) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      shards.push(res.body as Buffer);
    }
    const weightData = Buffer.concat(shards);
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
      }),
    );
    assert.equal(loaded.countParams(), 266_610);
    loaded.dispose();

    const loss = await metrics(job.id, 'loss');
    assert.ok(loss.length >= 10 && loss.every((p) => Number.isFinite(p.value) && p.epoch === 1));
    for (const name of ['accuracy', 'val_loss', 'val_accuracy', 'lr', 'samples_per_sec']) assert.equal((await metrics(job.id, name)).length, 1, name);
  });

  test('evaluate the trained model: confusion matrix totals the 10,000 test examples; per-class accuracy, sizes, latency', async (t) => {
    assert.ok(trainedModelId, 'needs the trained model of the previous test');
    const job = await run({ type: 'evaluate', modelId: trainedModelId, datasetId: mnistId });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const r = job.report as Record<string, any>;
    t.diagnostic(`accuracy ${r.accuracy}, latency ${JSON.stringify(r.latencyMs)}, ${r.sizeBytes} B (gzip ${r.gzipBytes} B)`);
    for (const k of ['accuracy', 'loss', 'confusionMatrix', 'perClassAccuracy', 'params', 'nonzeroParams', 'sizeBytes', 'gzipBytes', 'latencyMs'])
      assert.ok(k in r, k);
    assert.equal(r.split, 'test');
    assert.equal(r.confusionMatrix.length, 10);
    assert.equal(
      r.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      10_000,
    );
    assert.equal(r.perClassAccuracy.length, 10);
    assert.ok(Math.abs(r.accuracy - trainReport.test.accuracy) < 1e-9, `${r.accuracy} vs the train job's ${trainReport.test.accuracy}`);
    assert.equal(r.params, 266_610);
    // Only biases (zero-initialised; 410 of them) can still be exactly 0, e.g. those of units that never fired.
    assert.ok(r.nonzeroParams <= 266_610 && r.nonzeroParams >= 266_610 - 410, String(r.nonzeroParams));
    assert.ok(r.sizeBytes > 266_610 * 4 && r.gzipBytes < r.sizeBytes);
    for (const b of ['batch1', 'batch256'])
      assert.ok(r.latencyMs[b].p50 > 0 && r.latencyMs[b].p95 >= r.latencyMs[b].p50, JSON.stringify(r.latencyMs));
    assert.ok(r.latencyMs.batch256.p50 > r.latencyMs.batch1.p50);
  });

  test('a small conv spec trains on wasm with decreasing loss; continuing it records the parent', async () => {
    const architecture = {
      layers: [{ type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu' }, { type: 'maxPooling2d', poolSize: 2 }, { type: 'flatten' }],
    };
    const tensorsBefore = tf.memory().numTensors; // the in-process worker shares this tfjs instance
    const job = await run({
      type: 'train',
      datasetId: mnistId,
      params: { architecture, epochs: 2, batchSize: 32, limit: 1500, seed: 3, metricsEverySteps: 5 },
    });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the job left no tensors behind');
    const loss = (await metrics(job.id, 'loss')).map((p) => p.value);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(loss.length >= 10);
    assert.ok(mean(loss.slice(-3)) < mean(loss.slice(0, 3)) * 0.7, `loss ${loss.map((v) => v.toFixed(3))}`);
    const epochLoss = (await metrics(job.id, 'epoch_loss')).map((p) => p.value);
    assert.equal(epochLoss.length, 2);
    assert.ok(epochLoss[1] < epochLoss[0]);

    const parent = (job.resultModelIds as string[])[0];
    const next = await run({ type: 'train', datasetId: mnistId, modelId: parent, params: { epochs: 1, limit: 500 } });
    assert.equal(next.status, 'succeeded', JSON.stringify(next.error));
    const child = (await ctx.http.get(`/v1/models/${(next.resultModelIds as string[])[0]}`).expect(200)).body;
    assert.equal(child.parentModelId, parent);
    assert.equal(child.name, 'mnist-custom-trained-trained');
  });

  test('cancel a running train job: canceled promptly, no result model', async () => {
    const job = await create({ type: 'train', datasetId: mnistId, params: { epochs: 50, batchSize: 16, limit: 3000 } });
    await waitForJob(ctx, job.id, (j) => j.status === 'running' && (j.progress.step ?? 0) > 3, 60_000);
    await ctx.http.post(`/v1/jobs/${job.id}/cancel`).expect(200);
    const stepAtCancel = (await ctx.http.get(`/v1/jobs/${job.id}`).expect(200)).body.progress.step as number;
    const done = await waitForJob(ctx, job.id, finished, 60_000);
    assert.equal(done.status, 'canceled');
    // Promptly = within the epoch it was in (188 steps of 16), not at the end of 50 epochs: counted in steps, not
    // seconds, so a loaded machine cannot fail it.
    const stepsAfter = (done.progress.step ?? 0) - stepAtCancel;
    assert.ok(stepsAfter < 188, `${stepsAfter} steps ran after the cancel`);
    assert.deepEqual(done.resultModelIds, []);
    const { items } = (await ctx.http.get('/v1/models?limit=200').expect(200)).body;
    assert.ok(!items.some((m: { producedByJobId: string }) => m.producedByJobId === job.id));
  });

  test('invalid params → 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ epochs: 0 }, 'params.epochs'],
      [{ optimizer: 'rmsprop' }, 'params.optimizer'],
      [{ architecture: { layers: [{ type: 'dense' }] } }, 'params.architecture.layers[0].units'],
      [{ architecture: { layers: [{ type: 'lstm' }] } }, 'params.architecture.layers[0].type'],
      [{ validationSplit: 0, earlyStopping: { metric: 'val_loss' } }, 'params.earlyStopping.metric'],
    ];
    for (const [params, field] of cases) {
      const res = await ctx.http.post('/v1/jobs').send({ type: 'train', datasetId: mnistId, params }).expect(400);
      assert.equal(res.body.code, 'INVALID_JOB_PARAMS');
      assert.equal(res.body.details?.field, field, JSON.stringify(res.body));
    }
    const res = await ctx.http
      .post('/v1/jobs')
      .send({ type: 'evaluate', modelId: trainedModelId, datasetId: mnistId, params: { limit: 0 } })
      .expect(400);
    assert.equal(res.body.details?.field, 'params.limit');
  });

  test('a model whose inputs do not fit the dataset: the job fails with INCOMPATIBLE_INPUTS; a flat [784] model fits', async () => {
    const wrong = tf.sequential({ layers: [tf.layers.dense({ inputShape: [100], units: 10, activation: 'softmax' })] });
    const flat = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, activation: 'softmax' })] });
    const [wrongId, flatId] = [await upload(wrong, 'wrong-input'), await upload(flat, 'flat-784')];
    wrong.dispose();
    flat.dispose();
    for (const type of ['evaluate', 'train']) {
      const job = await run({ type, modelId: wrongId, datasetId: mnistId, params: type === 'train' ? { limit: 100 } : {} });
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, 'INCOMPATIBLE_INPUTS', JSON.stringify(job.error));
    }
    const ok = await run({ type: 'evaluate', modelId: flatId, datasetId: mnistId, params: { limit: 300 } });
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok.error));
    assert.equal(
      (ok.report as { confusionMatrix: number[][] }).confusionMatrix.flat().reduce((a, b) => a + b, 0),
      300,
    );
  });
});

// The train and evaluate kinds' run() against a real runtime (embedded database and store, built-in MNIST) with a
// hand-made JobContext: no tensor left behind and a steady tensor count across epochs, cancellation within one
// batch, the flat ↔ image reshape, INCOMPATIBLE_INPUTS, and measureModel.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { isAppError } from '../../src/errors.ts';
import { jobIO } from '../../src/jobs/io.ts';
import type { JobContext, JobProgress, MetricInput } from '../../src/jobs/kind.ts';
import { evaluateKind } from '../../src/jobs/kinds/evaluate.ts';
import { assertCompatible, loadEvalSplit, measureModel } from '../../src/jobs/kinds/support.ts';
import { trainKind } from '../../src/jobs/kinds/train.ts';
import { normalizeParams } from '../../src/jobs/registry.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { tf } from '../../src/ml/tf.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { targetEnv } from '../helpers/harness.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';

let rt: Runtime;
let cleanup: () => Promise<void>;
let mnistId: string;

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const t = await targetEnv('embedded');
  cleanup = t.cleanup;
  rt = await createRuntime(loadConfig(t.env));
  mnistId = (await rt.services.datasets.ensureBuiltins())!.id;
});
after(async () => {
  await rt?.close();
  await cleanup?.();
});

interface Recorded {
  ctx: JobContext;
  controller: AbortController;
  progress: JobProgress[];
  metrics: MetricInput[];
}

/** A JobContext over the real runtime that records what the kind reports. */
function context(
  inputs: Partial<JobContext['inputs']>,
  onProgress?: (p: JobProgress, r: Recorded) => void,
  onMetrics?: (m: MetricInput[]) => void,
): Recorded {
  const controller = new AbortController();
  const r: Recorded = { controller, progress: [], metrics: [], ctx: undefined as never };
  const jobId = crypto.randomUUID();
  r.ctx = {
    jobId,
    attempt: 1,
    inputs: { modelId: null, teacherModelId: null, datasetId: null, ...inputs },
    ...jobIO({ ...rt.services, store: rt.store }, jobId),
    backend: tf.getBackend(),
    trainThreads: 1,
    signal: controller.signal,
    progress: (p) => {
      r.progress.push(p);
      onProgress?.(p, r);
    },
    metrics: (points) => {
      r.metrics.push(...points);
      onMetrics?.(points);
    },
    log: () => {},
    throwIfCanceled: () => {
      if (controller.signal.aborted) throw Object.assign(new Error('job canceled'), { code: 'JOB_CANCELED' });
    },
  };
  return r;
}

const trainParams = (p: Record<string, unknown>) => normalizeParams('train', p) as never;

test('train: a steady tensor count across epochs, none left behind; report and saved model with lineage', async () => {
  const perEpoch: number[] = [];
  const r = context({ datasetId: mnistId }, undefined, (points) => {
    if (points.some((p) => p.name === 'accuracy')) perEpoch.push(tf.memory().numTensors);
  });
  const before = tf.memory().numTensors;
  const result = await trainKind.run(r.ctx, trainParams({ architecture: 'lenet-300-100', epochs: 3, limit: 1000, batchSize: 64, seed: 1 }));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.equal(perEpoch.length, 3);
  assert.ok(
    perEpoch.every((n) => n === perEpoch[0]),
    `tensor count per epoch: ${perEpoch}`,
  );

  const report = result.report as Record<string, any>;
  assert.equal(report.params, 266_610);
  assert.equal(report.epochsRun, 3);
  assert.equal(report.trainExamples + report.validationExamples, 1000);
  assert.equal(report.test.examples, 10_000);
  assert.ok(report.test.accuracy > 0.8, `test accuracy ${report.test.accuracy}`);
  const names = new Set(r.metrics.map((m) => m.name));
  for (const n of ['loss', 'epoch_loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'samples_per_sec']) assert.ok(names.has(n), n);
  assert.deepEqual(r.progress.at(-1), { fraction: 1, epoch: 3, step: report.steps, etaSeconds: 0 });
  assert.ok(
    r.progress.every((p, i) => i === 0 || p.fraction >= r.progress[i - 1].fraction),
    'progress never goes back',
  );

  const [id] = result.resultModelIds;
  const dto = await rt.services.models.get(ALL_PROJECTS, id);
  assert.equal(dto.producedByJobId, r.ctx.jobId);
  assert.equal(dto.name, 'mnist-lenet-300-100-trained');
  assert.equal(dto.params, 266_610);
  await rt.services.models.delete(ALL_PROJECTS, id);
});

test('train: cancel stops before the next batch, leaves no tensors and no model', async () => {
  const r = context({ datasetId: mnistId }, (p, rec) => {
    if (p.step === 5) rec.controller.abort('cancel');
  });
  const before = tf.memory().numTensors;
  const modelsBefore = await rt.db.model.count();
  await assert.rejects(
    trainKind.run(r.ctx, trainParams({ epochs: 5, limit: 2000, batchSize: 32 })),
    (e: { code?: string }) => e.code === 'JOB_CANCELED',
  );
  assert.equal(Math.max(...r.progress.map((p) => p.step ?? 0)), 5, 'no batch after the one that saw the cancel');
  assert.equal(tf.memory().numTensors, before);
  assert.equal(await rt.db.model.count(), modelsBefore);
});

test('evaluate: an uploaded-style flat MLP ([784]) runs on MNIST [28,28,1] by reshape; report fields; no leak', async () => {
  const mlp = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: 8, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })],
  });
  const saved = await context({}).ctx.models.save(mlp, { name: 'flat-mlp' });
  mlp.dispose();
  const before = tf.memory().numTensors;
  const r = context({ modelId: saved.id, datasetId: mnistId });
  const { report } = await evaluateKind.run(r.ctx, { limit: 500 });
  assert.equal(tf.memory().numTensors, before);
  const rep = report as Record<string, any>;
  assert.equal(rep.split, 'test');
  assert.equal(rep.examples, 500);
  assert.equal(
    rep.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
    500,
  );
  assert.equal(rep.params, 784 * 8 + 8 + 8 * 10 + 10);
  assert.ok(rep.gzipBytes > 0 && rep.gzipBytes < rep.sizeBytes);
  assert.ok(rep.latencyMs.batch1.p50 > 0 && rep.latencyMs.batch256.p95 >= rep.latencyMs.batch256.p50);

  // measureModel on the same model gives the same accuracy, from a live model or its artifacts.
  const model = await r.ctx.models.load(saved.id);
  const { data } = await loadEvalSplit(r.ctx, mnistId, { limit: 500, model });
  const m = await measureModel(model, data, { latency: false });
  assert.equal(m.accuracy, rep.accuracy);
  assert.equal(m.params, rep.params);
  assert.deepEqual(
    m.layers.map((l) => l.name),
    model.layers.map((l) => l.name),
  );
  tf.dispose([data.x, data.y]);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
  await rt.services.models.delete(ALL_PROJECTS, saved.id);
});

test('assertCompatible: INCOMPATIBLE_INPUTS for a wrong input size or class count; reshape target for flat inputs', () => {
  const mnist = { name: 'mnist', featureShape: [28, 28, 1], numClasses: 10 };
  const make = (inputShape: number[], classes: number) =>
    tf.sequential({
      layers:
        inputShape.length > 1
          ? [tf.layers.flatten({ inputShape }), tf.layers.dense({ units: classes })]
          : [tf.layers.dense({ inputShape, units: classes })],
    });
  const cases: [number[], number, number[] | null | 'error'][] = [
    [[28, 28, 1], 10, null],
    [[784], 10, [784]],
    [[100], 10, 'error'],
    [[28, 28, 1], 5, 'error'],
  ];
  for (const [shape, classes, want] of cases) {
    const model = make(shape, classes);
    try {
      if (want === 'error')
        assert.throws(
          () => assertCompatible(model, mnist),
          (e) => isAppError(e) && e.code === 'INCOMPATIBLE_INPUTS',
        );
      else assert.deepEqual(assertCompatible(model, mnist), want);
    } finally {
      model.dispose();
    }
  }
});

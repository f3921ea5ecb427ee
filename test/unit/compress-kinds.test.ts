// The issue-16 compression kinds' run() against a real runtime (embedded database and store, built-in MNIST) with a
// hand-made JobContext, on a tiny MLP and a few hundred rows: cluster (≤ 2^bits values per kernel, zeros stay zero,
// smaller gzip), sensitivity (accuracy per layer × sparsity as metrics, allocation), quantize with QAT per tensor
// (uint8 manifest) and per channel (float32 on-grid values, grids in the report), autocompress with a 3-trial budget
// (frontier/chosen/before/after contract, every candidate saved). No tensor left behind.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { loadConfig } from '../../src/config.ts';
import { jobIO } from '../../src/jobs/io.ts';
import type { JobContext, MetricInput } from '../../src/jobs/kind.ts';
import { autocompressKind } from '../../src/jobs/kinds/autocompress.ts';
import { clusterKind } from '../../src/jobs/kinds/cluster.ts';
import { distillKind } from '../../src/jobs/kinds/distill.ts';
import { quantizeKind } from '../../src/jobs/kinds/quantize.ts';
import { sensitivityKind } from '../../src/jobs/kinds/sensitivity.ts';
import { trainKind } from '../../src/jobs/kinds/train.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { tf } from '../../src/ml/tf.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { targetEnv } from '../helpers/harness.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';

/** A job report read as loose JSON (the kinds return Record<string, unknown>). */
type Loose = Record<string, any>;

let rt: Runtime;
let cleanup: () => Promise<void>;
let mnistId: string;
let mlpId: string;

function context(inputs: Partial<JobContext['inputs']>): { ctx: JobContext; metrics: MetricInput[]; logs: string[] } {
  const metrics: MetricInput[] = [];
  const logs: string[] = [];
  const controller = new AbortController();
  const jobId = crypto.randomUUID();
  const ctx: JobContext = {
    jobId,
    attempt: 1,
    inputs: { modelId: null, teacherModelId: null, datasetId: null, ...inputs },
    ...jobIO({ ...rt.services, store: rt.store }, jobId),
    backend: tf.getBackend(),
    trainThreads: 1,
    signal: controller.signal,
    progress: () => {},
    metrics: (points) => metrics.push(...points),
    log: (m) => logs.push(m),
    throwIfCanceled: () => {},
  };
  return { ctx, metrics, logs };
}

/** A 784-24-10 MLP, trained briefly (seeded init, 1 epoch on 600 rows), with half of its first kernel pruned to 0. */
async function tinyMlp(): Promise<string> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 24, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const k = model.layers[0].getWeights()[0];
  const zeroed = tf.tidy(() => tf.where(tf.greater(tf.abs(k), 0.04), k, tf.zerosLike(k)));
  model.layers[0].setWeights([zeroed, model.layers[0].getWeights()[1]]);
  zeroed.dispose();
  const saved = await context({}).ctx.models.save(model, { name: 'tiny-mlp' });
  model.dispose();
  return saved.id;
}

async function storedWeights(id: string): Promise<Map<string, Float32Array>> {
  const model = await context({}).ctx.models.load(id);
  try {
    return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
  } finally {
    model.dispose();
  }
}

/** params with the kind's schema defaults applied (as the registry does at creation), checked against it. */
function withDefaults(kind: { paramsSchema: TSchema }, params: Record<string, unknown>): never {
  const value = Value.Default(kind.paramsSchema, structuredClone(params));
  assert.ok(Value.Check(kind.paramsSchema, value), JSON.stringify([...Value.Errors(kind.paramsSchema, value)][0]));
  return value as never;
}

const distinct = (v: Float32Array) => new Set(v).size;

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const t = await targetEnv('embedded');
  cleanup = () => t.cleanup();
  rt = await createRuntime(loadConfig(t.env));
  mnistId = (await rt.services.datasets.ensureBuiltins())!.id;
  mlpId = await tinyMlp();
});
after(async () => {
  await rt?.close();
  await cleanup?.();
});

test('cluster: ≤ 2^bits values per kernel, pruned zeros stay exactly zero, gzip shrinks, report names the split; no leak', async () => {
  const src = await storedWeights(mlpId);
  const tensors = tf.memory().numTensors;
  const { ctx } = context({ modelId: mlpId, datasetId: mnistId });
  const result = await clusterKind.run(ctx, withDefaults(clusterKind, { bits: 3, limit: 300 }));
  assert.equal(tf.memory().numTensors, tensors);
  const report = result.report as Loose;
  assert.equal(report.after.split, 'test');
  assert.ok(report.after.gzipBytes < report.before.gzipBytes, `gzip ${report.before.gzipBytes} → ${report.after.gzipBytes}`);
  assert.equal(report.clustering.clusters, 8);
  const out = await storedWeights(result.resultModelIds[0]);
  for (const name of ['dense_Dense1/kernel', 'dense_Dense2/kernel']) {
    const [before, after] = [src.get(name)!, out.get(name)!];
    assert.ok(distinct(after) <= 8, `${name}: ${distinct(after)} values`);
    for (let i = 0; i < before.length; i++) if (before[i] === 0) assert.ok(Object.is(after[i], 0), `${name}[${i}] stays +0`);
  }
  assert.ok(distinct(out.get('dense_Dense1/bias')!) > 8, 'biases are not clustered');
});

test('sensitivity: accuracy per layer × sparsity as metrics on the validation hold-out, allocation, no model', async () => {
  const tensors = tf.memory().numTensors;
  const { ctx, metrics } = context({ modelId: mlpId, datasetId: mnistId });
  const result = await sensitivityKind.run(ctx, withDefaults(sensitivityKind, { sparsities: [0.5, 0.9], limit: 200, targetSparsity: 0.7 }));
  assert.equal(tf.memory().numTensors, tensors);
  assert.deepEqual(result.resultModelIds, []);
  const report = result.report as Loose;
  assert.equal(report.split, 'validation');
  assert.equal(report.examples, 200);
  assert.deepEqual(
    report.scan.layers.map((l: { name: string; accuracy: number[] }) => [l.name, l.accuracy.length]),
    [
      ['dense_Dense1', 2],
      ['dense_Dense2', 2],
    ],
  );
  assert.ok(Math.abs(report.allocation.overall - 0.7) < 1e-6, `overall ${report.allocation.overall}`);
  const byLayer = new Map<string, MetricInput[]>();
  for (const m of metrics) byLayer.set(m.name, [...(byLayer.get(m.name) ?? []), m]);
  assert.deepEqual([...byLayer.keys()].sort(), ['sensitivity.dense_Dense1', 'sensitivity.dense_Dense2']);
  for (const points of byLayer.values())
    assert.deepEqual(
      points.map((p) => p.step),
      [0, 500, 900],
    );
});

test('quantize with QAT: per tensor → uint8 manifest; per channel → float32 values on per-channel grids, grids in the report', async () => {
  const tensors = tf.memory().numTensors;
  const { ctx } = context({ modelId: mlpId, datasetId: mnistId });
  const perTensor = await quantizeKind.run(ctx, withDefaults(quantizeKind, { dtype: 'uint8', limit: 200, qat: { epochs: 1, limit: 300 } }));
  const perChannel = await quantizeKind.run(
    ctx,
    withDefaults(quantizeKind, { dtype: 'uint8', limit: 200, qat: { granularity: 'channel', limit: 300 } }),
  );
  assert.equal(tf.memory().numTensors, tensors);
  const t = perTensor.report as Loose;
  assert.deepEqual(t.qat, { epochs: 1, granularity: 'tensor', storedAs: 'uint8' });
  const specs = (await ctx.models.loadArtifacts(perTensor.resultModelIds[0])).weightSpecs!;
  assert.ok(specs.every((s) => s.quantization?.dtype === 'uint8'));
  const c = perChannel.report as Loose;
  assert.equal(c.qat.storedAs, 'float32');
  assert.equal(c.qat.grids['dense_Dense1/kernel'].scale.length, 24);
  const k = (await storedWeights(perChannel.resultModelIds[0])).get('dense_Dense1/kernel')!;
  for (let ch = 0; ch < 24; ch++) {
    const values = new Set(k.filter((_, i) => i % 24 === ch));
    assert.ok(values.size <= 256, `channel ${ch}: ${values.size} values`);
  }
});

test('autocompress: 3-trial budget → every candidate saved with its report, frontier and chosen per the contract, test split once', async () => {
  const tensors = tf.memory().numTensors;
  const { ctx } = context({ modelId: mlpId, datasetId: mnistId });
  const params = withDefaults(autocompressKind, {
    maxAccuracyDrop: 5,
    objective: 'size',
    budget: { trials: 3 },
    limit: 600,
    validationLimit: 100,
    fineTuneEpochs: 1,
  });
  const result = await autocompressKind.run(ctx, params);
  assert.equal(tf.memory().numTensors, tensors);
  const report = result.report as Loose;
  assert.equal(report.search.trials.run, 3);
  // One trial per stage (prune, cluster, quantize) under a budget of 3.
  assert.deepEqual(
    report.candidates.map((c: { steps: { method: string }[] }) => c.steps.at(-1)?.method ?? 'original'),
    ['original', 'prune', 'cluster', 'quantize'],
  );
  const keys = ['accuracy', 'flops', 'gzipBytes', 'latencyMs', 'modelId', 'nonzeroParams', 'params', 'sizeBytes'];
  for (const e of report.frontier) for (const k of keys) assert.ok(k in e, `frontier entry has ${k}`);
  assert.ok(
    report.frontier.some((e: { modelId: string }) => e.modelId === report.chosen.modelId),
    'chosen is on the front',
  );
  assert.equal(result.resultModelIds[0], report.chosen.modelId);
  assert.ok(report.chosen.accuracy - report.chosen.margin >= report.search.validationAccuracy - 0.05 - 1e-12);
  assert.equal(report.before.split, 'test');
  assert.equal(report.after.split, 'test');
  assert.equal(report.after.gzipBytes, report.chosen.gzipBytes);
  assert.equal(report.search.decisionMarginSe, 1);
  for (const c of report.candidates.slice(1)) {
    // Accepted = the drop plus its paired standard error within the budget.
    assert.ok(c.margin >= 0);
    assert.equal(c.accepted, c.accuracy - c.margin >= report.search.validationAccuracy - 0.05 - 1e-12);
    const dto = await rt.services.models.get(ALL_PROJECTS, c.modelId);
    assert.equal((dto.report as Loose).after.split, 'validation');
    assert.equal((dto.report as Loose).autocompress.trial, c.trial);
  }
  // The prune candidate leaves the classifier dense (protectedLayers; the first Dense holds most weights: pruned).
  const pruneDto = await rt.services.models.get(ALL_PROJECTS, report.candidates[1].modelId);
  const classifier = (pruneDto.report as Loose).autocompress.protectedLayers;
  assert.equal(classifier.length, 1);
  const pruned = await storedWeights(report.candidates[1].modelId);
  const [first, last] = [...pruned.keys()].filter((k) => k.endsWith('/kernel'));
  assert.ok(last.startsWith(`${classifier[0]}/`), `${last} is the protected classifier ${classifier[0]}`);
  assert.ok(
    pruned.get(last)!.every((v) => v !== 0),
    'classifier kernel dense',
  );
  assert.ok(pruned.get(first)!.filter((v) => v === 0).length > 0.5 * pruned.get(first)!.length, 'first kernel pruned');
  // The quantize candidate tried first: stock uint8 entries on the 31-code symmetric grid (code 128 = 0 everywhere).
  const quantized = report.candidates[3];
  assert.deepEqual(quantized.steps.at(-1), { method: 'quantize', level: 'uint8-5bit' });
  const artifacts = await context({}).ctx.models.loadArtifacts(quantized.modelId);
  const codes = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  assert.ok(codes.every((c) => c >= 128 - 15 && c <= 128 + 15));
  for (const spec of artifacts.weightSpecs!) assert.equal(128 * spec.quantization!.scale! + spec.quantization!.min!, 0);
});

test("autocompress's distill stage: the distill job's defaults (T, alpha, standardized logits) on cached teacher logits; no leak", async () => {
  // A teacher worth learning from: 784-32-10, 2 epochs on 2,000 rows.
  const trained = await trainKind.run(
    context({ datasetId: mnistId }).ctx,
    withDefaults(trainKind, { architecture: { layers: [{ type: 'dense', units: 32, activation: 'relu' }] }, epochs: 2, limit: 2000, seed: 1 }),
  );
  const tensors = tf.memory().numTensors;
  const { ctx, logs } = context({ modelId: trained.resultModelIds[0], datasetId: mnistId });
  const params = withDefaults(autocompressKind, {
    maxAccuracyDrop: 100,
    objective: 'size',
    methods: ['distill'],
    budget: { trials: 2 },
    limit: 2000,
    validationLimit: 200,
    fineTuneEpochs: 4,
    seed: 3,
  });
  const result = await autocompressKind.run(ctx, params);
  assert.equal(tf.memory().numTensors, tensors, 'cached teacher logits freed with the stage');
  const report = result.report as Loose;
  assert.equal(report.search.trials.run, 2, logs.join('\n'));
  const jobDefaults = withDefaults(distillKind, {}) as unknown as Loose;
  for (const c of report.candidates.slice(1)) {
    const ac = ((await rt.services.models.get(ALL_PROJECTS, c.modelId)).report as Loose).autocompress;
    assert.deepEqual(
      { temperature: ac.temperature, alpha: ac.alpha, standardizeLogits: ac.standardizeLogits },
      { temperature: jobDefaults.temperature, alpha: jobDefaults.alpha, standardizeLogits: jobDefaults.standardizeLogits },
    );
    // A narrowed student that learned from the soft targets alone (alpha 1): well above chance (0.1) on the hold-out.
    assert.ok(
      c.accuracy > 0.3 && report.search.validationAccuracy > 0.6,
      `teacher ${report.search.validationAccuracy}, student (width ${ac.widthMultiplier}) validation accuracy ${c.accuracy}`,
    );
  }
});

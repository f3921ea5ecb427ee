// Issue 13 acceptance: real architectures through every job kind over HTTP, on both targets. A small functional CNN
// (Conv2D → BatchNorm → ReLU, DepthwiseConv2D → BatchNorm → ReLU6 added back through a residual Add,
// SeparableConv2D, Concatenate, MaxPooling, GlobalAveragePooling2D, Dropout, Dense softmax) and an Embedding
// (mask_zero) + Bidirectional(LSTM) text model are built with tfjs, saved to model.json + a weights shard and
// uploaded multipart with tiny NPY datasets (12×12×1 images / [n, T] token ids, 3 classes); then train (continued),
// evaluate, prune (magnitude with fine-tuning, structured), distill (as teacher with a widthMultiplier student, and
// as an uploaded student), quantize, cluster, sensitivity, autocompress and a pipeline run on each. Every job must
// succeed; structured pruning must make the CNN physically smaller and keep the residual Add. Kept cheap: 1 epoch,
// a few hundred examples, all jobs queued at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { modelToFiles } from '../../src/ml/model-io.ts';
import { tf } from '../../src/ml/tf.ts';
import { binaryParser } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { waitForAll, type JobJson } from '../helpers/jobs.ts';

// Latency figures are not asserted here: 2 timed runs each keep the ~40 measurements cheap.
const ENV = { MODELPRESS_BACKEND: 'wasm', MODELPRESS_QUEUE_POLL_SECONDS: '1', MODELPRESS_LATENCY_RUNS: '2' };
const N_TRAIN = 192;
const N_TEST = 48;
const CLASSES = 3;
const SIDE = 12;
const T = 10;
const VOCAB = 20;

const st = (x: tf.SymbolicTensor | tf.SymbolicTensor[] | tf.Tensor | tf.Tensor[]) => x as tf.SymbolicTensor;

/** The functional CNN of the issue, seeded. */
function functionalCnn(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [SIDE, SIDE, 1], name: 'image' });
  let x = st(tf.layers.conv2d({ name: 'stem', filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }).apply(input));
  x = st(tf.layers.batchNormalization({ name: 'stem_bn' }).apply(x));
  x = st(tf.layers.reLU({ name: 'stem_relu' }).apply(x));
  let d = st(tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', depthwiseInitializer: init(2) }).apply(x));
  d = st(tf.layers.batchNormalization({ name: 'dw_bn' }).apply(d));
  d = st(tf.layers.reLU({ name: 'dw_relu6', maxValue: 6 }).apply(d));
  const res = st(tf.layers.add({ name: 'residual_add' }).apply([x, d]));
  const sep = st(
    tf.layers
      .separableConv2d({
        name: 'sep',
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        depthwiseInitializer: init(3),
        pointwiseInitializer: init(4),
      })
      .apply(res),
  );
  const cat = st(tf.layers.concatenate({ name: 'concat' }).apply([res, sep]));
  const pooled = st(tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(cat));
  const gap = st(tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(pooled));
  const drop = st(tf.layers.dropout({ name: 'drop', rate: 0.2 }).apply(gap));
  const out = st(tf.layers.dense({ name: 'classifier', units: CLASSES, activation: 'softmax', kernelInitializer: init(5) }).apply(drop));
  return tf.model({ inputs: input, outputs: out, name: 'functional_cnn' });
}

/** Embedding (mask_zero) → Bidirectional(LSTM) → Dense → Dropout → Dense softmax. */
function textModel(): tf.LayersModel {
  const input = tf.input({ shape: [T], name: 'tokens' });
  let x = st(
    tf.layers
      .embedding({
        name: 'embed',
        inputDim: VOCAB,
        outputDim: 8,
        maskZero: true,
        embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 7 }),
      })
      .apply(input),
  );
  x = st(tf.layers.bidirectional({ name: 'bilstm', layer: tf.layers.lstm({ units: 8 }), mergeMode: 'concat' }).apply(x));
  x = st(tf.layers.dense({ name: 'hidden', units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }).apply(x));
  x = st(tf.layers.dropout({ name: 'drop', rate: 0.1 }).apply(x));
  const out = st(
    tf.layers
      .dense({ name: 'classifier', units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) })
      .apply(x),
  );
  return tf.model({ inputs: input, outputs: out, name: 'text_bilstm' });
}

/** Deterministic pseudo-random numbers in [0, 1). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const npy = (dtype: 'float32' | 'int32' | 'uint8', shape: number[], data: Float32Array | Int32Array | Uint8Array) =>
  Buffer.concat([buildNpyHeader(dtype, shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);

/** Images: class k has a bright 4×4 patch in the k-th third of the image (plus noise). */
function imageSplit(n: number, seed: number) {
  const rnd = lcg(seed);
  const x = new Float32Array(n * SIDE * SIDE);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % CLASSES;
    y[i] = k;
    for (let p = 0; p < SIDE * SIDE; p++) x[i * SIDE * SIDE + p] = 0.2 * rnd();
    const top = 1 + Math.floor(rnd() * 6);
    for (let r = top; r < top + 4; r++) for (let c = k * 4; c < k * 4 + 4; c++) x[i * SIDE * SIDE + r * SIDE + c] += 0.8;
  }
  return { x: npy('float32', [n, SIDE, SIDE, 1], x), y: npy('int32', [n], y) };
}

/** Token sequences (ids 1..VOCAB-1, zero-padded at the end): class k contains the marker token 1 + k. */
function tokenSplit(n: number, seed: number) {
  const rnd = lcg(seed);
  const x = new Float32Array(n * T);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % CLASSES;
    y[i] = k;
    const len = 5 + Math.floor(rnd() * (T - 4));
    for (let t = 0; t < len; t++) x[i * T + t] = 4 + Math.floor(rnd() * (VOCAB - 4));
    x[i * T + Math.floor(rnd() * len)] = 1 + k;
  }
  return { x: npy('float32', [n, T], x), y: npy('int32', [n], y) };
}

/** Wall and CPU seconds since (t0, c0): the CPU figure is what a loaded machine does not inflate. */
const elapsed = (t0: number, c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return `${((Date.now() - t0) / 1000).toFixed(1)} s wall, ${((c.user + c.system) / 1e6).toFixed(1)} s CPU`;
};

type Job = JobJson & { type: string; resultModelIds: string[]; report: Record<string, any> | null };

/** Every job kind on one uploaded model; `jobs` to check. */
function jobsFor(modelId: string, datasetId: string): Record<string, Record<string, unknown>> {
  const fit = { batchSize: 32 };
  return {
    trainContinued: { type: 'train', modelId, datasetId, params: { epochs: 1, validationSplit: 0, ...fit, seed: 1 } },
    evaluate: { type: 'evaluate', modelId, datasetId },
    pruneMagnitude: { type: 'prune', modelId, datasetId, params: { method: 'magnitude', sparsity: 0.5, fineTuneEpochs: 1, ...fit, seed: 1 } },
    pruneStructured: {
      type: 'prune',
      modelId,
      datasetId,
      params: { method: 'structured', sparsity: 0.5, importance: 'bn', fineTuneEpochs: 1, ...fit, seed: 1 },
    },
    distillTeacher: {
      type: 'distill',
      teacherModelId: modelId,
      datasetId,
      params: { student: { widthMultiplier: 0.5 }, epochs: 1, ...fit, seed: 1 },
    },
    distillStudent: { type: 'distill', teacherModelId: modelId, modelId, datasetId, params: { epochs: 1, ...fit, seed: 1 } },
    quantize: { type: 'quantize', modelId, datasetId, params: { dtype: 'uint8' } },
    cluster: { type: 'cluster', modelId, datasetId, params: { bits: 3, fineTuneEpochs: 1, ...fit, seed: 1 } },
    sensitivity: { type: 'sensitivity', modelId, datasetId, params: { sparsities: [0.5], split: 'test', limit: N_TEST } },
    autocompress: {
      type: 'autocompress',
      modelId,
      datasetId,
      params: {
        maxAccuracyDrop: 100,
        objective: 'flops',
        methods: ['structured', 'quantize'],
        budget: { trials: 2 },
        fineTuneEpochs: 1,
        validationLimit: 20,
        ...fit,
        seed: 1,
      },
    },
    pipeline: {
      type: 'pipeline',
      modelId,
      datasetId,
      params: {
        steps: [
          { type: 'prune', params: { method: 'structured', sparsity: 0.25, fineTuneEpochs: 1, ...fit } },
          { type: 'prune', params: { method: 'magnitude', sparsity: 0.5, fineTuneEpochs: 1, ...fit } },
          { type: 'quantize', params: { dtype: 'float16' } },
        ],
      },
    },
  };
}

await forEachTarget('architectures: functional CNN and BiLSTM text model through every job kind', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, ENV, { worker: { concurrency: 1 } });
  });
  after(async () => ctx?.close());

  async function uploadModel(model: tf.LayersModel, name: string): Promise<{ id: string; params: number }> {
    let req = ctx.http.post('/v1/models').field('name', name);
    for (const f of await modelToFiles(model)) req = req.attach('files', f.data, f.path);
    const body = (await req.expect(201)).body;
    return { id: body.id, params: body.params };
  }
  async function uploadDataset(name: string, train: { x: Buffer; y: Buffer }, testSplit: { x: Buffer; y: Buffer }): Promise<string> {
    const res = await ctx.http
      .post('/v1/datasets')
      .field('name', name)
      .attach('files', train.x, 'x_train.npy')
      .attach('files', train.y, 'y_train.npy')
      .attach('files', testSplit.x, 'x_test.npy')
      .attach('files', testSplit.y, 'y_test.npy')
      .expect(201);
    return res.body.id;
  }
  async function runAll(specs: Record<string, Record<string, unknown>>): Promise<Record<string, Job>> {
    const ids: Record<string, string> = {};
    for (const [k, body] of Object.entries(specs)) ids[k] = (await ctx.http.post('/v1/jobs').send(body).expect(201)).body.id;
    const done = await waitForAll(ctx, Object.values(ids), 300_000);
    const byKey = Object.fromEntries(Object.keys(ids).map((k, i) => [k, done[i] as Job]));
    const failed = Object.entries(byKey).filter(([, j]) => j.status !== 'succeeded');
    assert.deepEqual(
      failed.map(([k, j]) => `${k}: ${j.status} ${j.error?.code} ${j.error?.message}`),
      [],
      'every job kind succeeds',
    );
    const secs = (j: Job) => (Date.parse(String(j.finishedAt)) - Date.parse(String(j.startedAt))) / 1000;
    console.log(
      `# [${target}] job seconds: ${Object.entries(byKey)
        .map(([k, j]) => `${k} ${secs(j).toFixed(1)}`)
        .join(', ')}`,
    );
    return byKey;
  }
  async function modelJson(id: string): Promise<{ modelTopology: any }> {
    const res = await ctx.http.get(`/v1/models/${id}/files/model.json`).buffer(true).parse(binaryParser).expect(200);
    return JSON.parse(res.body.toString('utf8'));
  }
  const classNames = (topology: any): string[] =>
    topology.model_config?.config?.layers?.map((l: any) => l.class_name) ?? topology.config.layers.map((l: any) => l.class_name);
  const getModel = async (id: string) => (await ctx.http.get(`/v1/models/${id}`).expect(200)).body;

  test('functional CNN (BN, depthwise, separable, ReLU6, residual Add, Concatenate, GAP, Dropout): every job kind succeeds', async (t) => {
    const [t0, c0] = [Date.now(), process.cpuUsage()];
    const cnn = functionalCnn();
    const uploaded = await uploadModel(cnn, 'functional-cnn');
    cnn.dispose();
    const datasetId = await uploadDataset('blobs-12x12', imageSplit(N_TRAIN, 11), imageSplit(N_TEST, 12));
    const jobs = await runAll(jobsFor(uploaded.id, datasetId));

    assert.equal(
      jobs.evaluate.report!.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      N_TEST,
    );
    // Structured pruning: physically smaller, fewer FLOPs, the residual Add and the Concatenate kept.
    const structured = jobs.pruneStructured.report!;
    assert.ok(structured.after.params < structured.before.params, `params ${structured.before.params} → ${structured.after.params}`);
    assert.ok(structured.after.flops < structured.before.flops, `flops ${structured.before.flops} → ${structured.after.flops}`);
    const prunedId = jobs.pruneStructured.resultModelIds[0];
    assert.ok((await getModel(prunedId)).params < uploaded.params);
    const classes = classNames((await modelJson(prunedId)).modelTopology);
    for (const c of ['Add', 'Concatenate', 'DepthwiseConv2D', 'SeparableConv2D', 'BatchNormalization'])
      assert.ok(classes.includes(c), `${c} kept: ${classes}`);
    // The widthMultiplier student is the teacher's graph, narrowed.
    const student = (await modelJson(jobs.distillTeacher.resultModelIds[0])).modelTopology;
    assert.ok(classNames(student).includes('Add'));
    assert.ok((await getModel(jobs.distillTeacher.resultModelIds[0])).params < uploaded.params);
    assert.equal(jobs.pipeline.resultModelIds.length, 3);
    t.diagnostic(
      `[${target}] CNN: ${Object.keys(jobs).length} jobs in ${elapsed(t0, c0)}; structured params ${structured.before.params} → ${structured.after.params}, flops ${structured.before.flops} → ${structured.after.flops}`,
    );
  });

  test('Embedding (mask_zero) + Bidirectional(LSTM) text model on [n, T] token ids: every job kind succeeds', async (t) => {
    const [t0, c0] = [Date.now(), process.cpuUsage()];
    const model = textModel();
    const uploaded = await uploadModel(model, 'text-bilstm');
    model.dispose();
    const datasetId = await uploadDataset('tokens', tokenSplit(N_TRAIN, 21), tokenSplit(N_TEST, 22));
    const jobs = await runAll(jobsFor(uploaded.id, datasetId));
    const structured = jobs.pruneStructured.report!;
    assert.ok(structured.after.params < structured.before.params, `params ${structured.before.params} → ${structured.after.params}`);
    const classes = classNames((await modelJson(jobs.pruneStructured.resultModelIds[0])).modelTopology);
    assert.ok(classes.includes('Bidirectional') && classes.includes('Embedding'), String(classes));
    t.diagnostic(`[${target}] text: ${Object.keys(jobs).length} jobs in ${elapsed(t0, c0)}`);
  });

  test('text-cnn preset trained by a train job: vocabulary from the largest id of both splits; a too small vocabSize and uint8 ids fail', async () => {
    // The largest id (VOCAB + 5) occurs only in the test split, and the job trains on the first 64 rows only.
    const testSplit = tokenSplit(N_TEST, 32);
    testSplit.x.writeFloatLE(VOCAB + 5, testSplit.x.length - N_TEST * T * 4 + 3 * 4);
    const datasetId = await uploadDataset('tokens-vocab', tokenSplit(N_TRAIN, 31), testSplit);
    // Every x array uint8: the dataset is stored as image bytes, fed as x / 255.
    const u8 = (n: number, seed: number) => ({
      x: npy(
        'uint8',
        [n, T],
        new Uint8Array(n * T).map((_, i) => 1 + (i % 7)),
      ),
      y: tokenSplit(n, seed).y,
    });
    const u8Id = await uploadDataset('tokens-uint8', u8(N_TRAIN, 33), u8(N_TEST, 34));
    const train = (dataset: string, architecture: unknown) => ({
      type: 'train',
      datasetId: dataset,
      params: { architecture, epochs: 1, limit: 64, batchSize: 32, validationSplit: 0, seed: 1 },
    });
    const jobs = await Promise.all(
      [
        train(datasetId, { preset: 'text-cnn', widthMultiplier: 0.25 }),
        train(datasetId, { preset: 'text-cnn', widthMultiplier: 0.25, vocabSize: VOCAB }),
        train(u8Id, { preset: 'lstm-classifier', widthMultiplier: 0.25 }),
      ].map(async (body) => (await ctx.http.post('/v1/jobs').send(body).expect(201)).body.id as string),
    );
    const [ok, small, uint8] = (await waitForAll(ctx, jobs, 300_000)) as Job[];
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok.error));
    const topology = (await modelJson(ok.resultModelIds[0])).modelTopology;
    const layers = topology.model_config?.config?.layers ?? topology.config.layers;
    assert.equal(layers.find((l: any) => l.class_name === 'Embedding').config.input_dim, VOCAB + 6);
    assert.equal(small.status, 'failed');
    assert.equal(small.error?.code, 'INVALID_JOB_PARAMS');
    assert.match(String(small.error?.message), /params\.architecture\.vocabSize: 20 does not cover .*\(largest 25\): needs at least 26/);
    assert.equal(uint8.status, 'failed');
    assert.equal(uint8.error?.code, 'INCOMPATIBLE_INPUTS');
  });
});

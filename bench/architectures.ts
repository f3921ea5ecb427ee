// Issue 13's benchmark, entirely through the HTTP API on real MNIST (built-in dataset, test split 10,000): trains the
// resnet-20 and mobilenet-v2 (widthMultiplier 0.5) presets (test accuracy, training samples/s), then from each
// trained model a structured prune (50% of channels, fine-tuned: FLOPs, batch-1/256 latency p50 before and after in
// the same job, accuracy) and a magnitude prune (80%, fine-tuned); and distills resnet-20 into mobilenet-v2 0.35
// (teacher, hard-label baseline, distilled). Prints README rows with the command and the load average.
//   npx tsx bench/architectures.ts [--limit 60000] [--epochs 3] [--only resnet,mobilenet,distill]
//     [--structured 0.5] [--structured-epochs 5] [--importance l1] [--sparsity 0.8] [--magnitude-epochs 5]
//     [--mobilenet-width 0.5] [--student-width 0.35] [--distill-epochs 3] [--temperature T] [--alpha A] (unset: the distill job's defaults)
//     [--batch-size 128] [--learning-rate 1e-3] [--workers 1] [--threads N] [--backend wasm] [--latency-runs 30]
//     [--test-limit 10000]
// --data-dir: keep the server's data there; a job run before on it with the same inputs and params is reused, so an
// invocation with other --only/--prunes (and e.g. fewer --latency-runs) builds on the models trained before.
// --limit: training examples (the first N of the train split) for every job. --test-limit < 10000: the jobs run on an
// uploaded MNIST subset (IDX) whose test split is that many test examples at an even stride (accuracy and the
// latency inputs come from it); default: the built-in dataset, all 10,000.
// --structured-epochs / --magnitude-epochs default to the prune job's own default (fineTuneEpochs 5): with 2 / 1 the
// fine-tuning, not the pruning, decided the accuracy loss (mobilenet-v2 0.5 structured 50%: -16.3 pp with 2 epochs,
// -0.24 pp with 5, same model).
// --latency-runs: timed runs per latency figure (server-wide: every job's report measures latency; only the
// structured rows' latency is reported, so runs of other rows alone may use fewer).
// The distill row trains its own resnet-20 teacher unless the resnet row runs in the same invocation.
// Jobs of different rows run concurrently when --workers > 1 (each worker process runs one job at a time).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadAverage, mnistSubsetFiles, pct, startServer, type Job, type Measure } from './lib/serve.ts';

const { values: opt } = parseArgs({
  options: {
    limit: { type: 'string', default: '60000' },
    'test-limit': { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'resnet,mobilenet,distill' },
    structured: { type: 'string', default: '0.5' },
    'structured-epochs': { type: 'string', default: '5' },
    importance: { type: 'string', default: 'l1' },
    sparsity: { type: 'string', default: '0.8' },
    'magnitude-epochs': { type: 'string', default: '5' },
    'mobilenet-width': { type: 'string', default: '0.5' },
    'student-width': { type: 'string', default: '0.35' },
    'distill-epochs': { type: 'string', default: '3' },
    // Unset: the distill job's own defaults (what a user gets).
    temperature: { type: 'string' },
    alpha: { type: 'string' },
    'batch-size': { type: 'string', default: '128' },
    'learning-rate': { type: 'string', default: '1e-3' },
    workers: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    'latency-runs': { type: 'string', default: '30' },
    threads: { type: 'string' },
    'data-dir': { type: 'string' },
    prunes: { type: 'string', default: 'structured,magnitude' },
  },
});
const num = (k: keyof typeof opt) => Number(opt[k]);
const only = new Set(String(opt.only).split(','));
const limit = num('limit');
const batchSize = num('batch-size');

const server = await startServer({
  workers: num('workers'),
  backend: String(opt.backend),
  name: 'architectures',
  dataDir: opt['data-dir'],
  env: {
    MODELPRESS_LATENCY_RUNS: String(opt['latency-runs']),
    // One ResNet training step or a test-set pass can take minutes on a loaded 2-core machine: a 60 s lease would be
    // presumed lost and the job rerun from scratch.
    MODELPRESS_JOB_EXPIRE_SECONDS: '900',
    // Training threads per job: the cores shared out between the worker processes unless --threads says.
    MODELPRESS_TRAIN_THREADS: String(opt.threads ?? Math.max(1, Math.floor(os.availableParallelism() / num('workers')))),
  },
});
// With --data-dir, a job already run there with the same inputs and params is reused (rows can run separately).
const runJob = (label: string, body: Record<string, unknown>) => server.runJob(label, body, { reuse: opt['data-dir'] !== undefined });
const loads: string[] = [];
const sampleLoad = () => loads.push(loadAverage().split(' / ')[0]);
const loadTimer = setInterval(sampleLoad, 60_000);

type Train = { job: Job; accuracy: number; samplesPerSec: number; minutes: number };

async function train(label: string, datasetId: string, architecture: unknown): Promise<Train> {
  const job = await runJob(`${label} train`, {
    type: 'train',
    datasetId,
    params: {
      architecture,
      epochs: num('epochs'),
      limit,
      batchSize,
      optimizer: 'adam',
      learningRate: num('learning-rate'),
      validationSplit: 0,
      seed: 1,
    },
  });
  const r = job.report as unknown as { test: { accuracy: number }; samplesPerSec: number; history: { samplesPerSec: number }[] };
  // Mean over epochs (the report's samplesPerSec is the last epoch's).
  const sps = r.history.reduce((s, h) => s + h.samplesPerSec, 0) / r.history.length;
  return { job, accuracy: r.test.accuracy, samplesPerSec: sps, minutes: (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 60000 };
}

const ms = (m: Measure, b: 'batch1' | 'batch256') => m.latencyMs[b].p50;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const goal = (ok: boolean) => (ok ? 'met' : '**missed**');

/** One architecture: train, then structured prune and magnitude prune of the trained model. */
async function archRows(label: string, datasetId: string, trained: Promise<Train>) {
  const t = await trained;
  const modelId = t.job.resultModelIds[0];
  const prune = (params: Record<string, unknown>) => ({
    type: 'prune',
    modelId,
    datasetId,
    params: { limit, batchSize, seed: 2, ...params },
  });
  const prunes = new Set(String(opt.prunes).split(','));
  const [structured, magnitude] = await Promise.all([
    prunes.has('structured')
      ? runJob(
          `${label} structured prune`,
          prune({ method: 'structured', sparsity: num('structured'), importance: opt.importance, fineTuneEpochs: num('structured-epochs') }),
        )
      : null,
    prunes.has('magnitude')
      ? runJob(`${label} magnitude prune`, prune({ method: 'magnitude', sparsity: num('sparsity'), fineTuneEpochs: num('magnitude-epochs') }))
      : null,
  ]);
  const macs = (structured ?? magnitude)?.report.before.flops;
  const rows = [
    `| ${label} | ${pct(t.accuracy)} | ${Math.round(t.samplesPerSec).toLocaleString('en')} samples/s | ${t.job.report.params as number} params${macs ? `, ${(macs / 1e6).toFixed(2)} M MACs` : ''} | ${t.minutes.toFixed(1)} min |`,
  ];
  if (structured) {
    const s = structured.report;
    const flopsX = s.before.flops! / s.after.flops!;
    const b1 = ms(s.before, 'batch1') / ms(s.after, 'batch1');
    const b256 = ms(s.before, 'batch256') / ms(s.after, 'batch256');
    const loss = 100 * (s.before.accuracy - s.after.accuracy);
    rows.push(
      `| ${label} structured ${pct(num('structured'))} of channels, ${opt['structured-epochs']} fine-tune epoch(s) | ${pct(s.before.accuracy)} → ${pct(s.after.accuracy)} (${loss.toFixed(2)} pp; ≤ 0.5: ${goal(loss <= 0.5)}) ` +
        `| ${s.before.params} → ${s.after.params} params; ${(s.before.flops! / 1e6).toFixed(2)} → ${(s.after.flops! / 1e6).toFixed(2)} M MACs = ${flopsX.toFixed(2)}× fewer (≥ 1.8: ${goal(flopsX >= 1.8)}) ` +
        `| batch 1: ${ms(s.before, 'batch1').toFixed(2)} → ${ms(s.after, 'batch1').toFixed(2)} ms = ${ratio(ms(s.before, 'batch1'), ms(s.after, 'batch1'))} (≥ 1.5: ${goal(b1 >= 1.5)}); ` +
        `batch 256: ${ms(s.before, 'batch256').toFixed(1)} → ${ms(s.after, 'batch256').toFixed(1)} ms = ${ratio(ms(s.before, 'batch256'), ms(s.after, 'batch256'))} (≥ 1.5: ${goal(b256 >= 1.5)}) |`,
    );
  }
  if (magnitude) {
    const m = magnitude.report;
    const loss = 100 * (m.before.accuracy - m.after.accuracy);
    rows.push(
      `| ${label} magnitude ${pct(num('sparsity'))}, ${opt['magnitude-epochs']} fine-tune epoch(s) | ${pct(m.before.accuracy)} → ${pct(m.after.accuracy)} (${loss.toFixed(2)} pp; ≤ 0.3: ${goal(loss <= 0.3)}) | ${pct(1 - m.after.nonzeroParams / m.after.params)} zeros | |`,
    );
  }
  return rows;
}

/** resnet-20 teacher (trained here unless given) → mobilenet-v2 student, distilled and hard-label baseline. */
async function distillRows(datasetId: string, teacher: Promise<Train> | null) {
  const t = await (teacher ?? train('resnet-20 (teacher)', datasetId, 'resnet-20'));
  const width = num('student-width');
  const job = await runJob('distill (+ baseline)', {
    type: 'distill',
    teacherModelId: t.job.resultModelIds[0],
    datasetId,
    params: {
      student: { preset: 'mobilenet-v2', widthMultiplier: width },
      ...(opt.temperature ? { temperature: num('temperature') } : {}),
      ...(opt.alpha ? { alpha: num('alpha') } : {}),
      epochs: num('distill-epochs'),
      batchSize,
      baseline: true,
      limit,
      seed: 3,
    },
  });
  const { teacher: te, baseline: b, after: s } = job.report;
  return [
    `| teacher resnet-20 (${opt.epochs} epochs) | ${pct(te!.accuracy)} | ${te!.params} |`,
    `| student mobilenet-v2 ${width}, hard labels (${opt['distill-epochs']} epochs) | ${pct(b!.accuracy)} | ${b!.params} |`,
    `| student mobilenet-v2 ${width}, distilled (${opt.temperature || opt.alpha ? `T=${opt.temperature ?? 'default'}, alpha=${opt.alpha ?? 'default'}` : "the distill job's defaults"}) | ${pct(s.accuracy)} (${(100 * (s.accuracy - b!.accuracy)).toFixed(2)} pp vs hard labels) | ${s.params} |`,
  ];
}

try {
  const testLimit = num('test-limit');
  // The built-in MNIST, or (--test-limit < 10,000) a subset uploaded as IDX files: the first --limit training
  // examples and --test-limit test examples at an even stride.
  const mnist =
    testLimit >= 10000
      ? await server.datasetId('mnist')
      : await server
          .datasetId(`mnist-${limit}-${testLimit}`)
          .catch(async () => server.uploadDataset(`mnist-${limit}-${testLimit}`, await mnistSubsetFiles(limit, testLimit)));
  const t0 = performance.now();
  sampleLoad();
  const mobilenetLabel = `mobilenet-v2 ${opt['mobilenet-width']}`;
  // The resnet row's trained model doubles as the distill teacher when both run.
  const resnetTrained = only.has('resnet') ? train('resnet-20', mnist, 'resnet-20') : null;
  const resnet = resnetTrained ? archRows('resnet-20', mnist, resnetTrained) : null;
  const mobilenet = only.has('mobilenet')
    ? archRows(mobilenetLabel, mnist, train(mobilenetLabel, mnist, { preset: 'mobilenet-v2', widthMultiplier: num('mobilenet-width') }))
    : null;
  const distill = only.has('distill') ? distillRows(mnist, resnetTrained) : null;
  // A failed row is reported and the others still print (partial results land).
  const settle = async <T>(label: string, p: Promise<T> | null): Promise<T | null> => {
    try {
      const v = await p;
      if (v) console.log(`# ${label} done (load average ${loadAverage()}):\n${(v as string[]).join('\n')}\n`);
      return v;
    } catch (e) {
      console.error(`# ${label} FAILED: ${(e as Error).message}`);
      return null;
    }
  };
  const [r, m, d] = await Promise.all([settle('resnet-20', resnet), settle(mobilenetLabel, mobilenet), settle('distill', distill)]);
  sampleLoad();
  const minutes = (performance.now() - t0) / 60000;
  console.log(
    `\narchitectures on MNIST (train: first ${limit.toLocaleString('en')} examples, test: ${testLimit >= 10000 ? 'all 10,000' : `${testLimit.toLocaleString('en')} at an even stride over the 10,000`}), backend ${opt.backend}, ${opt.workers} worker(s), ` +
      `batch ${batchSize}, Adam lr ${opt['learning-rate']}, ${minutes.toFixed(1)} min, ${new Date().toISOString().slice(0, 10)}; ` +
      `load average (1 min) sampled every minute: ${loads.join(', ')}`,
  );
  console.log(`command: npx tsx bench/architectures.ts ${process.argv.slice(2).join(' ')}\n`);
  const rows = [r, m].filter((x) => x !== null);
  if (rows.length > 0) {
    console.log(
      `| preset | test accuracy after ${opt.epochs} epochs | training throughput (mean over epochs) | size | train job |\n|---|---|---|---|---|`,
    );
    for (const x of rows) console.log(x[0]);
    console.log(
      '\n| compression | accuracy (test) | size | latency p50 (before → after, same job, median of runs after warm-up) |\n|---|---|---|---|',
    );
    for (const x of rows) for (const line of x.slice(1)) console.log(line);
  }
  if (d) {
    console.log('\n| distillation | test accuracy | params |\n|---|---|---|');
    for (const line of d) console.log(line);
  }
} finally {
  clearInterval(loadTimer);
  await server.stop();
}

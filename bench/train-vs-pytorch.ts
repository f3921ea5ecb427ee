// Training speed against the reference, in one run (issue 15): LeNet-300-100 and LeNet-5, batch 128, Adam, on the
// wasm backend with 1 and 2 data-parallel threads (MODELPRESS_TRAIN_THREADS' job), and Debian's PyTorch on the same
// model/batch/optimizer with 1 and all threads; prints samples/s, the tfjs 1 → N thread scaling and the ratio to
// PyTorch's best. Runs interleave (tfjs, torch, tfjs, torch) so a noisy neighbour hits both sides alike.
//   npx tsx bench/train-vs-pytorch.ts [--n 12800] [--batch 128] [--rounds 2] [--threads 1,2,4] [--python /usr/bin/python3]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { closeReplicas, warmReplicas } from '../src/ml/parallel/pool.ts';
import { tf } from '../src/ml/tf.ts';
import { trainModel } from '../src/ml/train.ts';
import { readMnist } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '12800' },
    batch: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
    // Thread counts to compare (default 1 and all cores); the first is the scaling's base.
    threads: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const n = Number(values.n);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
const cores = os.availableParallelism();
const counts = (values.threads ?? `1,${cores}`).split(',').map(Number);
const models: PresetName[] = ['lenet-300-100', 'lenet-5'];
const torchScript = fileURLToPath(new URL('./torch_train.py', import.meta.url));

await initBackend('wasm');
await warmReplicas(Math.max(...counts) - 1);
const { images, labels } = readMnist('train', n);
const x = tf.tensor(
  Float32Array.from(images, (v) => v / 255),
  [n, 28, 28, 1],
);
const y = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), 10).toFloat();

async function tfjs(preset: PresetName, threads: number): Promise<number> {
  const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
  try {
    const r = await trainModel(
      model,
      { x, y },
      { epochs: 1, batchSize, optimizer: 'adam', learningRate: 1e-3, validationSplit: 0, seed: 1, threads },
    );
    return r.history[0].samplesPerSec;
  } finally {
    model.dispose();
  }
}

function torch(preset: PresetName, threads: number): number {
  // DESIGN.md: OpenBLAS tuning variables set for this machine slow Debian's torch down; unset them for it alone.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const out = execFileSync(values.python, [torchScript, preset, String(n), String(batchSize), String(threads)], { env, encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { samplesPerSec: number }).samplesPerSec;
}

const best = (a: number[]) => Math.max(...a);
const rows: string[] = [];
for (const preset of models) {
  const t = counts.map(() => [] as number[]);
  const p = counts.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < counts.length; i++) {
      t[i].push(await tfjs(preset, counts[i]));
      p[i].push(torch(preset, counts[i]));
    }
  }
  const tb = t.map(best);
  const pb = p.map(best);
  const torchBest = Math.max(...pb);
  const row = {
    model: preset,
    threads: counts,
    tfjs: tb.map(Math.round),
    scaling: tb.map((v) => +(v / tb[0]).toFixed(2)),
    torch: pb.map(Math.round),
    torchScaling: pb.map((v) => +(v / pb[0]).toFixed(2)),
    ratioToTorchBest: +(best(tb) / torchBest).toFixed(2),
  };
  console.log(JSON.stringify(row));
  const cells = counts.map((c, i) => `${row.tfjs[i]} (${row.scaling[i]}×) / ${row.torch[i]} (${row.torchScaling[i]}×)`);
  rows.push(`| ${preset} | ${cells.join(' | ')} | ${(row.ratioToTorchBest * 100).toFixed(0)}% |`);
}
console.log(
  `\n${cores} cores, batch ${batchSize}, Adam, ${n} MNIST examples, best of ${rounds} interleaved rounds (samples/s, scaling vs ${counts[0]} thread)`,
);
console.log(`| model | ${counts.map((c) => `${c} thread${c > 1 ? 's' : ''}: tfjs / PyTorch`).join(' | ')} | tfjs best ÷ PyTorch best |`);
console.log(`|---|${counts.map(() => '---|').join('')}---|`);
for (const r of rows) console.log(r);
tf.dispose([x, y]);
await closeReplicas();

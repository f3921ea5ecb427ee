// Where a data-parallel step's time goes (issue 15: LeNet-300-100 scaled 0.97× from 1 to 2 threads). Trains with
// 2 threads under MODELPRESS_PARALLEL_PROFILE=1 and prints, per step and per thread, each phase's wall time, the
// thread's own CPU time and its run-queue wait (/proc/thread-self/schedstat: on a loaded machine the wait column
// is the neighbours, not us); then the same epoch on 1 thread for the step total. Rounds interleave 1 and 2 threads.
//   npx tsx bench/train-parallel-profile.ts [--model lenet-300-100] [--steps 100] [--batch 128] [--rounds 2]
import os from 'node:os';
import { parseArgs } from 'node:util';
process.env.MODELPRESS_PARALLEL_PROFILE = '1'; // before the parallel modules load (and inherited by the replica threads)
const { buildModel } = await import('../src/ml/architectures.ts');
const { initBackend } = await import('../src/ml/backend.ts');
const { ParallelStepper } = await import('../src/ml/parallel/leader.ts');
const { closeReplicas, warmReplicas } = await import('../src/ml/parallel/pool.ts');
const { tf } = await import('../src/ml/tf.ts');
const { trainModel } = await import('../src/ml/train.ts');
const { readMnist } = await import('../test/unit/ml-mnist.ts');
import type { PhaseTotals } from '../src/ml/parallel/phase-profile.ts';
import type { PresetName } from '../src/ml/architectures.ts';
import type { ParallelStepper as Stepper } from '../src/ml/parallel/leader.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'lenet-300-100' },
    steps: { type: 'string', default: '100' },
    batch: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
  },
});
const preset = values.model as PresetName;
const batchSize = Number(values.batch);
const steps = Number(values.steps);
const n = batchSize * steps;

await initBackend('wasm');
await warmReplicas(1);
const { images, labels } = readMnist('train', n);
const x = tf.tensor(
  Float32Array.from(images, (v) => v / 255),
  [n, 28, 28, 1],
);
const y = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), 10).toFloat();

// The stepper of the last training, to read its profiles once trainModel closed it (replicas send theirs on closing).
let last = null as Stepper | null;
const start = ParallelStepper.start.bind(ParallelStepper);
ParallelStepper.start = async (...args: Parameters<typeof start>) => (last = await start(...args));

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function run(threads: number) {
  const model = buildModel(preset, [28, 28, 1], 10, { seed: 1 });
  try {
    const opts = { epochs: 1, batchSize, optimizer: 'adam' as const, learningRate: 1e-3, validationSplit: 0, seed: 1, threads };
    await trainModel(model, { x: x.slice(0, batchSize * 5), y: y.slice(0, batchSize * 5) }, opts); // warm-up
    last = null;
    const c0 = cpuMs();
    const w0 = performance.now();
    const r = await trainModel(model, { x, y }, opts);
    const stepper = last as Stepper | null;
    return { wallMs: performance.now() - w0, cpuMs: cpuMs() - c0, threads: r.threads, sps: r.history[0].samplesPerSec, stepper };
  } finally {
    model.dispose();
  }
}

function table(title: string, t: PhaseTotals) {
  console.log(`\n${title} (per step: wall / own CPU / run-queue wait, ms)`);
  console.log('| phase | wall | cpu | queue |\n|---|---|---|---|');
  let w = 0;
  let c = 0;
  let q = 0;
  for (const [k, v] of Object.entries(t)) {
    console.log(`| ${k} | ${(v.wallMs / steps).toFixed(3)} | ${(v.cpuMs / steps).toFixed(3)} | ${(v.queueMs / steps).toFixed(3)} |`);
    w += v.wallMs;
    c += v.cpuMs;
    q += v.queueMs;
  }
  console.log(`| total | ${(w / steps).toFixed(3)} | ${(c / steps).toFixed(3)} | ${(q / steps).toFixed(3)} |`);
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
for (let round = 0; round < Number(values.rounds); round++) {
  const one = await run(1);
  const two = await run(2);
  console.log(`\n## round ${round + 1}: ${preset}, batch ${batchSize}, ${steps} steps, load ${load()}`);
  for (const [name, r] of [
    ['1 thread', one],
    ['2 threads', two],
  ] as const) {
    console.log(
      `${name}: ${r.sps.toFixed(0)} samples/s wall, ${(r.wallMs / steps).toFixed(2)} ms/step wall, process CPU ${(r.cpuMs / steps).toFixed(2)} ms/step, threads used ${r.threads}`,
    );
  }
  if (two.stepper) {
    table(`leader (slot 0; its share of the batch at the end: ${(two.stepper.leaderShare() * 100).toFixed(1)}%)`, two.stepper.profile.totals);
    for (const [slot, t] of two.stepper.replicaProfiles) table(`replica ${slot}`, t);
  }
}
tf.dispose([x, y]);
await closeReplicas();

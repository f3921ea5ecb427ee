// Where one training step's time goes (single thread, wasm): every wasm kernel is wrapped with a timer (self time:
// nested kernels called by our composite kernels are counted under their own name), and trainModel runs with those
// wrappers in place. Prints per-kernel self time per step, the kernel total, and the rest of the step (tfjs engine:
// tape, gradient functions, tensor bookkeeping; and our loop: batch slicing, metrics, hooks).
//   npx tsx bench/train-profile.ts [--model lenet-5|lenet-300-100|resnet-20|mobilenet-v2] [--width 0.5] [--steps 60] [--batch 128] [--top 25]
// Times are process CPU time when the machine is loaded (--clock cpu, default) or wall time (--clock wall).
// --cpu-prof instead runs the measured epoch under the V8 sampling profiler (no kernel wrappers) and prints self
// time by where it is spent: wasm code (kernels), garbage collection, tfjs JS (core/layers/backend), our code.
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { tf } from '../src/ml/tf.ts';
import { trainModel } from '../src/ml/train.ts';
import { readMnist } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'lenet-5' },
    width: { type: 'string', default: '1' },
    steps: { type: 'string', default: '60' },
    batch: { type: 'string', default: '128' },
    top: { type: 'string', default: '25' },
    clock: { type: 'string', default: 'cpu' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const batchSize = Number(values.batch);
const steps = Number(values.steps);
const name = values.model as PresetName;
const cpuClock = values.clock === 'cpu';
// Microsecond clock: process CPU time (user + system) or wall time.
const now = cpuClock
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();

await initBackend('wasm');

const self = new Map<string, { ms: number; calls: number }>();
const stack: { name: string; start: number; child: number }[] = [];
for (const config of values['cpu-prof'] ? [] : tf.getKernelsForBackend('wasm')) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      stack.push({ name: config.kernelName, start: now(), child: 0 });
      try {
        return inner(args);
      } finally {
        const f = stack.pop()!;
        const total = now() - f.start;
        const s = self.get(f.name) ?? { ms: 0, calls: 0 };
        s.ms += total - f.child;
        s.calls++;
        self.set(f.name, s);
        if (stack.length > 0) stack[stack.length - 1].child += total;
      }
    },
  });
}

const { images, labels } = readMnist('train', batchSize * steps);
const n = batchSize * steps;
const xs = Float32Array.from(images, (v) => v / 255);
const ys = new Float32Array(n * 10);
for (let i = 0; i < n; i++) ys[i * 10 + labels[i]] = 1;
const x = tf.tensor(xs, [n, 28, 28, 1]);
const y = tf.tensor2d(ys, [n, 10]);
const model = buildModel(Number(values.width) === 1 ? name : { preset: name, widthMultiplier: Number(values.width) }, [28, 28, 1], 10, { seed: 0 });
const opts = { epochs: 1, batchSize, optimizer: 'adam' as const, learningRate: 1e-3, validationSplit: 0, seed: 0 };

// Warm-up epoch (kernel setup, wasm memory growth), then the measured one.
await trainModel(model, { x: x.slice(0, batchSize * 5), y: y.slice(0, batchSize * 5) }, opts);
self.clear();
const session = values['cpu-prof'] ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const start = now();
const wallStart = performance.now();
await trainModel(model, { x, y }, opts);
const totalMs = now() - start;
const wallMs = performance.now() - wallStart;
if (session) {
  const { profile } = await session.post('Profiler.stop');
  summarizeProfile(profile);
  process.exit(0);
}

/** Self time by category and the top JS functions of a V8 CPU profile. */
function summarizeProfile(profile: {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd.callFrame]));
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  const samples = profile.samples ?? [];
  for (let i = 0; i < samples.length; i++) {
    const cf = byId.get(samples[i])!;
    const us = profile.timeDeltas?.[i] ?? 0;
    total += us;
    const url = cf.url;
    const category = url.startsWith('wasm://')
      ? 'wasm kernels'
      : cf.functionName === '(garbage collector)'
        ? 'garbage collection'
        : cf.functionName === '(idle)' || cf.functionName === '(program)'
          ? 'idle/program'
          : /tfjs-core/.test(url)
            ? 'tfjs-core JS (engine, ops, gradients)'
            : /tfjs-layers/.test(url)
              ? 'tfjs-layers JS'
              : /tfjs-backend-wasm/.test(url)
                ? 'tfjs-backend-wasm JS (kernel glue)'
                : /\/src\//.test(url)
                  ? 'our code (src/)'
                  : 'other JS / runtime';
    categories.set(category, (categories.get(category) ?? 0) + us);
    const key = `${cf.functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/src\//, 'src/')}:${cf.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  console.log(`${name}, batch ${batchSize}, ${steps} steps: V8 sampling profile, self time per step (wall ${(wallMs / steps).toFixed(2)} ms/step)`);
  console.log('| where | ms/step | % |\n|---|---|---|');
  for (const [k, us] of [...categories.entries()].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${k} | ${(us / 1000 / steps).toFixed(3)} | ${((100 * us) / total).toFixed(1)} |`);
  }
  console.log('\ntop functions (self):');
  for (const [k, us] of [...functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${(us / 1000 / steps).toFixed(3).padStart(8)} ms/step ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}

const rows = [...self.entries()].sort((a, b) => b[1].ms - a[1].ms);
const kernelMs = rows.reduce((a, [, s]) => a + s.ms, 0);
const per = (ms: number) => (ms / steps).toFixed(3);
console.log(`${name}, batch ${batchSize}, ${steps} steps, ${cpuClock ? 'process CPU' : 'wall'} ms per step`);
console.log(`| kernel | ms/step | % of step | calls/step |\n|---|---|---|---|`);
for (const [k, s] of rows.slice(0, Number(values.top))) {
  console.log(`| ${k} | ${per(s.ms)} | ${((100 * s.ms) / totalMs).toFixed(1)} | ${(s.calls / steps).toFixed(1)} |`);
}
console.log(`| all kernels | ${per(kernelMs)} | ${((100 * kernelMs) / totalMs).toFixed(1)} | |`);
console.log(`| outside kernels (engine + our loop) | ${per(totalMs - kernelMs)} | ${((100 * (totalMs - kernelMs)) / totalMs).toFixed(1)} | |`);
console.log(`| step | ${per(totalMs)} | 100 | |`);
console.log(
  `${((steps * batchSize) / (totalMs / 1000)).toFixed(0)} samples per ${cpuClock ? 'CPU' : 'wall'} second; wall ${(wallMs / steps).toFixed(2)} ms/step`,
);
tf.dispose([x, y]);
model.dispose();

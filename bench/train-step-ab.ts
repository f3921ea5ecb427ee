// The compiled training step (src/ml/train-program.ts) against tfjs-layers' autodiff, interleaved in one process:
// blocks of steps alternate between the two paths on the same model and batches; prints the median process CPU
// time per step of each (valid on a loaded machine, with the load average beside it) and their ratio.
//   npx tsx bench/train-step-ab.ts [--model lenet-300-100|lenet-5] [--batch 128] [--blocks 10] [--steps 20]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { defaultLoss } from '../src/ml/loss.ts';
import { tf } from '../src/ml/tf.ts';
import { createOptimizer, disposeOptimizer } from '../src/ml/train.ts';
import { compileTrainProgram } from '../src/ml/train-program.ts';
import { LocalStepper, trainableVariables } from '../src/ml/train-step.ts';
import { readMnist } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'lenet-300-100' },
    batch: { type: 'string', default: '128' },
    blocks: { type: 'string', default: '10' },
    steps: { type: 'string', default: '20' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
await initBackend('wasm');
const n = batch * steps;
const { images, labels } = readMnist('train', n);
const ys = new Float32Array(n * 10);
for (let i = 0; i < n; i++) ys[i * 10 + labels[i]] = 1;
const data = {
  x: tf.tensor(
    Float32Array.from(images, (v) => v / 255),
    [n, 28, 28, 1],
  ),
  y: tf.tensor2d(ys, [n, 10]),
};
const model = buildModel(values.model as PresetName, [28, 28, 1], 10, { seed: 0 });
const optimizer = createOptimizer('adam', 1e-3);
const vars = trainableVariables(model);
const program = compileTrainProgram(model, vars, 10);
if (!program) throw new Error('the model does not compile');
const base = { model, data, optimizer, lossFn: defaultLoss(model), vars };
const paths = { compiled: new LocalStepper({ ...base, program }), autodiff: new LocalStepper({ ...base, program: null }) };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const times: Record<string, number[]> = { compiled: [], autodiff: [] };
const batchRows = (k: number) => Int32Array.from({ length: batch }, (_, i) => k * batch + i);
for (let b = -1; b < Number(values.blocks); b++) {
  for (const [name, stepper] of Object.entries(paths)) {
    const t0 = cpu();
    for (let k = 0; k < steps; k++) stepper.step(batchRows(k));
    if (b >= 0) times[name].push((cpu() - t0) / steps); // block -1 warms up
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const [c, a] = [median(times.compiled), median(times.autodiff)];
console.log(
  `${values.model}, batch ${batch}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}: process CPU ms/step (median of ${values.blocks} blocks × ${steps} steps)`,
);
console.log(
  `compiled ${c.toFixed(2)} (min ${Math.min(...times.compiled).toFixed(2)}), autodiff ${a.toFixed(2)} (min ${Math.min(...times.autodiff).toFixed(2)}), ratio ${(a / c).toFixed(2)}×; ${program.kernels} kernel calls`,
);
program.dispose();
disposeOptimizer(optimizer);
model.dispose();
tf.dispose([data.x, data.y]);

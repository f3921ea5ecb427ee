// Does evaluation after short training suffer from BatchNormalization moving statistics that lag the weights?
// Trains a preset on the first --limit MNIST train examples (Adam, batch --batch, --epochs), then reports test
// accuracy with the moving statistics and after recalibrating them (src/ml/bn-recalibrate.ts) over --examples
// training examples. --save DIR keeps the trained model (tfjs files) so --load DIR can repeat the comparison.
//   npx tsx bench/bn-recalibrate.ts --model mobilenet-v2 --width 0.5 --limit 3000 --epochs 1 [--test-limit 2000]
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend } from '../src/ml/backend.ts';
import { recalibrateBatchNorm } from '../src/ml/bn-recalibrate.ts';
import { structuredPrune } from '../src/ml/compress/index.ts';
import { tf } from '../src/ml/tf.ts';
import { trainModel } from '../src/ml/train.ts';
import { readMnist } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mobilenet-v2' },
    width: { type: 'string', default: '0.5' },
    limit: { type: 'string', default: '3000' },
    'test-limit': { type: 'string', default: '2000' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    examples: { type: 'string', default: '2048' },
    lr: { type: 'string', default: '1e-3' },
    seed: { type: 'string', default: '1' },
    structured: { type: 'string' },
  },
});
await initBackend('wasm');

function split(name: 'train' | 'test', limit: number) {
  const { images, labels, n } = readMnist(name, limit);
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + labels[i]] = 1;
  return {
    x: tf.tensor(
      Float32Array.from(images, (v) => v / 255),
      [n, 28, 28, 1],
    ),
    y: tf.tensor2d(y, [n, 10]),
    labels,
    n,
  };
}
const train = split('train', Number(values.limit));
const test = split('test', Number(values['test-limit']));
const width = Number(values.width);
const name = values.model as PresetName;
let model = buildModel(width === 1 ? name : { preset: name, widthMultiplier: width }, [28, 28, 1], 10, { seed: Number(values.seed) });

function accuracy(): number {
  let correct = 0;
  for (let s = 0; s < test.n; s += 256) {
    const pred = tf.tidy(() => (model.predict(test.x.slice(s, Math.min(256, test.n - s))) as tf.Tensor).argMax(-1));
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < p.length; i++) if (p[i] === test.labels[s + i]) correct++;
  }
  return correct / test.n;
}

const t0 = performance.now();
const result = await trainModel(model, train, {
  epochs: Number(values.epochs),
  batchSize: Number(values.batch),
  optimizer: 'adam',
  learningRate: Number(values.lr),
  validationSplit: 0,
  seed: Number(values.seed),
});
const last = result.history[result.history.length - 1];
const moving = accuracy();
const t1 = performance.now();
const r = recalibrateBatchNorm(model, train.x, { examples: Number(values.examples) });
const recalMs = performance.now() - t1;
const recal = accuracy();
console.log(
  `${name} ${width}, ${train.n} train × ${values.epochs} epoch(s), batch ${values.batch}, ${result.steps} steps (${((t1 - t0) / 60000).toFixed(1)} min): ` +
    `train accuracy (last epoch, training mode) ${(100 * last.accuracy).toFixed(2)}%; test (${test.n}) with moving statistics ${(100 * moving).toFixed(2)}%, ` +
    `recalibrated over ${r.examples} examples (${r.layers} BN layers, ${(recalMs / 1000).toFixed(1)} s) ${(100 * recal).toFixed(2)}%`,
);

if (values.structured) {
  // Structured prune of the recalibrated model, no fine-tuning: its moving statistics describe the dense model.
  const dense = model;
  const pruned = await structuredPrune(dense, { fraction: Number(values.structured), norm: 'l1' });
  model = pruned.model;
  const stale = accuracy();
  const r2 = recalibrateBatchNorm(model, train.x, { examples: Number(values.examples) });
  const fixed = accuracy();
  console.log(
    `structured ${values.structured} of channels, no fine-tuning: dense ${(100 * recal).toFixed(2)}% -> moving statistics ${(100 * stale).toFixed(2)}%, recalibrated (${r2.examples}) ${(100 * fixed).toFixed(2)}%`,
  );
}

// Training throughput and accuracy on real MNIST per backend.
//   npx tsx bench/train.ts [--backend wasm|cpu|webgpu|all] [--epochs 1] [--limit N] [--batch 128]
// wasm runs on one core (tfjs-backend-wasm has no threads under Node), so its samples/s are per core.
// The cpu backend is ~10-100x slower: it trains on a small subset (limit / 20) unless --limit is given with --backend cpu.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel, type PresetName } from '../src/ml/architectures.ts';
import { initBackend, type BackendPreference } from '../src/ml/backend.ts';
import { loadSplit } from '../src/ml/dataset.ts';
import { evaluateModel } from '../src/ml/evaluate.ts';
import { trainModel } from '../src/ml/train.ts';
import { tf } from '../src/ml/tf.ts';
import { FsObjectStore } from '../src/storage/fs-store.ts';
import { putMnistSplit } from '../test/unit/ml-mnist.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'all' },
    epochs: { type: 'string', default: '1' },
    limit: { type: 'string' },
    batch: { type: 'string', default: '128' },
  },
});
const epochs = Number(values.epochs);
const batchSize = Number(values.batch);
const backends = (values.backend === 'all' ? ['wasm', 'cpu'] : [values.backend]) as BackendPreference[];
const models: PresetName[] = ['lenet-300-100', 'lenet-5'];

const dir = mkdtempSync(path.join(tmpdir(), 'bench-train-'));
const store = new FsObjectStore(dir);
await store.init();
const trainKeys = await putMnistSplit(store, 'mnist/', 'train');
const testKeys = await putMnistSplit(store, 'mnist/', 'test');
const normalization = { scale: 1 / 255, offset: 0 };

const rows: string[][] = [];
for (const pref of backends) {
  const backend = await initBackend(pref);
  const small = backend === 'cpu';
  const limit = values.limit ? Number(values.limit) : small ? 3000 : 60_000;
  for (const name of models) {
    const n = small && name === 'lenet-5' && !values.limit ? Math.min(limit, 512) : limit;
    const train = await loadSplit(store, trainKeys, { limit: n, normalization, numClasses: 10 });
    const test = await loadSplit(store, testKeys, { limit: small ? 1000 : undefined, normalization, numClasses: 10 });
    const model = buildModel(name, [28, 28, 1], 10, { seed: 0 });
    const result = await trainModel(
      model,
      train,
      { epochs, batchSize, optimizer: 'adam', learningRate: 1e-3, validationSplit: 0, seed: 0 },
      {
        onEpoch: (e) =>
          console.error(
            `${backend} ${name} epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} acc ${e.accuracy.toFixed(4)} ${e.samplesPerSec.toFixed(0)} samples/s`,
          ),
      },
    );
    const evaluation = await evaluateModel(model, test, { latency: true });
    // Last epoch's rate (the first includes kernel warm-up when epochs > 1).
    const rate = result.history[result.history.length - 1].samplesPerSec;
    rows.push([
      backend,
      name,
      String(n),
      String(test.n),
      String(epochs),
      rate.toFixed(0),
      evaluation.accuracy.toFixed(4),
      evaluation.latencyMs!.batch1.p50.toFixed(2),
      evaluation.latencyMs!.batch256.p50.toFixed(1),
    ]);
    tf.dispose([train.x, train.y, test.x, test.y]);
    model.dispose();
  }
}
rmSync(dir, { recursive: true, force: true });

const header = ['backend', 'model', 'train n', 'test n', 'epochs', 'train samples/s', 'test acc', 'p50 ms b=1', 'p50 ms b=256'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log([line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'));
console.log(`batch ${batchSize}, adam 1e-3, 1 thread; node ${process.version}`);

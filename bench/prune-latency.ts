// Structured pruning's speed-up without training: builds a preset on MNIST's 28×28×1 (random weights; latency does
// not depend on them), removes a fraction of its channels (no fine-tuning) and times the dense and the pruned model
// as a prune job does (compareLatency: batch 1 and 256, runs interleaved, median of N after warm-up, both compiled for
// inference), then the same through tfjs-layers' model.apply; --profile adds
// the per-kernel time of one batch-256 pass of each (tf.profile).
//   npx tsx bench/prune-latency.ts [--preset resnet-20] [--width 1] [--fraction 0.5] [--runs 30] [--profile]
//     [--runs-batch1 N] [--backend wasm] [--dense DIR --pruned DIR]
// --dense / --pruned: time two trained models instead (directories of model.json + shards, e.g. unzipped
// `GET /v1/models/{id}/export?format=tfjs` of a structured prune job's input and result).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel } from '../src/ml/architectures.ts';
import { compareLatency, setLatencyRuns } from '../src/ml/evaluate.ts';
import { initBackend } from '../src/ml/backend.ts';
import { structuredPrune } from '../src/ml/compress/index.ts';
import { modelFlops } from '../src/ml/flops.ts';
import { compileForInference } from '../src/ml/inference.ts';
import { loadModelFromStore } from '../src/ml/model-io.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { tf } from '../src/ml/tf.ts';

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'resnet-20' },
    width: { type: 'string', default: '1' },
    fraction: { type: 'string', default: '0.5' },
    runs: { type: 'string', default: '30' },
    'runs-batch1': { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    profile: { type: 'boolean', default: false },
    dense: { type: 'string' },
    pruned: { type: 'string' },
  },
});

/** A model from a directory of model.json + weight shards. */
async function loadDir(dir: string): Promise<tf.LayersModel> {
  const store = { get: async (key: string) => fs.createReadStream(key), getBuffer: (key: string) => fsp.readFile(key) } as unknown as ObjectStore;
  return loadModelFromStore(
    store,
    (await fsp.readdir(dir)).map((name) => ({ path: name, objectKey: path.join(dir, name) })),
  );
}
await initBackend(opt.backend as 'wasm');
const trained = opt.dense !== undefined && opt.pruned !== undefined;
const dense = trained
  ? await loadDir(opt.dense!)
  : buildModel({ preset: opt.preset as 'resnet-20', widthMultiplier: Number(opt.width) }, [28, 28, 1], 10, { seed: 1 });
const pruned = trained ? await loadDir(opt.pruned!) : (await structuredPrune(dense, { fraction: Number(opt.fraction), norm: 'l1' })).model;

setLatencyRuns(Number(opt.runs));
console.log(
  `${trained ? `${opt.dense} → ${opt.pruned}` : `${opt.preset} ×${opt.width}, ${opt.fraction} of channels removed`}: MACs ${modelFlops(dense).flops} → ${modelFlops(pruned).flops}`,
);
// The prune job's own measurement (compareLatency: interleaved runs, median after 3 warm-ups, both models compiled
// for inference: BN folded, activations fused) on random inputs; then the same through tfjs-layers' model.apply.
const x = tf.randomUniform([256, 28, 28, 1]);
const compiled = [compileForInference(dense), compileForInference(pruned)];
console.log(
  `compiled for inference: ${compiled[0].removedLayers.length} / ${compiled[1].removedLayers.length} layers folded or fused away, ` +
    `${compiled[0].kernels ?? 'tf ops'} / ${compiled[1].kernels ?? 'tf ops'} kernel calls per pass (dense / pruned; model.apply: ${dense.layers.length} / ${pruned.layers.length} layers)`,
);
compiled.forEach((c) => c.dispose());
for (const path of ["compiled (the prune job's figure)", 'model.apply (tfjs-layers)']) {
  const [d, p] = await compareLatency([dense, pruned], x, {
    compiled: path.startsWith('compiled'),
    batch1Runs: opt['runs-batch1'] === undefined ? undefined : Number(opt['runs-batch1']),
  });
  for (const batch of ['batch1', 'batch256'] as const) {
    console.log(
      `${path} ${batch}: dense ${d[batch].p50.toFixed(2)} ms, pruned ${p[batch].p50.toFixed(2)} ms = ${(d[batch].p50 / p[batch].p50).toFixed(2)}×`,
    );
  }
}
// Per-kernel time of one batch-256 forward pass of each (noisy on a loaded machine: one preemption lands in one kernel).
if (opt.profile) {
  for (const [name, m] of [
    ['dense', dense],
    ['pruned', pruned],
  ] as const) {
    const info = await tf.profile(async () => {
      const y = m.apply(x, { training: false }) as tf.Tensor;
      await y.data();
      y.dispose();
    });
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(await k.kernelTimeMs));
    console.log(
      `  ${name} kernels (ms): ${[...byKernel]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
  }
}
x.dispose();

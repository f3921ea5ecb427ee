// Test-set evaluation: accuracy, loss, confusion matrix in one batched pass, and optional latency percentiles.
import { batches } from './dataset.ts';
import { compileForInference, type InferenceModel } from './inference.ts';
import { tf } from './tf.ts';
import { crossEntropy, outputsProbabilities } from './train.ts';

export interface LatencyStats {
  p50: number;
  p95: number;
}

export interface EvaluationResult {
  accuracy: number;
  loss: number;
  /** confusionMatrix[trueClass][predictedClass] = count; sums to the number of examples. */
  confusionMatrix: number[][];
  /** Recall per class; NaN for a class without examples. */
  perClassAccuracy: number[];
  latencyMs?: { batch1: LatencyStats; batch256: LatencyStats };
}

export interface EvaluateOptions {
  batchSize?: number;
  /**
   * Also measure inference latency for batches of 1 and 256 (3 warm-ups, 50 at batch 1, 30 timed runs each by default: setLatencyRuns),
   * of the model compiled for inference (src/ml/inference.ts: BatchNorm folded, activations fused; see compareLatency).
   */
  latency?: boolean;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Lets timers and I/O run between batches: on wasm/cpu, data() resolves as a microtask, so a loop over a big test set
 * (a ResNet over 10,000 images is minutes on a loaded machine) would otherwise starve the worker's heartbeat and lose
 * the job's lease.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timed runs (after min(3, runs) warm-ups, min(50, 10 · runs) at batch 1) per latency figure, this process (config MODELPRESS_LATENCY_RUNS). */
let latencyRuns = 30;

/** Sets the timed runs per latency figure (tfjs; ONNX Runtime latency takes at most 10 of them). */
export function setLatencyRuns(runs: number): void {
  latencyRuns = Math.max(1, Math.floor(runs));
}

/** The configured timed runs per latency figure. */
export const getLatencyRuns = () => latencyRuns;

/** `batchSize` rows of x (rows repeat when the set is smaller). */
function latencyInput(x: tf.Tensor, batchSize: number): tf.Tensor {
  return tf.tidy(() =>
    tf.gather(
      x,
      tf.tensor1d(
        Int32Array.from({ length: batchSize }, (_, i) => i % x.shape[0]),
        'int32',
      ),
    ),
  );
}

async function timeOnce(model: InferenceModel, input: tf.Tensor): Promise<number> {
  const t0 = performance.now();
  const y = model.predict(input);
  await y.data();
  const ms = performance.now() - t0;
  y.dispose();
  return ms;
}

function stats(times: number[]): LatencyStats {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

/**
 * Wall time of predict + read-back on `batchSize` rows, for each model, the runs interleaved (run i of every model,
 * in an order rotated each run, before run i + 1 of any): a comparison of models (before/after a compression) then
 * sees the same machine load, which on a shared machine drifts more between two back-to-back series than within one.
 */
async function measureLatency(
  models: InferenceModel[],
  x: tf.Tensor,
  batchSize: number,
  warmups = Math.min(3, latencyRuns),
  runs = latencyRuns,
): Promise<LatencyStats[]> {
  const input = latencyInput(x, batchSize);
  const times = models.map((): number[] => []);
  try {
    for (let i = 0; i < warmups + runs; i++) {
      for (let k = 0; k < models.length; k++) {
        const m = (i + k) % models.length;
        await yieldToEventLoop();
        const ms = await timeOnce(models[m], input);
        if (i >= warmups) times[m].push(ms);
      }
    }
  } finally {
    input.dispose();
  }
  return times.map(stats);
}

const asIs = (model: tf.LayersModel): InferenceModel => ({
  predict: (x) => model.apply(x, { training: false }) as tf.Tensor,
  removedLayers: [],
  steps: model.layers.length,
  kernels: null,
  dispose: () => {},
});

/**
 * Inference latency p50/p95 at batch 1 and 256 of each model on rows of x, measured interleaved (see measureLatency):
 * the wall time of one forward pass + read-back of the model compiled for inference (compileForInference: BatchNorm
 * folded into the conv before it, activations fused into the conv kernel, kernels called without tfjs-layers'
 * per-layer and tfjs-core's per-op overhead; outputs equal to model.apply within float32 rounding), as an inference
 * runtime runs a deployed model — not tfjs-layers' predict(), whose fixed per-layer cost hid most of a small model's
 * speed-up from structured pruning at batch 1. Every model compared goes through the same path.
 */
export async function compareLatency(
  models: tf.LayersModel[],
  x: tf.Tensor,
  opts: { compiled?: boolean; batch1Runs?: number } = {},
): Promise<{ batch1: LatencyStats; batch256: LatencyStats }[]> {
  // compiled: false times tfjs-layers' own model.apply instead (bench/prune-latency.ts shows both); batch1Runs
  // overrides the timed runs at batch 1 (cheap there, and noisy on a loaded machine).
  const compiled = opts.compiled === false ? models.map(asIs) : models.map(compileForInference);
  try {
    const runs1 = opts.batch1Runs ?? latencyRuns;
    // Batch 1 warms up for 50 runs (cheap: milliseconds each): after 3, V8 and the kernels' caches are not yet in
    // their steady state and the first of 30 timed sub-millisecond runs are slower (mobilenet-v2 0.5 compiled, quiet
    // VM: median of 30 after 3 warm-ups 0.57 / 0.42 ms, of 1,000: 0.30 / 0.19 ms).
    const batch1 = await measureLatency(compiled, x, 1, Math.min(50, 10 * runs1), runs1);
    const batch256 = await measureLatency(compiled, x, 256);
    return models.map((_, i) => ({ batch1: batch1[i], batch256: batch256[i] }));
  } finally {
    for (const c of compiled) c.dispose();
  }
}

/** Evaluates a classifier on one-hot data {x, y}; leaves no tensors behind. */
export async function evaluateModel(
  model: tf.LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const batchSize = opts.batchSize ?? 256;
  const numClasses = data.y.shape[1] as number;
  const fromLogits = !outputsProbabilities(model);
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let lossSum = tf.scalar(0);
  let n = 0;
  for (const b of batches(data.x, data.y, batchSize)) {
    const [nextLoss, predicted, actual] = tf.tidy((): [tf.Scalar, tf.Tensor, tf.Tensor] => {
      const pred = model.apply(b.x, { training: false }) as tf.Tensor;
      return [tf.add(lossSum, tf.mul(crossEntropy(b.y, pred, fromLogits), b.size)), tf.argMax(pred, -1), tf.argMax(b.y, -1)];
    });
    tf.dispose([lossSum, b.x, b.y]);
    lossSum = nextLoss;
    const [p, a] = await Promise.all([predicted.data(), actual.data()]);
    tf.dispose([predicted, actual]);
    for (let i = 0; i < b.size; i++) confusion[a[i]][p[i]]++;
    n += b.size;
    await yieldToEventLoop();
  }
  const loss = (await lossSum.data())[0] / n;
  lossSum.dispose();
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  const result: EvaluationResult = {
    accuracy: correct / n,
    loss,
    confusionMatrix: confusion,
    perClassAccuracy: confusion.map((row, i) => {
      const total = row.reduce((s, v) => s + v, 0);
      return total === 0 ? NaN : row[i] / total;
    }),
  };
  if (opts.latency) [result.latencyMs] = await compareLatency([model], data.x);
  return result;
}

// Test-set evaluation: accuracy, loss, confusion matrix in one batched pass, and optional latency percentiles.
import { batches } from './dataset.ts';
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
  /** Also measure predict() latency for batches of 1 and 256 (3 warm-ups, 30 timed runs each by default: setLatencyRuns). */
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

/** Timed runs (after min(3, runs) warm-ups) per latency figure, this process (config MODELPRESS_LATENCY_RUNS). */
let latencyRuns = 30;

/** Sets the timed runs per latency figure (tfjs; ONNX Runtime latency takes at most 10 of them). */
export function setLatencyRuns(runs: number): void {
  latencyRuns = Math.max(1, Math.floor(runs));
}

/** The configured timed runs per latency figure. */
export const getLatencyRuns = () => latencyRuns;

/** Wall time of predict + read-back on `batchSize` rows (rows repeat when the set is smaller). */
async function measureLatency(
  model: tf.LayersModel,
  x: tf.Tensor,
  batchSize: number,
  warmups = Math.min(3, latencyRuns),
  runs = latencyRuns,
): Promise<LatencyStats> {
  const input = tf.tidy(() =>
    tf.gather(
      x,
      tf.tensor1d(
        Int32Array.from({ length: batchSize }, (_, i) => i % x.shape[0]),
        'int32',
      ),
    ),
  );
  const times: number[] = [];
  try {
    for (let i = 0; i < warmups + runs; i++) {
      await yieldToEventLoop();
      const t0 = performance.now();
      const y = model.apply(input, { training: false }) as tf.Tensor;
      await y.data();
      const ms = performance.now() - t0;
      y.dispose();
      if (i >= warmups) times.push(ms);
    }
  } finally {
    input.dispose();
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
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
  if (opts.latency) {
    result.latencyMs = { batch1: await measureLatency(model, data.x, 1), batch256: await measureLatency(model, data.x, 256) };
  }
  return result;
}

// Weight clustering of a live model and centroid fine-tuning with gradients shared per cluster (Deep Compression
// §3.3): the kernels keep their cluster assignment; each step the loss gradient of every weight is summed over its
// cluster (∂L/∂c_k = Σ_{i: idx_i = k} ∂L/∂w_i), the centroids take an Adam step on that shared gradient, and every
// kernel is rewritten as centroids[indices]. The zero cluster (pruned weights) is frozen at exactly 0, so pruning
// survives. Other trainable weights (biases, unclustered layers) take ordinary Adam steps in the same loop.
import { AppError } from '../../../errors.ts';
import { batches, seededShuffle } from '../../dataset.ts';
import { tf } from '../../tf.ts';
import { correctCount, crossEntropy, outputsProbabilities, type EpochLog, type TrainHooks, type TrainResult } from '../../train.ts';
import { clusterTensor, type ClusteredTensor } from './kmeans.ts';

const CLUSTERABLE_LAYER_CLASSES = new Set(['Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

export interface ClusteredWeight extends ClusteredTensor {
  /** The variable's manifest name, e.g. `dense_Dense1/kernel`. */
  name: string;
  layerName: string;
  variable: tf.LayerVariable;
}

export interface ClusterOptions {
  /** Distinct values per kernel (zero included when the kernel has pruned zeros). */
  clusters: number;
  /** Layer names left unclustered. */
  excludeLayers?: readonly string[];
  /** Distinct values for one kernel (by its element count and the clustered kernels' total), instead of `clusters`. */
  clustersFor?: (size: number, total: number) => number;
}

/** Kernels (never biases) of the clusterable layers of `model`, minus `excludeLayers`. */
export function clusterableWeights(
  model: tf.LayersModel,
  excludeLayers: readonly string[] = [],
): { layerName: string; variable: tf.LayerVariable }[] {
  const known = new Set(model.layers.map((l) => l.name));
  for (const name of excludeLayers) {
    if (!known.has(name)) throw new AppError('INVALID_JOB_PARAMS', `excludeLayers names an unknown layer: ${name}`, { layer: name });
  }
  const excluded = new Set(excludeLayers);
  return model.layers
    .filter((l) => CLUSTERABLE_LAYER_CLASSES.has(l.getClassName()) && !excluded.has(l.name))
    .flatMap((l) => l.weights.filter((v) => /kernel$/.test(v.originalName)).map((variable) => ({ layerName: l.name, variable })));
}

/** Clusters every clusterable kernel of `model` in place (k-means per kernel) and returns the assignments. */
export function clusterModel(model: tf.LayersModel, opts: ClusterOptions): ClusteredWeight[] {
  const weights = clusterableWeights(model, opts.excludeLayers);
  const total = weights.reduce((n, w) => n + w.variable.read().size, 0);
  return weights.map(({ layerName, variable }) => {
    const values = variable.read().dataSync() as Float32Array;
    const c = clusterTensor(values, opts.clustersFor ? opts.clustersFor(values.length, total) : opts.clusters);
    const clustered: ClusteredWeight = { ...c, name: variable.originalName, layerName, variable };
    writeClustered(clustered);
    return clustered;
  });
}

/** Writes centroids[indices] into the kernel variable. */
export function writeClustered(c: ClusteredWeight, centroids: Float32Array = c.centroids): void {
  const out = new Float32Array(c.indices.length);
  for (let i = 0; i < out.length; i++) out[i] = centroids[c.indices[i]];
  tf.tidy(() => {
    c.variable.write(tf.tensor(out, c.variable.shape as number[], 'float32'));
  });
}

/** Σ of `grad` over each cluster (length = number of centroids); the zero cluster's sum is forced to 0 (frozen). */
export function sharedGradient(c: ClusteredTensor, grad: ArrayLike<number>): Float32Array {
  const sums = new Float64Array(c.centroids.length);
  for (let i = 0; i < c.indices.length; i++) sums[c.indices[i]] += grad[i];
  const out = Float32Array.from(sums);
  const zero = c.centroids.indexOf(0);
  if (zero >= 0) out[zero] = 0;
  return out;
}

export interface CentroidTuningOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed?: number;
  /** onStep is called every this many steps (default 10). */
  logEverySteps?: number;
}

/**
 * Fine-tunes the centroids of `clustered` (and every other trainable weight of `model`) on one-hot data {x, y}
 * with Adam and cluster-shared kernel gradients. Updates `clustered[i].centroids` and the model in place; the
 * kernels hold exactly centroids[indices] after every step. Hooks as trainModel's (progress, cancel, metrics).
 */
export async function fineTuneCentroids(
  model: tf.LayersModel,
  clustered: ClusteredWeight[],
  data: { x: tf.Tensor; y: tf.Tensor },
  opts: CentroidTuningOptions,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const started = performance.now();
  const n = data.x.shape[0];
  if (n < 1) throw new AppError('INVALID_DATASET', 'no training examples');
  const fromLogits = !outputsProbabilities(model);
  const kernelVars = clustered.map((c) => c.variable.read() as tf.Variable);
  const kernelNames = new Set(kernelVars.map((v) => v.name));
  const otherVars = model.trainableWeights.map((w) => w.read() as tf.Variable).filter((v) => !kernelNames.has(v.name));
  // tidy disposes the initial values; variables survive it.
  const centroidVars = clustered.map((c) => tf.tidy(() => tf.variable(tf.tensor1d(c.centroids), true)));
  const optimizer = tf.train.adam(opts.learningRate);
  const logEvery = Math.max(1, opts.logEverySteps ?? 10);
  const history: EpochLog[] = [];
  let step = 0;
  let canceled = false;
  try {
    for (let epoch = 0; epoch < opts.epochs && !canceled; epoch++) {
      const order = seededShuffle(n, (opts.seed ?? 0) + 1 + epoch);
      const epochStart = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (const batch of batches(data.x, data.y, opts.batchSize, order)) {
        if (hooks.shouldStop && (await hooks.shouldStop())) {
          tf.dispose([batch.x, batch.y]);
          canceled = true;
          break;
        }
        const { value, grads } = tf.variableGrads(() => {
          const pred = model.apply(batch.x, { training: true }) as tf.Tensor;
          const loss = crossEntropy(batch.y, pred, fromLogits);
          correct += (correctCount(batch.y, pred).dataSync() as Float32Array)[0];
          return loss;
        }, [...kernelVars, ...otherVars]);
        const update: { name: string; tensor: tf.Tensor }[] = otherVars
          .filter((v) => grads[v.name])
          .map((v) => ({ name: v.name, tensor: grads[v.name] }));
        clustered.forEach((c, i) => {
          const g = grads[kernelVars[i].name];
          if (g) update.push({ name: centroidVars[i].name, tensor: tf.tensor1d(sharedGradient(c, g.dataSync())) });
        });
        optimizer.applyGradients(update);
        clustered.forEach((c, i) => {
          c.centroids = Float32Array.from(centroidVars[i].dataSync());
          writeClustered(c);
        });
        const loss = (value.dataSync() as Float32Array)[0];
        tf.dispose([value, batch.x, batch.y, ...Object.values(grads), ...update.map((u) => u.tensor)]);
        hooks.afterBatch?.(model);
        hooks.onBatch?.();
        lossSum += loss * batch.size;
        seen += batch.size;
        step++;
        if (hooks.onStep && step % logEvery === 0) await hooks.onStep({ step, epoch, loss });
      }
      if (canceled || seen === 0) break;
      const log: EpochLog = {
        epoch,
        loss: lossSum / seen,
        accuracy: correct / seen,
        lr: opts.learningRate,
        samplesPerSec: seen / ((performance.now() - epochStart) / 1000),
      };
      history.push(log);
      await hooks.onEpoch?.(log);
    }
  } finally {
    optimizer.dispose();
    tf.dispose(centroidVars);
  }
  return { history, epochsRun: history.length, steps: step, stoppedEarly: false, canceled, durationMs: performance.now() - started, threads: 1 };
}

// BatchNormalization statistics recalibration: recomputes every BatchNormalization layer's moving mean and variance
// from the current weights, as the average of the batch statistics over a few training batches (a training-mode
// forward pass without gradients, dropout and noise layers off). The moving statistics are an exponential average
// over the last ~1/(1 − momentum) steps, taken while the weights were still moving; after structured pruning they
// describe channels that no longer exist upstream. The standard fix after pruning (Torch-Pruning, OFA's
// "BN calibration") and cheap: a few forward passes.
// Each batch i (from 1) is folded in with momentum 1 − 1/i, so the result is the plain mean over the batches.
import { fitToModel } from './model-input.ts';
import { tf } from './tf.ts';

export interface RecalibrateOptions {
  /** Examples per forward batch (default 128). */
  batchSize?: number;
  /** Examples used in all (default 2,048, at most all rows): spread evenly over the rows. */
  examples?: number;
  /** Only the first `rows` rows of x (the training part when the rest is held out for validation). */
  rows?: number;
}

/** Examples recalibration uses by default: 2,048 (16 forward batches of 128). */
export const RECALIBRATION_EXAMPLES = 2048;

type BNLayer = tf.layers.Layer & { momentum: number };
type RateLayer = tf.layers.Layer & { rate: number };

/** The BatchNormalization layers of `model`, nested models included. */
export function batchNormLayers(model: tf.LayersModel): BNLayer[] {
  const out: BNLayer[] = [];
  const walk = (layers: tf.layers.Layer[]) => {
    for (const layer of layers) {
      if (layer.getClassName() === 'BatchNormalization') out.push(layer as BNLayer);
      else if ((layer as unknown as tf.LayersModel).layers) walk((layer as unknown as tf.LayersModel).layers);
    }
  };
  walk(model.layers);
  return out;
}

/**
 * Recomputes the moving statistics of every BatchNormalization layer of `model` from `x` (examples on axis 0, any
 * shape the model's input reshapes to). Returns the number of layers and examples; no-op (0 layers) for a model
 * without BatchNormalization or with more than one input.
 */
export function recalibrateBatchNorm(model: tf.LayersModel, x: tf.Tensor, opts: RecalibrateOptions = {}): { layers: number; examples: number } {
  const bns = batchNormLayers(model);
  const n = Math.min(x.shape[0], opts.rows ?? Infinity);
  if (bns.length === 0 || n <= 0 || model.inputs.length !== 1) return { layers: 0, examples: 0 };
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 128, n));
  const examples = Math.min(n, Math.max(batchSize, opts.examples ?? RECALIBRATION_EXAMPLES));
  // Rows spread evenly over x (training data is often ordered by source or class).
  const rows = Int32Array.from({ length: examples }, (_, i) => Math.floor((i * n) / examples));
  const momenta = bns.map((l) => l.momentum);
  // Dropout-like layers (Dropout, SpatialDropout, GaussianDropout, AlphaDropout: `rate`) off during the passes.
  const rateLayers = model.layers.filter((l) => typeof (l as RateLayer).rate === 'number' && (l as RateLayer).rate > 0) as RateLayer[];
  const rates = rateLayers.map((l) => l.rate);
  const noise = model.layers.filter((l) => l.getClassName() === 'GaussianNoise') as (tf.layers.Layer & { stddev: number })[];
  const stddevs = noise.map((l) => l.stddev);
  try {
    for (const l of rateLayers) l.rate = 0;
    for (const l of noise) l.stddev = 0;
    let batch = 0;
    for (let start = 0; start < examples; start += batchSize) {
      batch++;
      for (const l of bns) l.momentum = 1 - 1 / batch;
      tf.tidy(() => {
        const idx = tf.tensor1d(rows.subarray(start, Math.min(examples, start + batchSize)), 'int32');
        const xb = fitToModel(model, tf.gather(x, idx));
        model.apply(xb, { training: true });
      });
    }
  } finally {
    bns.forEach((l, i) => (l.momentum = momenta[i]));
    rateLayers.forEach((l, i) => (l.rate = rates[i]));
    noise.forEach((l, i) => (l.stddev = stddevs[i]));
  }
  return { layers: bns.length, examples };
}

// Gradual magnitude pruning during training: recompute masks when the schedule says so and re-apply
// them after every optimizer update, so pruned weights stay exactly zero.
import type { tf } from '../../tf.ts';
import {
  applyMasks,
  allocatedMasks,
  magnitudeMasks,
  prunableWeights,
  type NamedWeight,
  type PrunableWeight,
  type PruningScope,
  type WeightMasks,
} from './magnitude.ts';
import type { PruningSchedule } from './schedule.ts';

export interface GradualPruningOptions {
  scope?: PruningScope;
  excludeLayers?: readonly string[];
  pruneLastDense?: boolean;
  /** Global scope: the most each kernel (by weight name) may be pruned. */
  maxSparsity?: Readonly<Record<string, number>>;
  /**
   * Final sparsity per kernel (by weight name), e.g. from a sensitivity scan; each kernel follows the schedule
   * scaled to its own target. Replaces `scope`.
   */
  allocation?: Readonly<Record<string, number>>;
  /** Importance of each weight (default |w|), e.g. activationScores; recomputed at every pruning step. */
  scores?: (weights: PrunableWeight[]) => NamedWeight[];
  /**
   * Block sparsity (TF Model Optimization's `block_size` (1, b)): weights are kept or pruned in runs of `blockSize`
   * consecutive entries of a kernel's last axis (its output units / filters), scored by the run's summed score. The
   * stored bytes then hold runs of zeros and runs of values, which gzip encodes far more cheaply than scattered
   * ones (the positions dominate a sparse kernel's compressed size). 1 (default): unstructured.
   */
  blockSize?: number;
}

/**
 * Scores with every entry replaced by the sum of its block: runs of `blockSize` along the last axis of `shape`
 * (a row's last block may be shorter). Equal scores per block make a top-k prune whole blocks (but at the threshold).
 */
export function blockScores(values: Float32Array, lastDim: number, blockSize: number): Float32Array {
  if (blockSize <= 1) return values;
  const out = new Float32Array(values.length);
  for (let row = 0; row < values.length; row += lastDim) {
    for (let b = row; b < row + lastDim; b += blockSize) {
      const end = Math.min(b + blockSize, row + lastDim);
      let sum = 0;
      for (let i = b; i < end; i++) sum += Math.abs(values[i]);
      out.fill(sum, b, end);
    }
  }
  return out;
}

export class GradualPruner {
  private step = 0;
  masks: WeightMasks = {};

  constructor(
    private readonly model: tf.LayersModel,
    private readonly schedule: PruningSchedule,
    private readonly opts: GradualPruningOptions = {},
  ) {}

  /** Masks at sparsity `s` (the schedule's figure; allocations are scaled by s / their overall final figure). */
  masksAt(s: number, finalSparsity: number): WeightMasks {
    const weights = prunableWeights(this.model, this.opts.excludeLayers, { pruneLastDense: this.opts.pruneLastDense });
    const raw = this.opts.scores ? this.opts.scores(weights) : weights;
    const blockSize = this.opts.blockSize ?? 1;
    const scored =
      blockSize > 1
        ? raw.map((w, i) => {
            const values = w.values instanceof Float32Array ? w.values : (w.values.dataSync() as Float32Array);
            return { name: w.name, values: blockScores(values, weights[i].values.shape.at(-1)!, blockSize) };
          })
        : raw;
    const { allocation } = this.opts;
    if (allocation) {
      const f = finalSparsity > 0 ? s / finalSparsity : 0;
      return allocatedMasks(scored, Object.fromEntries(Object.entries(allocation).map(([k, v]) => [k, v * f])));
    }
    return magnitudeMasks(scored, s, this.opts.scope ?? 'layer', { maxSparsity: this.opts.maxSparsity });
  }

  /** Call before each training batch: updates masks on pruning steps, then masks the weights. */
  beforeBatch(): void {
    if (this.schedule.shouldPrune(this.step)) this.masks = this.masksAt(this.schedule.sparsityAt(this.step), this.schedule.sparsityAt(Infinity));
    applyMasks(this.model, this.masks);
  }

  /** Call after each optimizer update: re-zeroes the pruned weights the update moved. */
  afterBatch(): void {
    applyMasks(this.model, this.masks);
    this.step++;
  }

  /** Callbacks for `model.fit`. */
  callback(): tf.CustomCallbackArgs {
    return {
      onBatchBegin: async () => this.beforeBatch(),
      onBatchEnd: async () => this.afterBatch(),
    };
  }
}

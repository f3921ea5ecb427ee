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
    const scored = this.opts.scores ? this.opts.scores(weights) : weights;
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

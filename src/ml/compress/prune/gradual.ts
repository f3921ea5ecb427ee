// Gradual magnitude pruning during training: recompute masks when the schedule says so and re-apply
// them after every optimizer update, so pruned weights stay exactly zero.
import { tf } from '../../tf.ts';
import { applyMasks, magnitudeMasks, prunableWeights, type PruningScope, type WeightMasks } from './magnitude.ts';
import type { PruningSchedule } from './schedule.ts';

export interface GradualPruningOptions {
  scope?: PruningScope;
  excludeLayers?: readonly string[];
  pruneLastDense?: boolean;
}

export class GradualPruner {
  private step = 0;
  masks: WeightMasks = {};

  constructor(
    private readonly model: tf.LayersModel,
    private readonly schedule: PruningSchedule,
    private readonly opts: GradualPruningOptions = {},
  ) {}

  /** Call before each training batch: updates masks on pruning steps, then masks the weights. */
  beforeBatch(): void {
    if (this.schedule.shouldPrune(this.step)) {
      const weights = prunableWeights(this.model, this.opts.excludeLayers, { pruneLastDense: this.opts.pruneLastDense });
      this.masks = magnitudeMasks(weights, this.schedule.sparsityAt(this.step), this.opts.scope ?? 'layer');
    }
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

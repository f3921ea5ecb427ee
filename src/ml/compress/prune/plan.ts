// What a magnitude prune prunes and how, decided once from the model and the job's params: the protected layers
// (the classifier always; the first prunable layer when it is small — a 150-weight first conv feeds everything
// after it and saves nothing when pruned, while an MLP's first Dense holds most of the weights and must be
// pruned), the per-layer cap of global scope, and the importance score.
import type { tf } from '../../tf.ts';
import { activationScores } from './activation-score.ts';
import type { GradualPruningOptions } from './gradual.ts';
import { prunableWeights, type PruningScope } from './magnitude.ts';

/** A first layer holding less than this share of the prunable weights is protected (left dense) by default. */
export const SMALL_LAYER_SHARE = 0.1;
/** Global scope with a target: a small layer (see SMALL_LAYER_SHARE) is pruned to at most this share of the target. */
export const SMALL_LAYER_CAP = 0.5;

export type PruningScore = 'magnitude' | 'activation';

export interface PlanOptions {
  scope: PruningScope;
  score: PruningScore;
  /** Global scope: no layer is pruned beyond this (each keeps at least 1 − maxLayerSparsity of its weights). */
  maxLayerSparsity: number;
  /**
   * Global scope: the job's final sparsity. A small layer (< SMALL_LAYER_SHARE of the prunable weights) is then not
   * pruned beyond SMALL_LAYER_CAP of it: pruning it harder saves almost nothing, and one global threshold took
   * LeNet-5's 2,400-weight conv2 to the 98% cap (48 weights for 16 filters), losing 1.92 pp at sparsity 0.9; capped
   * at the target (90%, 15 weights per filter) it still cost 0.44-0.51 pp on three dense seeds, at half of it
   * (45%) 0.05-0.39 pp (README bench, issue 16).
   */
  targetSparsity?: number;
  /** Layers left dense; replaces the default protection (the classifier and a small first layer). */
  excludeLayers?: readonly string[];
  /** Activation score: the calibration inputs (a slice of the training data, already shaped for the model). */
  calibration?: tf.Tensor;
  /** Final sparsity per kernel (by weight name), e.g. allocated from a sensitivity scan. */
  allocation?: Readonly<Record<string, number>>;
}

/** The default protected layers: the last Dense (the classifier) and the first prunable layer when it is small. */
export function protectedLayers(model: tf.LayersModel): string[] {
  const all = prunableWeights(model, [], { pruneLastDense: true });
  const lastDense = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  const total = all.reduce((n, w) => n + w.values.size, 0);
  const first = all[0];
  const out = lastDense ? [lastDense.name] : [];
  if (first && first.layerName !== lastDense?.name && first.values.size < SMALL_LAYER_SHARE * total) out.push(first.layerName);
  return out;
}

/** Global scope's cap for a layer of `size` of the `total` prunable weights. */
export function layerCap(size: number, total: number, opts: Pick<PlanOptions, 'maxLayerSparsity' | 'targetSparsity'>): number {
  const small = opts.targetSparsity !== undefined && size < SMALL_LAYER_SHARE * total;
  return small ? Math.min(opts.maxLayerSparsity, SMALL_LAYER_CAP * opts.targetSparsity!) : opts.maxLayerSparsity;
}

/** GradualPruner options for `model` under `opts`. */
export function pruningPlan(model: tf.LayersModel, opts: PlanOptions): GradualPruningOptions & { excludeLayers: readonly string[] } {
  const excludeLayers = opts.excludeLayers ?? protectedLayers(model);
  const weights = prunableWeights(model, excludeLayers, { pruneLastDense: true });
  const total = weights.reduce((n, w) => n + w.values.size, 0);
  const { calibration } = opts;
  return {
    scope: opts.scope,
    excludeLayers,
    pruneLastDense: true,
    maxSparsity: Object.fromEntries(weights.map((w) => [w.name, layerCap(w.values.size, total, opts)])),
    allocation: opts.allocation,
    scores: opts.score === 'activation' && calibration ? (ws) => activationScores(model, ws, calibration) : undefined,
  };
}

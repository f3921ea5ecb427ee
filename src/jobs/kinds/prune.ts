// `prune`: unstructured magnitude pruning (gradual, on a TF-MOT-style schedule, masks re-applied after every
// optimizer step of the fine-tuning and a final exact prune to the target; by default global scope with a per-layer
// cap, activation-aware scores and the classifier and a small first layer protected: src/ml/compress/prune/plan.ts)
// or structured pruning (coupled channel groups removed from any functional graph, a physically smaller model, then
// optional fine-tuning).
// Saves the result with its report.
import {
  applyMasks,
  constantSparsity,
  GradualPruner,
  polynomialDecay,
  pruningPlan,
  structuredPrune,
  type PruningSchedule,
} from '../../ml/compress/index.ts';
import { takeRows } from '../../ml/dataset.ts';
import { compareLatency } from '../../ml/evaluate.ts';
import { fitToModel } from '../../ml/model-input.ts';
import type { tf } from '../../ml/tf.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { compressionReport, measure } from './compression-report.ts';
import { PruneParams } from './prune.params.ts';
import { disposeData, evalSetOf, loadData, recalibrateBatchNormOf, runTraining, type SplitTensors } from './support.ts';

/** Masks are recomputed every N steps: ~20 times over the fine-tuning, at most every 100 steps. */
export function defaultFrequency(totalSteps: number): number {
  return Math.min(100, Math.max(1, Math.round(totalSteps / 20)));
}

/**
 * The schedule of a magnitude prune over `totalSteps` fine-tuning steps. Defaults: begin at 0; constant prunes
 * until the end; polynomial decay reaches the final sparsity on a pruning step about two thirds into the
 * fine-tuning, so the last third recovers accuracy with the final masks.
 */
export function pruningSchedule(params: Pick<PruneParams, 'sparsity' | 'schedule'>, totalSteps: number): PruningSchedule {
  const s = params.schedule;
  const beginStep = s.beginStep ?? 0;
  const frequency = s.frequency ?? defaultFrequency(totalSteps);
  if (s.type === 'constant') {
    return constantSparsity({ targetSparsity: params.sparsity, beginStep, endStep: s.endStep ?? -1, frequency });
  }
  const endStep = s.endStep ?? beginStep + frequency * Math.max(1, Math.floor((Math.ceil((2 * totalSteps) / 3) - beginStep) / frequency));
  return polynomialDecay({ initialSparsity: s.initialSparsity ?? 0, finalSparsity: params.sparsity, beginStep, endStep, power: s.power, frequency });
}

/** Training rows the activation score is calibrated on (the first ones; the score only needs input statistics). */
const CALIBRATION_ROWS = 1024;

/** The gradual pruner of a magnitude prune (its plan: protected layers, cap, score) over `totalSteps` steps. */
export function magnitudePruner(model: tf.LayersModel, params: PruneParams, totalSteps: number, calibration: tf.Tensor): GradualPruner {
  const plan = pruningPlan(model, {
    scope: params.scope,
    score: params.score,
    maxLayerSparsity: params.maxLayerSparsity,
    targetSparsity: params.sparsity,
    excludeLayers: params.excludeLayers,
    calibration,
  });
  return new GradualPruner(model, pruningSchedule(params, Math.max(1, totalSteps)), plan);
}

const fineTuneOptions = (params: PruneParams) => ({
  epochs: params.fineTuneEpochs,
  batchSize: params.batchSize,
  optimizer: 'adam' as const,
  learningRate: params.learningRate,
  validationSplit: 0,
  seed: params.seed,
});

/** Gradual magnitude pruning of `model` in place during fine-tuning (progress 0.1 → 0.85 of the job). */
async function magnitudePrune(ctx: JobContext, model: tf.LayersModel, train: SplitTensors, params: PruneParams): Promise<void> {
  const calibration = takeRows(
    train.x,
    Int32Array.from({ length: Math.min(CALIBRATION_ROWS, train.n) }, (_, i) => i),
  );
  try {
    const totalSteps = params.fineTuneEpochs * Math.ceil(train.n / params.batchSize);
    const pruner = magnitudePruner(model, params, totalSteps, calibration);
    if (params.fineTuneEpochs > 0) {
      // trainModel has no before-batch hook: prepare step 0 now and each next step right after the previous one.
      pruner.beforeBatch();
      await runTraining(ctx, model, train, fineTuneOptions(params), {
        progressRange: [0.1, 0.85],
        afterBatch: () => {
          pruner.afterBatch();
          pruner.beforeBatch();
        },
        recalibrateBatchNorm: false,
      });
    }
    // Final exact prune to the target: idempotent when the schedule already reached it (pruned weights score 0).
    applyMasks(model, pruner.masksAt(params.sparsity, params.sparsity));
    // BatchNormalization statistics of the final weights (without fine-tuning: of the dense model's).
    recalibrateBatchNormOf(ctx, model, train.x);
  } finally {
    calibration.dispose();
  }
}

/** Structured pruning to a new, smaller model, then optional fine-tuning. Disposes nothing of `model`. */
async function structuredPruneAndTune(ctx: JobContext, model: tf.LayersModel, train: SplitTensors, params: PruneParams): Promise<tf.LayersModel> {
  const {
    model: smaller,
    removed,
    pinned,
  } = await structuredPrune(model, {
    fraction: params.sparsity,
    norm: params.norm,
    importance: params.importance,
    excludeLayers: params.excludeLayers,
  });
  try {
    ctx.log('structured pruning removed units', 'info', {
      removed: Object.fromEntries(Object.entries(removed).map(([k, v]) => [k, v.length])),
      pinned,
    });
    // Downstream of every removed channel the moving statistics describe the dense model: recompute them (all the
    // result gets without fine-tuning; fine-tuning then starts from matching statistics and recalibrates at its end).
    recalibrateBatchNormOf(ctx, smaller, train.x);
    if (params.fineTuneEpochs > 0) await runTraining(ctx, smaller, train, fineTuneOptions(params), { progressRange: [0.1, 0.85] });
    return smaller;
  } catch (e) {
    smaller.dispose();
    throw e;
  }
}

export async function runPrune(ctx: JobContext, params: PruneParams): Promise<JobResult> {
  const modelId = ctx.inputs.modelId!;
  const source = await ctx.models.get(modelId);
  const model = await ctx.models.load(modelId);
  let pruned: tf.LayersModel = model;
  try {
    const data = await loadData(ctx, ctx.inputs.datasetId!, { limit: params.limit, model });
    try {
      const evalSet = evalSetOf(ctx, data);
      // Structured pruning keeps the original model: both latencies are measured at the end, interleaved, so the
      // speed-up is not the machine's load drifting over the fine-tuning. Magnitude pruning works in place.
      const structured = params.method === 'structured';
      const before = await measure(model, evalSet.data, evalSet.split, { latency: !structured });
      ctx.progress({ fraction: 0.1 });
      ctx.throwIfCanceled();
      if (structured) pruned = await structuredPruneAndTune(ctx, model, data.train, params);
      else await magnitudePrune(ctx, model, data.train, params);
      ctx.throwIfCanceled();
      const after = await measure(pruned, evalSet.data, evalSet.split, { latency: !structured });
      if (structured) {
        const x = fitToModel(model, evalSet.data.x);
        try {
          [before.m.latencyMs, after.m.latencyMs] = await compareLatency([model, pruned], x);
        } finally {
          if (x !== evalSet.data.x) x.dispose();
        }
      }
      const report = compressionReport(before, after);
      ctx.progress({ fraction: 0.95 });
      const saved = await ctx.models.save(pruned, { name: `${source.name}-pruned`, parentModelId: modelId, report: { ...report } });
      ctx.log(
        `pruned ${source.name}: ${before.m.nonzeroParams} → ${after.m.nonzeroParams} nonzero parameters, accuracy ${before.m.accuracy} → ${after.m.accuracy}`,
      );
      ctx.progress({ fraction: 1 });
      return { resultModelIds: [saved.id], report: { ...report } };
    } finally {
      disposeData(data);
    }
  } finally {
    if (pruned !== model) pruned.dispose();
    model.dispose();
  }
}

export const pruneKind: JobKind<typeof PruneParams> = {
  type: 'prune',
  paramsSchema: PruneParams,
  requires: { model: true, dataset: true },
  trains: true,
  epochParams: ['fineTuneEpochs'],
  pipelineStep: { input: 'model' },
  run: runPrune,
};

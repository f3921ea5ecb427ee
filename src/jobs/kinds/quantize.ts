// `quantize`: post-training weight quantization (float16, or affine uint8/uint16 per tensor) written as a stock
// TF.js weights manifest with `quantization` entries, so any tfjs build's loadLayersModel dequantizes it. Exact
// zeros stay exact, so a pruned model's sparsity survives into the gzip size. Accuracy is measured when the job
// names a dataset. With `qat` (uint8), the model is first fine-tuned against its fake-quantized weights (straight-
// through estimator, src/ml/compress/qat): per tensor the manifest then stores exactly the grid it was trained on.
import { FakeQuantTrainer, quantizeWeights, type QuantGrid } from '../../ml/compress/index.ts';
import { loadModelFromArtifacts, serializeModel } from '../../ml/model-io.ts';
import type { tf } from '../../ml/tf.ts';
import { AppError } from '../../errors.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { activationBytes } from '../resource-estimate.ts';
import { compressionReport, measure, syntheticSplit } from './compression-report.ts';
import { QuantizeParams, type QatParams } from './quantize.params.ts';
import { disposeData, disposeSplits, loadData, loadEvalSplit, runTraining, type EvalSplitName, type SplitTensors } from './support.ts';

/**
 * Quantization-aware fine-tuning of `model` in place on the dataset's train split (progress 0.1 → 0.5). Per tensor
 * the variables end on the float shadow weights (quantizing them reproduces the trained grid); per channel on the
 * fake-quantized values. Returns each weight's grid by manifest name.
 */
async function quantizationAwareTuning(ctx: JobContext, model: tf.LayersModel, qat: QatParams): Promise<Record<string, QuantGrid>> {
  const data = await loadData(ctx, ctx.inputs.datasetId!, { limit: qat.limit, model, skipTest: true });
  try {
    const trainer = new FakeQuantTrainer(model, qat.granularity);
    trainer.quantize();
    await runTraining(
      ctx,
      model,
      data.train,
      { epochs: qat.epochs, batchSize: qat.batchSize, optimizer: 'adam', learningRate: qat.learningRate, validationSplit: 0, seed: qat.seed },
      { progressRange: [0.1, 0.5], metricPrefix: 'qat_', afterBatch: () => trainer.afterBatch() },
    );
    return trainer.finish();
  } finally {
    disposeData(data);
  }
}

export async function runQuantize(ctx: JobContext, params: QuantizeParams): Promise<JobResult> {
  const modelId = ctx.inputs.modelId!;
  const source = await ctx.models.get(modelId);
  let artifacts = await ctx.models.loadArtifacts(modelId);
  const model = await loadModelFromArtifacts(artifacts);
  let evalSet: SplitTensors | null = null;
  try {
    // The test split (else the training split, named as such), first `limit` examples; without a dataset, synthetic zeros.
    let split: EvalSplitName | null = null;
    if (ctx.inputs.datasetId !== null) {
      const loaded = await loadEvalSplit(ctx, ctx.inputs.datasetId, { limit: params.limit, model });
      evalSet = loaded.data;
      split = loaded.split;
      if (split === 'train') ctx.log(`dataset ${loaded.dataset.name} has no test split: accuracy is measured on the train split`, 'warn');
    } else evalSet = syntheticSplit(model);
    const before = await measure(model, evalSet, split);
    ctx.progress({ fraction: 0.1 });
    ctx.throwIfCanceled();
    let qatReport: Record<string, unknown> | null = null;
    if (params.qat) {
      const grids = await quantizationAwareTuning(ctx, model, params.qat);
      artifacts = (await serializeModel(model)).artifacts;
      const channel = params.qat.granularity === 'channel';
      qatReport = {
        epochs: params.qat.epochs,
        granularity: params.qat.granularity,
        // Per channel the manifest cannot carry the grids: the weights are float32 values on them, the grids are here.
        ...(channel ? { storedAs: 'float32', grids } : { storedAs: 'uint8' }),
      };
      ctx.log(
        channel
          ? 'QAT per channel: the TF.js manifest holds one grid per tensor, so the weights are stored as float32 values on their per-channel uint8 grids (grids in the report, for an ONNX QDQ export)'
          : `QAT per tensor: ${params.qat.epochs} epoch(s) against the uint8 grids the manifest stores`,
      );
    }
    ctx.progress({ fraction: 0.5 });
    ctx.throwIfCanceled();
    let quantized: tf.io.ModelArtifacts = artifacts;
    if (params.qat?.granularity !== 'channel') {
      const q = quantizeWeights(artifacts.weightSpecs ?? [], artifacts.weightData ?? new ArrayBuffer(0), params.dtype);
      quantized = { ...artifacts, weightSpecs: q.specs, weightData: q.data };
      const maxError = Math.max(0, ...Object.values(q.maxAbsError));
      ctx.log(`quantized ${Object.keys(q.maxAbsError).length} weights to ${params.dtype}; max |error| ${maxError.toExponential(3)}`, 'info', {
        maxAbsError: q.maxAbsError,
      });
    }
    const after = await measure(quantized, evalSet, split);
    const report = { ...compressionReport(before, after), ...(qatReport ? { qat: qatReport } : {}) };
    ctx.progress({ fraction: 0.9 });
    const suffix = params.qat ? `${params.dtype}-qat` : params.dtype;
    const saved = await ctx.models.save(quantized, { name: `${source.name}-${suffix}`, parentModelId: modelId, report: { ...report } });
    ctx.progress({ fraction: 1 });
    return { resultModelIds: [saved.id], report: { ...report } };
  } finally {
    disposeSplits(evalSet);
    model.dispose();
  }
}

export const quantizeKind: JobKind<typeof QuantizeParams> = {
  type: 'quantize',
  paramsSchema: QuantizeParams,
  requires: { model: true },
  trains: false,
  pipelineStep: { input: 'model' },
  /** Inference only, unless QAT fine-tunes the model first (then gradients and optimizer state too, and its epochs). */
  estimate(params, facts, field) {
    return {
      bytes: facts.modelParams * (params.qat ? 16 : 8) + facts.datasetBytes + activationBytes(params, facts, Boolean(params.qat)),
      epochs: params.qat ? [{ field: `${field}.qat.epochs`, value: params.qat.epochs }] : [],
    };
  },
  validate(params, inputs, _facts, field) {
    if (!params.qat) return;
    if (params.dtype !== 'uint8')
      throw new AppError('INVALID_JOB_PARAMS', `${field}.qat: quantization-aware tuning is for dtype uint8`, { field: `${field}.qat` });
    if (!inputs.datasetId)
      throw new AppError('INVALID_JOB_PARAMS', `${field}.qat: quantization-aware tuning needs a datasetId`, { field: `${field}.qat` });
  },
  run: runQuantize,
};

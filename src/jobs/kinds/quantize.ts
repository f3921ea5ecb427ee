// `quantize`: post-training weight quantization (float16, or affine uint8/uint16 per tensor) written as a stock
// TF.js weights manifest with `quantization` entries, so any tfjs build's loadLayersModel dequantizes it. Exact
// zeros stay exact, so a pruned model's sparsity survives into the gzip size. Accuracy is measured when the job
// names a dataset.
import { quantizeWeights } from '../../ml/compress/index.ts';
import { loadModelFromArtifacts } from '../../ml/model-io.ts';
import { tf } from '../../ml/tf.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { compressionReport, measure, syntheticSplit } from './compression-report.ts';
import { QuantizeParams } from './quantize.params.ts';
import { disposeSplits, loadEvalSplit, type EvalSplitName, type SplitTensors } from './support.ts';

export async function runQuantize(ctx: JobContext, params: QuantizeParams): Promise<JobResult> {
  const modelId = ctx.inputs.modelId!;
  const source = await ctx.models.get(modelId);
  const artifacts = await ctx.models.loadArtifacts(modelId);
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
    ctx.progress({ fraction: 0.4 });
    ctx.throwIfCanceled();
    const q = quantizeWeights(artifacts.weightSpecs ?? [], artifacts.weightData ?? new ArrayBuffer(0), params.dtype);
    const quantized: tf.io.ModelArtifacts = { ...artifacts, weightSpecs: q.specs, weightData: q.data };
    const maxError = Math.max(0, ...Object.values(q.maxAbsError));
    ctx.log(`quantized ${Object.keys(q.maxAbsError).length} weights to ${params.dtype}; max |error| ${maxError.toExponential(3)}`, 'info', {
      maxAbsError: q.maxAbsError,
    });
    ctx.progress({ fraction: 0.5 });
    ctx.throwIfCanceled();
    const after = await measure(quantized, evalSet, split);
    const report = compressionReport(before, after);
    ctx.progress({ fraction: 0.9 });
    const saved = await ctx.models.save(quantized, { name: `${source.name}-${params.dtype}`, parentModelId: modelId, report: { ...report } });
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
  run: runQuantize,
};

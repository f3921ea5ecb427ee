// `evaluate`: accuracy, loss, confusion matrix and per-class accuracy on the dataset's test split (or the split the
// params name: a dataset without a test split is refused unless "train" or "validation" is asked for, so train
// accuracy is never published as test accuracy), inference latency p50/p95 at batch 1 and 256, parameter counts,
// size raw and gzip, and FLOPs (multiply-adds per example). The report names its split next to the accuracy.
import { evaluateModel } from '../../ml/evaluate.ts';
import { modelStats } from '../../ml/model-stats.ts';
import { tf } from '../../ml/tf.ts';
import type { JobKind } from '../kind.ts';
import { EvaluateParams } from './evaluate.params.ts';
import { loadEvalSplit, noTestSplit, yieldToEventLoop } from './support.ts';

export const evaluateKind: JobKind<typeof EvaluateParams> = {
  type: 'evaluate',
  paramsSchema: EvaluateParams,
  requires: { model: true, dataset: true },
  trains: false,
  pipelineStep: { input: 'model' },
  validate(params, _inputs, facts, field) {
    if ((params.split ?? 'test') === 'test' && facts.dataset && facts.dataset.testExamples === 0) throw noTestSplit(facts.dataset.name, field);
  },
  async run(ctx, params) {
    const model = await ctx.models.load(ctx.inputs.modelId!);
    try {
      const { split, data, preprocessing } = await loadEvalSplit(ctx, ctx.inputs.datasetId!, {
        limit: params.limit,
        model,
        split: params.split ?? 'test',
      });
      try {
        ctx.throwIfCanceled();
        ctx.progress({ fraction: 0.1 });
        const ev = await evaluateModel(model, data, { latency: true });
        await yieldToEventLoop();
        ctx.throwIfCanceled();
        ctx.progress({ fraction: 0.8 });
        const stats = await modelStats(model);
        ctx.progress({ fraction: 1, etaSeconds: 0 });
        return {
          resultModelIds: [],
          report: {
            accuracy: ev.accuracy,
            split,
            loss: ev.loss,
            confusionMatrix: ev.confusionMatrix,
            perClassAccuracy: ev.perClassAccuracy.map((a) => (Number.isNaN(a) ? null : a)),
            params: stats.params,
            nonzeroParams: stats.nonzeroParams,
            sizeBytes: stats.sizeBytes,
            gzipBytes: stats.gzipBytes,
            flops: stats.flops,
            latencyMs: ev.latencyMs!,
            examples: data.n,
            preprocessing,
          },
        };
      } finally {
        tf.dispose([data.x, data.y]);
      }
    } finally {
      model.dispose();
    }
  },
};

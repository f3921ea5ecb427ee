// `evaluate`: accuracy, loss, confusion matrix and per-class accuracy on the dataset's test split (the train split
// when it has none), inference latency p50/p95 at batch 1 and 256, parameter counts and size raw and gzip.
import { evaluateModel } from '../../ml/evaluate.ts';
import { modelStats } from '../../ml/model-stats.ts';
import { tf } from '../../ml/tf.ts';
import type { JobKind } from '../kind.ts';
import { EvaluateParams } from './evaluate.params.ts';
import { loadEvalSplit, loadModel, yieldToEventLoop } from './support.ts';

export const evaluateKind: JobKind<typeof EvaluateParams> = {
  type: 'evaluate',
  paramsSchema: EvaluateParams,
  requires: { model: true, dataset: true },
  async run(ctx, params) {
    const model = await loadModel(ctx, ctx.inputs.modelId!);
    try {
      const { split, data } = await loadEvalSplit(ctx, ctx.inputs.datasetId!, { limit: params.limit, model });
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
            loss: ev.loss,
            confusionMatrix: ev.confusionMatrix,
            perClassAccuracy: ev.perClassAccuracy.map((a) => (Number.isNaN(a) ? null : a)),
            params: stats.params,
            nonzeroParams: stats.nonzeroParams,
            sizeBytes: stats.sizeBytes,
            gzipBytes: stats.gzipBytes,
            latencyMs: ev.latencyMs!,
            split,
            examples: data.n,
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

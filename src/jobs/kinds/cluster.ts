// `cluster`: k-means weight sharing (Deep Compression §3): every Dense/Conv kernel keeps `clusters` distinct values
// (2^bits), then the centroids are fine-tuned with gradients shared per cluster. Exact zeros of a pruned model stay
// exactly zero (zero is one of the values), so it composes with prune before and quantize after. The artifact stays
// a stock float32 TF.js model: the gain shows in gzipBytes (few distinct values compress), and a uint8 quantize
// step after it stores each weight in one byte. Usable as a pipeline step.
import { AppError } from '../../errors.ts';
import { clusterModel, fineTuneCentroids, type ClusteredWeight } from '../../ml/compress/index.ts';
import type { tf } from '../../ml/tf.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { ClusterParams, clusterCount } from './cluster.params.ts';
import { compressionReport, measure } from './compression-report.ts';
import { disposeData, evalSetOf, loadData, trainingHooks, type SplitTensors } from './support.ts';

export interface ClusterOptions {
  clusters: number;
  /** Per kernel instead of `clusters` (see clusterModel). */
  clustersFor?: (size: number, total: number) => number;
  fineTuneEpochs: number;
  batchSize: number;
  learningRate: number;
  excludeLayers?: readonly string[];
  seed?: number;
}

/**
 * Clusters `model` in place and fine-tunes its centroids on `train` (progress over `progressRange` of the job).
 * Returns the clustered kernels: name and the distinct values each holds.
 */
export async function clusterAndTune(
  ctx: JobContext,
  model: tf.LayersModel,
  train: SplitTensors,
  opts: ClusterOptions,
  progressRange: [number, number] = [0.1, 0.85],
): Promise<{ name: string; clusters: number }[]> {
  const clustered: ClusteredWeight[] = clusterModel(model, {
    clusters: opts.clusters,
    clustersFor: opts.clustersFor,
    excludeLayers: opts.excludeLayers,
  });
  if (opts.fineTuneEpochs > 0) {
    const hooks = trainingHooks(ctx, { epochs: opts.fineTuneEpochs, stepsPerEpoch: Math.ceil(train.n / opts.batchSize), progressRange });
    const result = await fineTuneCentroids(
      model,
      clustered,
      train,
      {
        epochs: opts.fineTuneEpochs,
        batchSize: opts.batchSize,
        learningRate: opts.learningRate,
        seed: opts.seed,
        logEverySteps: hooks.logEverySteps,
      },
      hooks,
    );
    if (result.canceled) ctx.throwIfCanceled();
  }
  return clustered.map((c) => ({ name: c.name, clusters: c.centroids.length }));
}

export async function runCluster(ctx: JobContext, params: ClusterParams): Promise<JobResult> {
  const modelId = ctx.inputs.modelId!;
  const source = await ctx.models.get(modelId);
  const model = await ctx.models.load(modelId);
  try {
    const data = await loadData(ctx, ctx.inputs.datasetId!, { limit: params.limit, model });
    try {
      const evalSet = evalSetOf(ctx, data);
      const before = await measure(model, evalSet.data, evalSet.split);
      ctx.progress({ fraction: 0.1 });
      ctx.throwIfCanceled();
      const clusters = clusterCount(params);
      const kernels = await clusterAndTune(ctx, model, data.train, { ...params, clusters });
      ctx.throwIfCanceled();
      const after = await measure(model, evalSet.data, evalSet.split);
      const report = { ...compressionReport(before, after), clustering: { clusters, kernels } };
      ctx.progress({ fraction: 0.95 });
      const saved = await ctx.models.save(model, { name: `${source.name}-clustered${clusters}`, parentModelId: modelId, report: { ...report } });
      ctx.log(
        `clustered ${kernels.length} kernels of ${source.name} to ≤ ${clusters} values each: gzip ${before.m.gzipBytes} → ${after.m.gzipBytes} bytes, accuracy ${before.m.accuracy} → ${after.m.accuracy} (${evalSet.split})`,
      );
      ctx.progress({ fraction: 1 });
      return { resultModelIds: [saved.id], report };
    } finally {
      disposeData(data);
    }
  } finally {
    model.dispose();
  }
}

export const clusterKind: JobKind<typeof ClusterParams> = {
  type: 'cluster',
  paramsSchema: ClusterParams,
  requires: { model: true, dataset: true },
  trains: true,
  epochParams: ['fineTuneEpochs'],
  pipelineStep: { input: 'model' },
  validate(params, _inputs, _facts, field) {
    if (params.bits !== undefined && params.clusters !== undefined) {
      throw new AppError('INVALID_JOB_PARAMS', `${field}.clusters: give bits or clusters, not both`, { field: `${field}.clusters` });
    }
  },
  run: runCluster,
};

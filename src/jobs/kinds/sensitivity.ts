// `sensitivity`: per-layer pruning sensitivity (Han et al. 2015, Fig. 6; NNI's sensitivity analysis): each prunable
// kernel alone is pruned by magnitude to every sparsity of a grid and the model's accuracy measured (by default on the
// validation hold-out of the train split), then restored. Stored as metrics `sensitivity.<layer>` (step = sparsity in
// per mille, value = accuracy) for the job page's chart, and in the report with an optional per-layer allocation.
// Produces no model; as a pipeline step it reports and passes its input model on.
import { allocateSparsity, sensitivityScan, type Allocation, type SensitivityScan } from '../../ml/compress/index.ts';
import { evaluateModel } from '../../ml/evaluate.ts';
import type { tf } from '../../ml/tf.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { SensitivityParams } from './sensitivity.params.ts';
import { disposeSplits, fitToModel, loadEvalSplit, noTestSplit, yieldToEventLoop, type EvalSplitName, type SplitTensors } from './support.ts';

/** Step of a sensitivity metric point: the sparsity in per mille (0.95 → 950). */
export const sparsityStep = (s: number) => Math.round(s * 1000);

/** Accuracy of `model` on `data` (no latency runs). */
export async function accuracyOn(model: tf.LayersModel, data: SplitTensors): Promise<number> {
  const x = fitToModel(model, data.x);
  try {
    return (await evaluateModel(model, { x, y: data.y }, { latency: false })).accuracy;
  } finally {
    if (x !== data.x) x.dispose();
  }
}

/** Runs the scan with progress over `progressRange`, a yield and a cancellation check between measurements. */
export async function scanModel(
  ctx: JobContext,
  model: tf.LayersModel,
  data: SplitTensors,
  opts: { sparsities?: readonly number[]; layers?: readonly string[] },
  progressRange: [number, number] = [0.05, 0.95],
): Promise<SensitivityScan> {
  const [from, to] = progressRange;
  return sensitivityScan(model, (m) => accuracyOn(m, data), {
    ...opts,
    onProgress: async (done, total) => {
      ctx.progress({ fraction: from + ((to - from) * done) / total });
      await yieldToEventLoop();
      ctx.throwIfCanceled();
    },
  });
}

export interface SensitivityReport {
  split: EvalSplitName;
  examples: number;
  scan: SensitivityScan;
  allocation: Allocation | null;
}

export async function runSensitivity(ctx: JobContext, params: SensitivityParams): Promise<JobResult> {
  const model = await ctx.models.load(ctx.inputs.modelId!);
  let data: SplitTensors | null = null;
  try {
    const loaded = await loadEvalSplit(ctx, ctx.inputs.datasetId!, { limit: params.limit, model, split: params.split });
    data = loaded.data;
    const scan = await scanModel(ctx, model, data, { sparsities: params.sparsities, layers: params.layers });
    ctx.metrics(
      scan.layers.flatMap((l) => [
        { name: `sensitivity.${l.name}`, step: 0, value: scan.baseline },
        ...l.accuracy.map((value, i) => ({ name: `sensitivity.${l.name}`, step: sparsityStep(scan.sparsities[i]), value })),
      ]),
    );
    const allocation = params.targetSparsity === undefined ? null : allocateSparsity(scan, params.targetSparsity);
    for (const l of scan.layers) {
      ctx.log(
        `${l.name} (${l.params} weights): ${l.accuracy.map((a, i) => `${scan.sparsities[i]}→${a.toFixed(4)}`).join(', ')} (baseline ${scan.baseline.toFixed(4)}, ${loaded.split})`,
      );
    }
    const report: SensitivityReport = { split: loaded.split, examples: data.n, scan, allocation };
    ctx.progress({ fraction: 1 });
    return { resultModelIds: [], report: { ...report } };
  } finally {
    disposeSplits(data);
    model.dispose();
  }
}

export const sensitivityKind: JobKind<typeof SensitivityParams> = {
  type: 'sensitivity',
  paramsSchema: SensitivityParams,
  requires: { model: true, dataset: true },
  trains: false,
  pipelineStep: { input: 'model' },
  validate(params, _inputs, facts, field) {
    if (params.split === 'test' && facts.dataset && facts.dataset.testExamples === 0) throw noTestSplit(facts.dataset.name, field);
  },
  run: runSensitivity,
};

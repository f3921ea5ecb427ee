// `pipeline`: ordered steps (train | evaluate | prune | distill | quantize), each run by its own kind with the
// previous step's output model as input (a distill step takes it as the teacher). Every intermediate model is kept,
// with lineage (parentModelId = the step's input) and its step report; progress spans all steps; cancellation
// stops the pipeline at the running step's next batch (models of finished steps stay).
import { AppError } from '../../errors.ts';
import type { JobContext, JobInputs, JobKind, JobResult } from '../kind.ts';
import type { Measure } from './compression-report.ts';
import { PipelineParams } from './pipeline.params.ts';

export interface PipelineStepReport {
  type: string;
  /** The step's input model. */
  inputModelId: string;
  /** The model it produced (null for a step that produces none, e.g. evaluate). */
  modelId: string | null;
  report: Record<string, unknown> | null;
}

export interface PipelineReport {
  /** The first compression step's `before` and the last one's `after` (null when no step reports them). */
  before: Measure | null;
  after: Measure | null;
  layers: unknown[];
  steps: PipelineStepReport[];
}

function stepInputs(type: string, current: string, datasetId: string | null): JobInputs {
  return type === 'distill' ? { modelId: null, teacherModelId: current, datasetId } : { modelId: current, teacherModelId: null, datasetId };
}

/** The step's view of the job: its own inputs, progress mapped onto its slice, metrics and logs tagged with it. */
function stepContext(ctx: JobContext, index: number, count: number, type: string, inputs: JobInputs): JobContext {
  const tag = `step${index + 1}_${type}`;
  return {
    ...ctx,
    inputs,
    progress: (p) => ctx.progress({ fraction: (index + Math.min(1, Math.max(0, p.fraction))) / count, epoch: p.epoch, step: p.step }),
    metrics: (points) => ctx.metrics(points.map((m) => ({ ...m, name: `${tag}.${m.name}` }))),
    log: (message, level, data) => ctx.log(`[${tag}] ${message}`, level, data),
  };
}

const hasMeasures = (r: Record<string, unknown> | null): r is Record<string, unknown> & { before: Measure; after: Measure; layers: unknown[] } =>
  r !== null && typeof r.before === 'object' && typeof r.after === 'object';

export async function runPipeline(ctx: JobContext, params: PipelineParams): Promise<JobResult> {
  // Imported here, not at the top: the registry imports this module.
  const { getKind } = await import('../registry.ts');
  const steps: PipelineStepReport[] = [];
  const resultModelIds: string[] = [];
  let current = ctx.inputs.modelId!;
  for (const [i, step] of params.steps.entries()) {
    ctx.throwIfCanceled();
    const kind = getKind(step.type);
    if (!kind.run) throw new AppError('JOB_FAILED', `pipeline step ${i + 1}: job kind "${step.type}" is not implemented yet`);
    const inputs = stepInputs(step.type, current, ctx.inputs.datasetId);
    ctx.log(`step ${i + 1}/${params.steps.length}: ${step.type} of model ${current}`, 'info', { step: i + 1, type: step.type, modelId: current });
    const result = await kind.run(stepContext(ctx, i, params.steps.length, step.type, inputs), step.params);
    const produced = result.resultModelIds[0] ?? null;
    steps.push({ type: step.type, inputModelId: current, modelId: produced, report: result.report });
    if (produced) {
      resultModelIds.push(produced);
      current = produced;
    }
  }
  const measured = steps.map((s) => s.report).filter(hasMeasures);
  const report: PipelineReport = {
    before: measured[0]?.before ?? null,
    after: measured.at(-1)?.after ?? null,
    layers: measured.at(-1)?.layers ?? [],
    steps,
  };
  ctx.progress({ fraction: 1 });
  return { resultModelIds, report: { ...report } };
}

export const pipelineKind: JobKind<typeof PipelineParams> = {
  type: 'pipeline',
  paramsSchema: PipelineParams,
  requires: { model: true, dataset: true },
  /** Each step's own checks, with fields inside the step. */
  async validate(params, inputs, facts, field) {
    const { validateKind } = await import('../registry.ts');
    for (const [i, step] of params.steps.entries()) await validateKind(step.type, step.params, inputs, facts, `${field}.steps[${i}].params`);
  },
  run: runPipeline,
};

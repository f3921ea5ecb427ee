// `pipeline`: ordered steps (any kind that declares `pipelineStep`: train, evaluate, prune, distill, quantize, …),
// each run by its own kind with the previous step's output model as the input the step kind names (a distill step
// takes it as the teacher). Every intermediate model is kept, with lineage (parentModelId = the step's input) and its
// step report; progress spans all steps; cancellation stops the pipeline at the running step's next batch (models
// of finished steps stay). The registry builds this kind with a view of itself (KindLookup), so the pipeline knows
// no kind by name and imports no registry.
import type { JobContext, JobInputs, JobKind, JobResult, ResourceDemand, ResourceFacts, ValidationFacts } from '../kind.ts';
import type { Measure } from './compression-report.ts';
import { pipelineSummary, type PipelineSummary } from './pipeline-summary.ts';
import { pipelineParamsSchema, type PipelineParams, type PipelineParamsSchema } from './pipeline.params.ts';

/** What the pipeline needs of the registry: its step kinds and the registry's per-kind operations. */
export interface KindLookup {
  get(type: string): JobKind;
  /** The kinds that may be steps (`pipelineStep` declared), in registry order. */
  stepTypes(): string[];
  normalize(type: string, params: unknown, field: string): Record<string, unknown>;
  validate(type: string, params: Record<string, unknown>, inputs: JobInputs, facts: ValidationFacts, field: string): Promise<void>;
  demand(type: string, params: Record<string, unknown>, facts: ResourceFacts, field: string): ResourceDemand;
}

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
  /** Readable: the original model, then one row per step (model, accuracy, sizes), and totals original → final. */
  summary: PipelineSummary;
}

function stepInputs(kind: JobKind, current: string, datasetId: string | null): JobInputs {
  return kind.pipelineStep?.input === 'teacherModel'
    ? { modelId: null, teacherModelId: current, datasetId }
    : { modelId: current, teacherModelId: null, datasetId };
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

async function runPipeline(kinds: KindLookup, ctx: JobContext, params: PipelineParams): Promise<JobResult> {
  const steps: PipelineStepReport[] = [];
  const resultModelIds: string[] = [];
  let current = ctx.inputs.modelId!;
  for (const [i, step] of params.steps.entries()) {
    ctx.throwIfCanceled();
    const kind = kinds.get(step.type);
    const inputs = stepInputs(kind, current, ctx.inputs.datasetId);
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
    summary: pipelineSummary(ctx.inputs.modelId!, steps),
  };
  const { totals } = report.summary;
  if (totals.sizeRatio !== null) {
    ctx.log(
      `original → final: ${totals.sizeRatio.toFixed(1)}× smaller (fp32 raw → gzip; ${totals.gzipRatio!.toFixed(1)}× gzip → gzip), accuracy ${totals.accuracyChangePp === null ? 'n/a' : `${totals.accuracyChangePp >= 0 ? '+' : ''}${totals.accuracyChangePp.toFixed(2)} pp`}`,
    );
  }
  ctx.progress({ fraction: 1 });
  return { resultModelIds, report: { ...report } };
}

/** The pipeline kind over the registry's step kinds. Its params schema is built on first read (the step list is final then). */
export function createPipelineKind(kinds: KindLookup): JobKind<PipelineParamsSchema> {
  let schema: PipelineParamsSchema | undefined;
  return {
    type: 'pipeline',
    get paramsSchema() {
      return (schema ??= pipelineParamsSchema(kinds.stepTypes()));
    },
    requires: { model: true, dataset: true },
    trains: false,
    /** Each step's params with their kind's defaults, fields inside the step. */
    normalize(params, field) {
      return {
        ...params,
        steps: params.steps.map((s, i) => ({ ...s, params: kinds.normalize(s.type, s.params, `${field}.steps[${i}].params`) })),
      };
    },
    /** Each step's own checks, with fields inside the step. */
    async validate(params, inputs, facts, field) {
      for (const [i, step] of params.steps.entries()) await kinds.validate(step.type, step.params, inputs, facts, `${field}.steps[${i}].params`);
    },
    /** The largest step's memory (measured on the job's input model), every step's epochs. */
    estimate(params, facts, field) {
      const demands = params.steps.map((s, i) => kinds.demand(s.type, s.params, facts, `${field}.steps[${i}].params`));
      return { bytes: Math.max(0, ...demands.map((d) => d.bytes)), epochs: demands.flatMap((d) => d.epochs) };
    },
    run: (ctx, params) => runPipeline(kinds, ctx, params),
  };
}

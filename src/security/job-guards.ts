// Resource guards checked when a job is created, before any worker loads a model: epochs, model parameters and an
// estimate of the memory the job's tensors need. A job over a limit is rejected with 422 RESOURCE_LIMIT.
import type { JobLimitsConfig } from '../config.ts';
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';
import { normalizeParams } from '../jobs/registry.ts';
import { JobService, type JobServiceDeps } from '../jobs/service.ts';
import type { CreateJobInput } from '../schemas/job.ts';

/** float32 bytes held per model parameter: weights, gradients and two optimizer moments when training, weights only otherwise. */
const BYTES_PER_PARAM = { training: 16, inference: 8 } as const;
const TRAINING = new Set(['train', 'prune', 'distill']);

interface Step {
  type: string;
  params: Record<string, unknown>;
}

function stepsOf(type: string, params: Record<string, unknown>): Step[] {
  if (type !== 'pipeline') return [{ type, params }];
  return (params.steps as Step[]).map((s) => ({ type: s.type, params: s.params }));
}

export interface JobEstimate {
  modelParams: number;
  teacherParams: number;
  datasetBytes: number;
  bytes: number;
}

/** Memory a job needs at its peak (the largest step of a pipeline), from the stored model and dataset facts. */
export async function estimateJob(db: Db, input: CreateJobInput, steps: Step[]): Promise<JobEstimate> {
  const [model, teacher, dataset] = await Promise.all([
    input.modelId ? db.model.findUnique({ where: { id: input.modelId }, select: { params: true } }) : null,
    input.teacherModelId ? db.model.findUnique({ where: { id: input.teacherModelId }, select: { params: true } }) : null,
    input.datasetId ? db.dataset.findUnique({ where: { id: input.datasetId }, select: { examples: true, featureShape: true } }) : null,
  ]);
  const modelParams = Number(model?.params ?? 0);
  const teacherParams = Number(teacher?.params ?? 0);
  const features = Array.isArray(dataset?.featureShape) ? (dataset.featureShape as number[]).reduce((a, b) => a * Number(b), 1) : 0;
  // Datasets are loaded as float32 feature tensors plus one-hot labels (counted generously as 4 more floats per row).
  const datasetBytes = dataset ? dataset.examples * (features + 4) * 4 : 0;
  const perParam = steps.some((s) => TRAINING.has(s.type)) ? BYTES_PER_PARAM.training : BYTES_PER_PARAM.inference;
  const bytes = modelParams * perParam + teacherParams * 4 + datasetBytes;
  return { modelParams, teacherParams, datasetBytes, bytes };
}

export async function checkJobResources(db: Db, limits: JobLimitsConfig, input: CreateJobInput): Promise<void> {
  const params = normalizeParams(input.type, input.params ?? {});
  const steps = stepsOf(input.type, params);
  steps.forEach((s, i) => {
    for (const name of ['epochs', 'fineTuneEpochs']) {
      const v = s.params[name];
      if (typeof v === 'number' && v > limits.maxEpochs) {
        const field = input.type === 'pipeline' ? `params.steps[${i}].params.${name}` : `params.${name}`;
        throw new AppError('RESOURCE_LIMIT', `${field}: ${v} epochs exceed the limit of ${limits.maxEpochs}`, { field, limit: limits.maxEpochs });
      }
    }
  });
  const est = await estimateJob(db, input, steps);
  for (const [field, p] of [
    ['modelId', est.modelParams],
    ['teacherModelId', est.teacherParams],
  ] as const) {
    if (p > limits.maxParams) {
      throw new AppError('RESOURCE_LIMIT', `${field}: the model has ${p} parameters; jobs accept at most ${limits.maxParams}`, {
        field,
        params: p,
        limit: limits.maxParams,
      });
    }
  }
  if (est.bytes > limits.maxTensorBytes) {
    throw new AppError(
      'RESOURCE_LIMIT',
      `the job would need about ${Math.ceil(est.bytes / 1024 ** 2)} MiB of tensors; the limit is ${Math.floor(limits.maxTensorBytes / 1024 ** 2)} MiB`,
      {
        estimateBytes: est.bytes,
        limitBytes: limits.maxTensorBytes,
        modelParams: est.modelParams,
        datasetBytes: est.datasetBytes,
      },
    );
  }
}

/** JobService whose create() applies the resource guards first (REST and GraphQL both create jobs through it). */
export class GuardedJobService extends JobService {
  private readonly guardDb: Db;

  constructor(
    deps: JobServiceDeps,
    private readonly limits: JobLimitsConfig,
  ) {
    super(deps);
    this.guardDb = deps.db;
  }

  override async create(input: CreateJobInput, opts: { idempotencyKey?: string } = {}) {
    await checkJobResources(this.guardDb, this.limits, input);
    return super.create(input, opts);
  }
}

// Resource guards checked when a job is created, before any worker loads a model: epochs, model parameters and an
// estimate of the memory the job's tensors need. A job over a limit is rejected with 422 RESOURCE_LIMIT. What a job
// needs is its kind's to say (estimateDemand in the job-kind registry: whether it trains, its epoch params, or its
// own estimate); this module reads the stored facts of the inputs and compares with the limits. The runtime hands
// the guard to the JobService as its admission check, so REST and GraphQL creations both pass through it.
import type { JobLimitsConfig } from '../config.ts';
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';
import type { JobInputs, ResourceFacts } from '../jobs/kind.ts';
import { estimateDemand } from '../jobs/registry.ts';
import type { AdmitJob } from '../jobs/service.ts';

/** Parameter counts and dataset size of a job's inputs, from the stored rows (no tensors are read). */
async function resourceFacts(db: Db, inputs: JobInputs): Promise<ResourceFacts> {
  const [model, teacher, dataset] = await Promise.all([
    inputs.modelId ? db.model.findUnique({ where: { id: inputs.modelId }, select: { params: true } }) : null,
    inputs.teacherModelId ? db.model.findUnique({ where: { id: inputs.teacherModelId }, select: { params: true } }) : null,
    inputs.datasetId ? db.dataset.findUnique({ where: { id: inputs.datasetId }, select: { examples: true, featureShape: true } }) : null,
  ]);
  const features = Array.isArray(dataset?.featureShape) ? (dataset.featureShape as number[]).reduce((a, b) => a * Number(b), 1) : 0;
  return {
    modelParams: Number(model?.params ?? 0),
    teacherParams: Number(teacher?.params ?? 0),
    // Datasets are loaded as float32 feature tensors plus one-hot labels (counted generously as 4 more floats per row).
    datasetBytes: dataset ? dataset.examples * (features + 4) * 4 : 0,
  };
}

/** The admission check of new jobs against `limits`. */
export function jobResourceGuard(db: Db, limits: JobLimitsConfig): AdmitJob {
  return async ({ type, params, inputs }) => {
    const facts = await resourceFacts(db, inputs);
    const demand = estimateDemand(type, params, facts);
    for (const { field, value } of demand.epochs) {
      if (value > limits.maxEpochs) {
        throw new AppError('RESOURCE_LIMIT', `${field}: ${value} epochs exceed the limit of ${limits.maxEpochs}`, { field, limit: limits.maxEpochs });
      }
    }
    for (const [field, p] of [
      ['modelId', facts.modelParams],
      ['teacherModelId', facts.teacherParams],
    ] as const) {
      if (p > limits.maxParams) {
        throw new AppError('RESOURCE_LIMIT', `${field}: the model has ${p} parameters; jobs accept at most ${limits.maxParams}`, {
          field,
          params: p,
          limit: limits.maxParams,
        });
      }
    }
    if (demand.bytes > limits.maxTensorBytes) {
      throw new AppError(
        'RESOURCE_LIMIT',
        `the job would need about ${Math.ceil(demand.bytes / 1024 ** 2)} MiB of tensors; the limit is ${Math.floor(limits.maxTensorBytes / 1024 ** 2)} MiB`,
        {
          estimateBytes: demand.bytes,
          limitBytes: limits.maxTensorBytes,
          modelParams: facts.modelParams,
          datasetBytes: facts.datasetBytes,
        },
      );
    }
  };
}

// Resource guards checked when a job is created, before any worker loads a model: epochs, model parameters and an
// estimate of the memory the job's tensors need (weights, gradients, optimizer state, dataset, and activations:
// batch × every layer's output). A job over a limit is rejected with 422 RESOURCE_LIMIT. What a job needs is its
// kind's to say (estimateDemand in the job-kind registry); this module gathers the facts of its models and dataset:
// stored rows for uploaded and job-produced models, and for a model the job builds itself (a preset or layer spec,
// kind.builds) a shape-only build of it, so no architecture source escapes the params limit or the estimate. The
// runtime hands the guard to the JobService as its admission check, so REST and GraphQL creations both pass.
import type { JobLimitsConfig } from '../config.ts';
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';
import type { JobInputs, ResourceFacts } from '../jobs/kind.ts';
import { estimateDemand, getKind } from '../jobs/registry.ts';
import type { AdmitJob } from '../jobs/service.ts';
import { presetOf, validateArchitecture } from '../ml/architectures.ts';
import { profileArchitecture, profileOfLayers, type ModelProfile } from '../ml/model-profile.ts';

const NONE: ModelProfile = { params: 0, activationsPerExample: 0 };

async function storedProfile(db: Db, id: string | null): Promise<ModelProfile> {
  if (!id) return NONE;
  const row = await db.model.findUnique({ where: { id }, select: { params: true, layers: true } });
  if (!row) return NONE;
  return profileOfLayers(Array.isArray(row.layers) ? (row.layers as { params?: number; outputShape?: unknown }[]) : [], Number(row.params));
}

/** Facts of a job's models and dataset (no tensors are read), and the params field its model comes from. */
async function resourceFacts(
  db: Db,
  type: string,
  params: Record<string, unknown>,
  inputs: JobInputs,
): Promise<{ facts: ResourceFacts; modelField: string }> {
  const [stored, teacher, dataset] = await Promise.all([
    storedProfile(db, inputs.modelId),
    storedProfile(db, inputs.teacherModelId),
    inputs.datasetId
      ? db.dataset.findUnique({ where: { id: inputs.datasetId }, select: { examples: true, featureShape: true, numClasses: true } })
      : null,
  ]);
  const featureShape = Array.isArray(dataset?.featureShape) ? (dataset.featureShape as number[]).map(Number) : [];
  const features = featureShape.reduce((a, b) => a * b, 1);
  let model = stored;
  let modelField = 'modelId';
  const builds = getKind(type).builds?.(params, inputs) ?? null;
  if (builds === 'teacher') model = teacher;
  else if (builds && dataset) {
    // Checked here first so a bad spec is refused naming the params field (the shape-only build below would name
    // a generic "architecture.…" field).
    if (!presetOf(builds.architecture)) validateArchitecture(builds.architecture, builds.field);
    model = profileArchitecture(builds.architecture, featureShape, Math.max(2, dataset.numClasses));
    modelField = builds.field;
  }
  return {
    modelField,
    facts: {
      modelParams: model.params,
      teacherParams: teacher.params,
      modelActivations: model.activationsPerExample,
      teacherActivations: teacher.activationsPerExample,
      // Datasets are loaded as float32 feature tensors plus one-hot labels (counted generously as 4 more floats per row).
      datasetBytes: dataset ? dataset.examples * (features + 4) * 4 : 0,
    },
  };
}

/** The admission check of new jobs against `limits`. */
export function jobResourceGuard(db: Db, limits: JobLimitsConfig): AdmitJob {
  return async ({ type, params, inputs }) => {
    const { facts, modelField } = await resourceFacts(db, type, params, inputs);
    const demand = estimateDemand(type, params, facts);
    for (const { field, value } of demand.epochs) {
      if (value > limits.maxEpochs) {
        throw new AppError('RESOURCE_LIMIT', `${field}: ${value} epochs exceed the limit of ${limits.maxEpochs}`, { field, limit: limits.maxEpochs });
      }
    }
    for (const [field, p] of [
      [modelField, facts.modelParams],
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
          activationsPerExample: facts.modelActivations,
          datasetBytes: facts.datasetBytes,
        },
      );
    }
  };
}

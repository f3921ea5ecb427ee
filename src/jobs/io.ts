// The model and dataset I/O a job run receives (JobContext.models / .datasets), over the domain services and the
// object store: the one place where job kinds meet storage. Built by the worker for each run, and by tests.
// Also the one place where dataset tensors become model inputs: opened for a model, a dataset's splits come
// preprocessed as that model declares (scale/offset, per-channel mean/std, NHWC → NCHW for channels-first models).
import { AppError } from '../errors.ts';
import { ALL_PROJECTS } from '../domain/projects.ts';
import type { DatasetService } from '../domain/datasets/service.ts';
import type { ModelService } from '../domain/models/service.ts';
import { loadSplit, type SplitTensors } from '../ml/dataset.ts';
import { loadArtifactsFromStore, loadModelFromArtifacts, modelArtifactsToFiles, modelToFiles } from '../ml/model-io.ts';
import { tf } from '../ml/tf.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { resolvePreprocessing, type AppliedPreprocessing } from '../schemas/preprocessing.ts';
import type { ModelDto } from '../schemas/model.ts';
import type { DatasetIO, ModelIO } from './kind.ts';

export interface JobIODeps {
  models: ModelService;
  datasets: DatasetService;
  store: ObjectStore;
}

/** [h, w, c] examples for a model taking [c, h, w] (declared NCHW): the permutation to apply, else null. */
function needsChannelsFirst(model: ModelDto, featureShape: number[], layout: AppliedPreprocessing['layout']): boolean {
  const input = model.inputShape.slice(1);
  if (layout !== 'NCHW' || input.length !== 3 || featureShape.length !== 3) return false;
  const [h, w, c] = featureShape;
  const same = input[0] === h && input[1] === w && input[2] === c;
  return !same && input[0] === c && input[1] === h && input[2] === w;
}

function toChannelsFirst(split: SplitTensors): SplitTensors {
  const x = tf.transpose(split.x, [0, 3, 1, 2]);
  split.x.dispose();
  return { ...split, x };
}

/**
 * Model and dataset I/O for job `jobId` (models it saves are recorded as produced by it). It reads across projects
 * (ALL_PROJECTS): the job's inputs were checked in its project when it was created, and the models it saves go to
 * the job's project (ModelService looks it up), so the worker never deals with keys or projects. `preprocessing()`
 * is what the last dataset opened for a model was fed with (jobs report it; results store it in their report).
 */
export function jobIO(deps: JobIODeps, jobId: string): { models: ModelIO; datasets: DatasetIO; preprocessing: () => AppliedPreprocessing | null } {
  const { models, datasets, store } = deps;
  let applied: AppliedPreprocessing | null = null;
  const loadArtifacts = async (id: string) => loadArtifactsFromStore(store, await models.storedFiles(ALL_PROJECTS, id));
  return {
    models: {
      get: (id) => models.get(ALL_PROJECTS, id),
      loadArtifacts,
      load: async (id) => loadModelFromArtifacts(await loadArtifacts(id)),
      async save(model, opts) {
        const files = model instanceof tf.LayersModel ? await modelToFiles(model) : modelArtifactsToFiles(model);
        return models.createFromFiles(files, {
          name: opts.name,
          producedByJobId: jobId,
          parentModelId: opts.parentModelId ?? null,
          report: opts.report && applied && !('preprocessing' in opts.report) ? { ...opts.report, preprocessing: applied } : (opts.report ?? null),
        });
      },
    },
    datasets: {
      get: (id) => datasets.get(ALL_PROJECTS, id),
      async open(id, openOpts = {}) {
        const keys = await datasets.tensorKeys(ALL_PROJECTS, id);
        const { dataset } = keys;
        const model = openOpts.modelId ? await models.get(ALL_PROJECTS, openOpts.modelId) : null;
        const pre = resolvePreprocessing(model?.preprocessing ?? null, dataset.normalization ?? { scale: 1, offset: 0 });
        const channelsFirst = model !== null && needsChannelsFirst(model, dataset.featureShape, pre.layout);
        if (model) applied = pre;
        const base = {
          normalization: { scale: pre.scale, offset: pre.offset },
          channels: pre.mean && pre.std ? { mean: pre.mean, std: pre.std } : null,
          numClasses: dataset.numClasses,
        };
        return {
          dataset,
          hasTest: keys.test !== undefined,
          preprocessing: pre,
          async load(split, opts = {}) {
            const splitKeys = split === 'train' ? keys.train : keys.test;
            if (!splitKeys) throw new AppError('INVALID_DATASET', `dataset ${dataset.name} has no ${split} split`);
            const data = await loadSplit(store, splitKeys, { ...base, limit: opts.limit });
            return channelsFirst ? toChannelsFirst(data) : data;
          },
        };
      },
    },
    preprocessing: () => applied,
  };
}

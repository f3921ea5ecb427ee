// The model and dataset I/O a job run receives (JobContext.models / .datasets), over the domain services and the
// object store: the one place where job kinds meet storage. Built by the worker for each run, and by tests.
import { AppError } from '../errors.ts';
import type { DatasetService } from '../domain/datasets/service.ts';
import type { ModelService } from '../domain/models/service.ts';
import { loadSplit } from '../ml/dataset.ts';
import { loadArtifactsFromStore, loadModelFromArtifacts, modelArtifactsToFiles, modelToFiles } from '../ml/model-io.ts';
import { tf } from '../ml/tf.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { DatasetIO, ModelIO } from './kind.ts';

export interface JobIODeps {
  models: ModelService;
  datasets: DatasetService;
  store: ObjectStore;
}

/** Model and dataset I/O for job `jobId` (models it saves are recorded as produced by it). */
export function jobIO(deps: JobIODeps, jobId: string): { models: ModelIO; datasets: DatasetIO } {
  const { models, datasets, store } = deps;
  const loadArtifacts = async (id: string) => loadArtifactsFromStore(store, await models.storedFiles(id));
  return {
    models: {
      get: (id) => models.get(id),
      loadArtifacts,
      load: async (id) => loadModelFromArtifacts(await loadArtifacts(id)),
      async save(model, opts) {
        const files = model instanceof tf.LayersModel ? await modelToFiles(model) : modelArtifactsToFiles(model);
        return models.createFromFiles(files, {
          name: opts.name,
          producedByJobId: jobId,
          parentModelId: opts.parentModelId ?? null,
          report: opts.report ?? null,
        });
      },
    },
    datasets: {
      get: (id) => datasets.get(id),
      async open(id) {
        const keys = await datasets.tensorKeys(id);
        const { dataset } = keys;
        const base = { normalization: dataset.normalization ?? { scale: 1, offset: 0 }, numClasses: dataset.numClasses };
        return {
          dataset,
          hasTest: keys.test !== undefined,
          async load(split, opts = {}) {
            const splitKeys = split === 'train' ? keys.train : keys.test;
            if (!splitKeys) throw new AppError('INVALID_DATASET', `dataset ${dataset.name} has no ${split} split`);
            return loadSplit(store, splitKeys, { ...base, limit: opts.limit });
          },
        };
      },
    },
  };
}

// `train`: trains a model built from an architecture (preset or spec) for the dataset's shape, or continues an
// uploaded model (job.modelId), then scores it on the test split when the dataset has one and stores it as a new
// model produced by this job.
import { AppError } from '../../errors.ts';
import { buildModel, presetOf, TEXT_PRESETS, validateArchitecture, type Architecture } from '../../ml/architectures.ts';
import { evaluateModel } from '../../ml/evaluate.ts';
import type { tf } from '../../ml/tf.ts';
import type { JobKind } from '../kind.ts';
import { disposeData, historySummary, loadData, runTraining, vocabularyOf } from './support.ts';
import { TrainParams } from './train.params.ts';

/** tfjs's momentum optimizer is built with this coefficient by the training loop. */
const MOMENTUM = 0.9;

export const trainKind: JobKind<typeof TrainParams> = {
  type: 'train',
  paramsSchema: TrainParams,
  requires: { dataset: true },
  trains: true,
  epochParams: ['epochs'],
  pipelineStep: { input: 'model' },
  builds: (params, inputs) =>
    inputs.modelId ? null : { architecture: (params.architecture ?? 'lenet-300-100') as Architecture, field: 'params.architecture' },
  validate(params) {
    const fail = (field: string, message: string) => new AppError('INVALID_JOB_PARAMS', `${field}: ${message}`, { field });
    if (typeof params.architecture === 'object' && 'layers' in params.architecture) validateArchitecture(params.architecture, 'params.architecture');
    if (params.earlyStopping?.metric.startsWith('val_') && params.validationSplit === 0) {
      throw fail('params.earlyStopping.metric', `${params.earlyStopping.metric} needs validationSplit > 0`);
    }
    if (params.momentum !== undefined && (params.optimizer !== 'momentum' || params.momentum !== MOMENTUM)) {
      throw fail('params.momentum', `only optimizer "momentum" takes it, and only ${MOMENTUM} is supported`);
    }
  },
  async run(ctx, params) {
    const datasetId = ctx.inputs.datasetId!;
    const parentModelId = ctx.inputs.modelId;
    // validate() checked a spec's layers in detail.
    const architecture = (params.architecture ?? 'lenet-300-100') as Architecture;
    let model: tf.LayersModel;
    let name: string;
    const dataset = await ctx.datasets.get(datasetId);
    if (parentModelId) {
      name = `${(await ctx.models.get(parentModelId)).name}-trained`;
      model = await ctx.models.load(parentModelId);
    } else {
      const preset = presetOf(architecture);
      name = `${dataset.name}-${preset?.preset ?? 'custom'}-trained`;
      // Text presets size their embedding from the largest token id in the data (a given vocabSize is checked against it).
      const vocabSize = preset && TEXT_PRESETS.has(preset.preset) ? await vocabularyOf(ctx, datasetId, preset.vocabSize) : undefined;
      model = buildModel(architecture, dataset.featureShape, dataset.numClasses, { seed: params.seed, vocabSize });
    }
    try {
      ctx.progress({ fraction: 0, epoch: 0, step: 0 });
      const data = await loadData(ctx, datasetId, { limit: params.limit, model });
      try {
        ctx.throwIfCanceled();
        ctx.log(`training on ${data.train.n} examples of ${dataset.name} (${ctx.backend})`, 'info', { examples: data.train.n, backend: ctx.backend });
        const result = await runTraining(
          ctx,
          model,
          data.train,
          {
            epochs: params.epochs,
            batchSize: params.batchSize,
            optimizer: params.optimizer,
            learningRate: params.learningRate,
            decay: params.learningRateDecay,
            validationSplit: params.validationSplit,
            earlyStopping: params.earlyStopping,
            seed: params.seed,
          },
          { metricsEverySteps: params.metricsEverySteps, progressRange: [0, data.test ? 0.95 : 1] },
        );
        const test = data.test ? await evaluateModel(model, data.test) : null;
        ctx.throwIfCanceled();
        const report = {
          backend: ctx.backend,
          datasetId,
          architecture: parentModelId ? null : architecture,
          params: model.countParams(),
          trainExamples: data.train.n - Math.round(data.train.n * params.validationSplit),
          validationExamples: Math.round(data.train.n * params.validationSplit),
          ...historySummary(result),
          test: test && data.test ? { accuracy: test.accuracy, loss: test.loss, examples: data.test.n } : null,
        };
        const saved = await ctx.models.save(model, { name, parentModelId, report });
        ctx.progress({ fraction: 1, epoch: result.epochsRun, step: result.steps, etaSeconds: 0 });
        return { resultModelIds: [saved.id], report };
      } finally {
        disposeData(data);
      }
    } finally {
      model.dispose();
    }
  },
};

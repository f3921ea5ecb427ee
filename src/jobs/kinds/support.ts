// Shared by every ML job kind (train, evaluate, prune, distill, quantize, pipeline): dataset splits as tensors (read
// through the job's DatasetIO), input compatibility, the "M" measure of a model, and training hooks that report
// progress, metrics and cancellation the same way for every training-like kind.
import { AppError } from '../../errors.ts';
import { recalibrateBatchNorm } from '../../ml/bn-recalibrate.ts';
import { takeRows, type SplitTensors } from '../../ml/dataset.ts';
import { evaluateModel, type LatencyStats } from '../../ml/evaluate.ts';
import { holdOut } from '../../ml/holdout.ts';
import { loadModelFromArtifacts } from '../../ml/model-io.ts';
import { fitToModel, modelInputShape } from '../../ml/model-input.ts';
import { modelStats, type LayerStats, type SizeFigures } from '../../ml/model-stats.ts';
import { tokenVocabulary } from '../../ml/presets.ts';
import { tf } from '../../ml/tf.ts';
import { trainModel, type EpochLog, type TrainHooks, type TrainOptions, type TrainResult } from '../../ml/train.ts';
import type { DatasetDto } from '../../schemas/dataset.ts';
import type { AppliedPreprocessing } from '../../schemas/preprocessing.ts';
import type { JobContext } from '../kind.ts';

export type { SplitTensors };
export { fitToModel, modelInputShape };

export interface LoadedData {
  dataset: DatasetDto;
  train: SplitTensors;
  /** null when the dataset has no test split. */
  test: SplitTensors | null;
}

const isArtifacts = (m: tf.LayersModel | tf.io.ModelArtifacts): m is tf.io.ModelArtifacts => !(m instanceof tf.LayersModel);
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The model whose declared preprocessing the job's dataset tensors follow: its model, else its teacher. */
export const inputModelId = (ctx: JobContext): string | null => ctx.inputs.modelId ?? ctx.inputs.teacherModelId ?? null;

/** Disposes every split's tensors (null/undefined entries are skipped). */
export function disposeSplits(...splits: (SplitTensors | null | undefined)[]): void {
  for (const s of splits) if (s) tf.dispose([s.x, s.y]);
}

/** Disposes the data of loadData. */
export function disposeData(data: LoadedData): void {
  disposeSplits(data.train, data.test);
}

/**
 * Checks the model takes the dataset's examples (same shape, or the same element count: flat ↔ [h, w, c]) and
 * outputs one score per class. Returns the per-example shape the dataset's x must be reshaped to, or null when
 * it fits as is. Throws INCOMPATIBLE_INPUTS.
 */
export function assertCompatible(model: tf.LayersModel, dataset: Pick<DatasetDto, 'featureShape' | 'numClasses' | 'name'>): number[] | null {
  const input = modelInputShape(model);
  const feature = dataset.featureShape;
  const outputs = model.outputs[0].shape;
  const classes = outputs[outputs.length - 1];
  if (input.some((d) => d < 1) || count(input) !== count(feature)) {
    throw new AppError('INCOMPATIBLE_INPUTS', `model input shape [${input}] does not fit dataset ${dataset.name}'s examples of shape [${feature}]`, {
      modelInputShape: input,
      featureShape: feature,
    });
  }
  if (outputs.length !== 2 || classes !== dataset.numClasses) {
    throw new AppError('INCOMPATIBLE_INPUTS', `model outputs [${outputs.slice(1)}] but dataset ${dataset.name} has ${dataset.numClasses} classes`, {
      modelOutputShape: outputs.slice(1),
      numClasses: dataset.numClasses,
    });
  }
  const same = input.length === feature.length && input.every((d, i) => d === feature[i]);
  return same ? null : input;
}

/** Reshapes a split's x in place to [n, ...shape] (the old tensor is disposed). */
function reshapeSplit(split: SplitTensors, shape: number[]): void {
  const old = split.x;
  split.x = tf.reshape(old, [split.n, ...shape]);
  old.dispose();
}

export interface LoadDataOptions {
  /** First N training examples only. */
  limit?: number;
  /** First N test examples only. */
  testLimit?: number;
  /** Skip the test split (e.g. a train-only step). */
  skipTest?: boolean;
  /** Check compatibility with this model and reshape x to its input shape when needed. */
  model?: tf.LayersModel;
}

/**
 * Loads a dataset's train split (and test split when it has one) as float32 x (normalized) and one-hot y.
 * With `model`, throws INCOMPATIBLE_INPUTS before reading any tensors when they do not fit, and reshapes x to the
 * model's input shape (e.g. MNIST [28,28,1] for an MLP taking [784]). Caller disposes (disposeData).
 */
export async function loadData(ctx: JobContext, datasetId: string, opts: LoadDataOptions = {}): Promise<LoadedData> {
  const source = await ctx.datasets.open(datasetId, { modelId: inputModelId(ctx) });
  const { dataset } = source;
  const target = opts.model ? assertCompatible(opts.model, dataset) : null;
  const train = await source.load('train', { limit: opts.limit });
  let test: SplitTensors | null = null;
  try {
    if (source.hasTest && !opts.skipTest) test = await source.load('test', { limit: opts.testLimit });
    if (target) {
      reshapeSplit(train, target);
      if (test) reshapeSplit(test, target);
    }
  } catch (e) {
    disposeSplits(train, test);
    throw e;
  }
  return { dataset, train, test };
}

export type EvalSplitName = 'test' | 'train' | 'validation';

/**
 * The split to measure a model on: `split` when given ('validation' = the train split's seeded hold-out, see
 * src/ml/holdout.ts), else the test split, or the train split when the dataset has none (only the rows needed are
 * kept). Checks compatibility and reshapes like loadData. Throws INVALID_JOB_PARAMS for split 'test' on a dataset
 * without one. Caller disposes `data`.
 */
export async function loadEvalSplit(
  ctx: JobContext,
  datasetId: string,
  opts: { limit?: number; model?: tf.LayersModel; split?: EvalSplitName } = {},
): Promise<{ dataset: DatasetDto; split: EvalSplitName; data: SplitTensors; preprocessing: AppliedPreprocessing }> {
  const source = await ctx.datasets.open(datasetId, { modelId: inputModelId(ctx) });
  const { dataset } = source;
  const target = opts.model ? assertCompatible(opts.model, dataset) : null;
  const split = opts.split ?? (source.hasTest ? 'test' : 'train');
  if (split === 'test' && !source.hasTest) throw noTestSplit(dataset.name);
  let data: SplitTensors;
  if (split === 'validation') {
    const all = await source.load('train');
    try {
      data = takeSplitRows(all, holdOut(all.n).validation.subarray(0, opts.limit));
    } finally {
      disposeSplits(all);
    }
  } else {
    data = await source.load(split, { limit: opts.limit });
  }
  if (target) reshapeSplit(data, target);
  return { dataset, split, data, preprocessing: source.preprocessing };
}

/** INVALID_JOB_PARAMS for a job that would score a dataset without a test split without saying which split. */
export function noTestSplit(datasetName: string, field = 'params'): AppError {
  return new AppError(
    'INVALID_JOB_PARAMS',
    `${field}.split: dataset ${datasetName} has no test split; pass split: "train" or "validation" explicitly (the accuracy is then reported as such)`,
    { field: `${field}.split` },
  );
}

/** The given rows of a split as a new split (the source stays the caller's). */
export function takeSplitRows(split: SplitTensors, rows: Int32Array): SplitTensors {
  return { x: takeRows(split.x, rows), y: takeRows(split.y, rows), labels: Int32Array.from(rows, (r) => split.labels[r]), n: rows.length };
}

/** What a compression job measures on: the test split, else the train split (named, with a warning in the log). */
export function evalSetOf(ctx: JobContext, data: LoadedData): { split: EvalSplitName; data: SplitTensors } {
  if (data.test) return { split: 'test', data: data.test };
  ctx.log(`dataset ${data.dataset.name} has no test split: accuracy is measured on the train split`, 'warn');
  return { split: 'train', data: data.train };
}

/** The "M" of a compression report (issue 5), plus loss and the per-layer figures. */
export interface ModelMeasure extends SizeFigures {
  accuracy: number;
  loss: number;
  latencyMs: { batch1: LatencyStats; batch256: LatencyStats };
  layers: Pick<LayerStats, 'name' | 'params' | 'nonzeroParams' | 'sparsity' | 'flops'>[];
}

export interface MeasureOptions {
  /** Skip the latency runs (then latencyMs holds zeros). */
  latency?: boolean;
  batchSize?: number;
}

/** Accuracy/loss on `data`, size and sparsity figures, latency p50/p95 at batch 1 and 256. No tensors left behind. */
export async function measureModel(
  input: tf.LayersModel | tf.io.ModelArtifacts,
  data: SplitTensors,
  opts: MeasureOptions = {},
): Promise<ModelMeasure> {
  const model = isArtifacts(input) ? await loadModelFromArtifacts(input) : input;
  try {
    const x = fitToModel(model, data.x);
    try {
      const ev = await evaluateModel(model, { x, y: data.y }, { latency: opts.latency ?? true, batchSize: opts.batchSize });
      const stats = await modelStats(input);
      const zero = { p50: 0, p95: 0 };
      return {
        accuracy: ev.accuracy,
        loss: ev.loss,
        params: stats.params,
        nonzeroParams: stats.nonzeroParams,
        sizeBytes: stats.sizeBytes,
        gzipBytes: stats.gzipBytes,
        flops: stats.flops,
        latencyMs: ev.latencyMs ?? { batch1: zero, batch256: zero },
        layers: stats.layers.map(({ name, params, nonzeroParams, sparsity, flops }) => ({ name, params, nonzeroParams, sparsity, flops })),
      };
    } finally {
      if (x !== data.x) x.dispose();
    }
  } finally {
    if (model !== input) model.dispose();
  }
}

/**
 * Lets timers and I/O run (heartbeats, cancel notifications, progress writes, HTTP in an in-process worker).
 * A tfjs loop only awaits already-resolved promises (microtasks), so without this it starves the event loop.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface TrainingHooksOptions {
  /** Optimizer steps in one epoch: ceil(trainingExamples / batchSize). */
  stepsPerEpoch: number;
  epochs: number;
  /** Step-level loss metric every N steps (default 10). */
  metricsEverySteps?: number;
  /** Prefix of every metric name (e.g. "baseline_" for a second training run in the same job). */
  metricPrefix?: string;
  /** Maps this run's 0..1 onto a slice of the job's progress (default [0, 1]). */
  progressRange?: [number, number];
  /** Chained after the progress counting (pruning re-applies its masks here). */
  afterBatch?: TrainHooks['afterBatch'];
  /** Called after the epoch metrics are recorded. */
  onEpoch?: TrainHooks['onEpoch'];
}

/** runTraining's options beyond the hooks. */
export interface RunTrainingOptions extends Omit<TrainingHooksOptions, 'stepsPerEpoch' | 'epochs'> {
  /**
   * Recompute BatchNormalization moving statistics from the final weights after training (default true; see
   * recalibrateBatchNormOf). False where the caller changes the weights afterwards and recalibrates itself.
   */
  recalibrateBatchNorm?: boolean;
}

/**
 * Recomputes the BatchNormalization moving statistics of `model` over training rows (src/ml/bn-recalibrate.ts) and
 * logs it; a no-op for models without BatchNormalization. The moving averages lag the weights by ~1/(1 − momentum)
 * steps, which after short training costs accuracy (resnet-20, 94 steps on MNIST: 89.50% test with the moving
 * statistics, 94.20% recalibrated), and after structured or magnitude pruning they describe the weights before it.
 */
export function recalibrateBatchNormOf(ctx: JobContext, model: tf.LayersModel, x: tf.Tensor, rows?: number): void {
  const started = performance.now();
  const r = recalibrateBatchNorm(model, x, { rows });
  if (r.layers > 0) {
    ctx.log(`recalibrated BatchNormalization statistics of ${r.layers} layers over ${r.examples} training examples`, 'info', {
      ...r,
      ms: Math.round(performance.now() - started),
    });
  }
}

/**
 * trainModel hooks that report the same way for every training-like kind: progress (fraction, epoch, step, ETA)
 * after every batch, a `loss` metric every N steps, per epoch loss / accuracy / val_loss / val_accuracy / lr /
 * samples_per_sec; before every batch a yield to the event loop and a stop once the job is canceled (trainModel
 * then resolves with canceled: true — call ctx.throwIfCanceled() after it, or use runTraining which does).
 */
export function trainingHooks(ctx: JobContext, opts: TrainingHooksOptions): TrainHooks & { logEverySteps: number } {
  const prefix = opts.metricPrefix ?? '';
  const [from, to] = opts.progressRange ?? [0, 1];
  const totalSteps = Math.max(1, opts.stepsPerEpoch * opts.epochs);
  const every = opts.metricsEverySteps ?? 10;
  const started = performance.now();
  let step = 0;
  return {
    logEverySteps: every,
    async shouldStop() {
      await yieldToEventLoop();
      return ctx.signal.aborted;
    },
    onBatch() {
      step++;
      const done = Math.min(1, step / totalSteps);
      const elapsed = (performance.now() - started) / 1000;
      ctx.progress({
        fraction: from + (to - from) * done,
        epoch: Math.min(opts.epochs, Math.floor((step - 1) / Math.max(1, opts.stepsPerEpoch)) + 1),
        step,
        etaSeconds: (elapsed / step) * (totalSteps - step),
      });
    },
    // Only where the kind edits weights between batches (pruning's masks): a hook here keeps training off the
    // WebGPU program, which holds the weights on the GPU until the epoch's end.
    ...(opts.afterBatch ? { afterBatch: opts.afterBatch } : {}),
    onStep(s) {
      ctx.metrics([{ name: `${prefix}loss`, step: s.step, epoch: s.epoch + 1, value: s.loss }]);
    },
    async onEpoch(e: EpochLog) {
      const epoch = e.epoch + 1;
      const values: [string, number | undefined][] = [
        ['epoch_loss', e.loss],
        ['accuracy', e.accuracy],
        ['val_loss', e.val_loss],
        ['val_accuracy', e.val_accuracy],
        ['lr', e.lr],
        ['samples_per_sec', e.samplesPerSec],
      ];
      ctx.metrics(
        values
          .filter((v): v is [string, number] => v[1] !== undefined && Number.isFinite(v[1]))
          .map(([name, value]) => ({ name: prefix + name, step, epoch, value })),
      );
      ctx.log(
        `epoch ${epoch}/${opts.epochs}: loss ${e.loss.toFixed(4)}, accuracy ${e.accuracy.toFixed(4)}${e.val_accuracy === undefined ? '' : `, val_accuracy ${e.val_accuracy.toFixed(4)}`}`,
        'info',
        { ...e, epoch },
      );
      await opts.onEpoch?.(e);
    },
  };
}

/**
 * trainModel with trainingHooks, then BatchNormalization statistics recalibrated over the training rows (unless
 * `recalibrateBatchNorm: false`); throws JOB_CANCELED when the job was canceled (the model keeps whatever it
 * learned so far; the caller still owns and disposes it).
 */
export async function runTraining(
  ctx: JobContext,
  model: tf.LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  opts: Omit<TrainOptions, 'logEverySteps'>,
  { recalibrateBatchNorm = true, ...hookOpts }: RunTrainingOptions = {},
): Promise<TrainResult> {
  const n = data.x.shape[0];
  const trainN = n - Math.round(n * opts.validationSplit);
  const hooks = trainingHooks(ctx, { ...hookOpts, epochs: opts.epochs, stepsPerEpoch: Math.ceil(trainN / opts.batchSize) });
  const threads = opts.threads ?? ctx.trainThreads;
  const calibrateThreads = opts.threads === undefined && ctx.trainThreadsAuto === true;
  const result = await trainModel(model, data, { ...opts, threads, calibrateThreads, logEverySteps: hooks.logEverySteps }, hooks);
  if (result.canceled) ctx.throwIfCanceled();
  if (result.threadCalibration) {
    const { msPerRow, kept } = result.threadCalibration;
    const tried = Object.entries(msPerRow)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([k, ms]) => `${k} thread${k === '1' ? '' : 's'} ${(ms * 1000).toFixed(1)} µs/row`);
    ctx.log(`data-parallel threads (up to ${threads}): ${tried.join(', ')} over the first steps: kept ${kept}`, 'info', {
      ...result.threadCalibration,
      threads,
    });
  }
  if (recalibrateBatchNorm) recalibrateBatchNormOf(ctx, model, data.x, trainN);
  return result;
}

/** History summary for reports: final epoch's figures and per-epoch curves. */
export function historySummary(result: TrainResult): Record<string, unknown> {
  const last = result.history[result.history.length - 1];
  return {
    epochsRun: result.epochsRun,
    steps: result.steps,
    stoppedEarly: result.stoppedEarly,
    bestEpoch: result.bestEpoch === undefined ? null : result.bestEpoch + 1,
    durationMs: Math.round(result.durationMs),
    final: last
      ? { loss: last.loss, accuracy: last.accuracy, val_loss: last.val_loss ?? null, val_accuracy: last.val_accuracy ?? null, lr: last.lr }
      : null,
    samplesPerSec: last ? last.samplesPerSec : null,
    history: result.history.map((h) => ({ ...h, epoch: h.epoch + 1 })),
  };
}

/**
 * Vocabulary size of a text preset over a token dataset (tokenVocabulary): the largest id over the whole train split
 * and the test split — every row any job may feed the model, whatever `limit` this job trains on — + 1, or `given`
 * checked against it. Refuses a dataset the jobs feed scaled (uint8 features are read as 0-1 image bytes), where
 * the embedding would see fractions of the ids. One split in memory at a time.
 */
export async function vocabularyOf(ctx: JobContext, datasetId: string, given?: number, field?: string): Promise<number> {
  const source = await ctx.datasets.open(datasetId);
  const { scale, offset } = source.preprocessing;
  if (scale !== 1 || offset !== 0)
    throw new AppError(
      'INCOMPATIBLE_INPUTS',
      `a text preset needs the token ids unscaled, but jobs feed dataset ${source.dataset.name} as x × ${scale} + ${offset} (uint8 features are read as image bytes): upload the ids as int32 or float32 NPY`,
    );
  let max = -Infinity;
  for (const name of source.hasTest ? (['train', 'test'] as const) : (['train'] as const)) {
    const split = await source.load(name);
    try {
      const top = split.x.max();
      max = Math.max(max, (await top.data())[0]);
      top.dispose();
    } finally {
      disposeSplits(split);
    }
  }
  return tokenVocabulary(max, given, field);
}

// The training loop: optimizer steps over seeded, shuffled mini-batches with a softmax cross-entropy that matches
// the model's head (logits or probabilities), per-epoch lr decay, validation, early stopping and cooperative
// cancellation. The steps run in this thread (src/ml/train-step.ts) or, with `threads` > 1 on the wasm backend,
// data-parallel over replica threads (src/ml/parallel/): same options, hooks and results either way.
import { AppError } from '../errors.ts';
import { batches, seededShuffle, takeRows, trainValSplit } from './dataset.ts';
import { FusedAdamOptimizer } from './fused-adam.ts';
import { correctCount, crossEntropy, defaultLoss, outputsProbabilities, type LossFactoryRef, type LossFn } from './loss.ts';
import { ParallelStepper } from './parallel/leader.ts';
import { effectiveThreads } from './parallel/threads.ts';
import { tf } from './tf.ts';
import { compileTrainProgram, type TrainProgram } from './train-program.ts';
import { GpuStepper } from './webgpu/gpu-stepper.ts';
import { LocalStepper, trainableVariables, type StepOutcome, type Stepper } from './train-step.ts';

export { correctCount, crossEntropy, outputsProbabilities, type LossFactoryRef, type LossFn };
export type OptimizerName = 'sgd' | 'momentum' | 'adam';
export type MonitoredMetric = 'val_loss' | 'val_accuracy' | 'loss' | 'accuracy';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** Per-epoch decay: lr = learningRate / (1 + decay * epoch). */
  decay?: number;
  /** Per-epoch cosine annealing (Loshchilov & Hutter 2017): lr × ½(1 + cos(π·epoch/epochs)), after `decay`. */
  cosine?: boolean;
  /** Fraction of the examples held out (seeded) for val_loss / val_accuracy; 0 for none. */
  validationSplit: number;
  earlyStopping?: { metric: MonitoredMetric; patience: number; minDelta?: number };
  /** Seeds the validation split and each epoch's shuffle (weight initialisation is not seeded). */
  seed?: number;
  /** onStep is called every this many steps (default 10). */
  logEverySteps?: number;
  lossFn?: LossFn;
  /**
   * Threads for data-parallel training (default 1). Used on the wasm backend only, at most one per
   * MIN_SLICE_ROWS rows of a batch; a custom lossFn needs `replicaLoss` to be rebuilt in the replicas (without
   * it training stays on one thread). TrainResult.threads says what was used.
   */
  threads?: number;
  /**
   * `threads` is an upper bound, not a request: the first steps are measured on one thread and on `threads`, and
   * the training keeps the faster (src/ml/parallel/thread-calibration.ts). What MODELPRESS_TRAIN_THREADS' default does.
   */
  calibrateThreads?: boolean;
  /** lossFn as the replica threads rebuild it (see LossFactoryRef). */
  replicaLoss?: LossFactoryRef;
  /** Modules replica threads import before building the model (e.g. ones registering custom layers). */
  replicaModules?: string[];
}

export interface StepInfo {
  step: number;
  epoch: number;
  loss: number;
}

export interface EpochLog {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  lr: number;
  samplesPerSec: number;
}

export interface TrainHooks {
  onStep?(s: StepInfo): void | Promise<void>;
  onEpoch?(e: EpochLog): void | Promise<void>;
  /** Checked before every batch; once true, training stops and resolves with canceled: true. */
  shouldStop?(): boolean | Promise<boolean>;
  /** Runs after every optimizer step (pruning re-applies its masks here): it may change the model's weights. */
  afterBatch?(model: tf.LayersModel): void;
  /**
   * Runs after every optimizer step and only observes (progress): unlike afterBatch it leaves the weights where the
   * stepper keeps them (the WebGPU program trains its own copy and hands them back at the epoch's end).
   */
  onBatch?(): void;
}

export interface TrainResult {
  history: EpochLog[];
  epochsRun: number;
  steps: number;
  stoppedEarly: boolean;
  canceled: boolean;
  /** Epoch (0-based) with the best monitored metric when early stopping was on. */
  bestEpoch?: number;
  durationMs: number;
  /** The threads that computed the steps (1: single-threaded; with calibrateThreads, what it kept). */
  threads: number;
  /** With calibrateThreads: the measured median ms per row of each way, and which was kept (absent: not decided). */
  threadCalibration?: {
    /** Median ms per row on all the threads / on one. */
    parallelMsPerRow: number;
    localMsPerRow: number;
    /** Median ms per row of every thread count tried (1, 2, 4, …, all). */
    msPerRow: Record<number, number>;
    kept: number;
  };
}

export function createOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  switch (name) {
    case 'sgd':
      return tf.train.sgd(learningRate);
    case 'momentum':
      return tf.train.momentum(learningRate, 0.9);
    case 'adam':
      // tf.train.adam's defaults (beta1 0.9, beta2 0.999, the backend's epsilon); one fused kernel per variable on wasm.
      return new FusedAdamOptimizer(learningRate, 0.9, 0.999);
  }
}

/** Changes an optimizer's learning rate in place (sgd/momentum keep it as a scalar tensor, adam as a number). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Frees an optimizer's state; tfjs's MomentumOptimizer.dispose forgets its inherited learning-rate scalar. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

function validateOptions(opts: TrainOptions, n: number): void {
  const fail = (field: string, msg: string) => new AppError('INVALID_JOB_PARAMS', `${field} ${msg}`, { field });
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw fail('epochs', 'must be a positive integer');
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw fail('batchSize', 'must be a positive integer');
  if (!(opts.learningRate > 0)) throw fail('learningRate', 'must be > 0');
  if (opts.decay !== undefined && !(opts.decay >= 0)) throw fail('decay', 'must be >= 0');
  if (!(opts.validationSplit >= 0 && opts.validationSplit < 1)) throw fail('validationSplit', 'must be in [0, 1)');
  const es = opts.earlyStopping;
  if (es) {
    if (!Number.isInteger(es.patience) || es.patience < 0) throw fail('earlyStopping.patience', 'must be a non-negative integer');
    if (es.metric.startsWith('val_') && opts.validationSplit === 0) throw fail('earlyStopping.metric', `${es.metric} needs validationSplit > 0`);
  }
  if (n < 1) throw new AppError('INVALID_DATASET', 'no training examples');
  if (Math.round(n * opts.validationSplit) >= n) throw fail('validationSplit', 'leaves no training examples');
}

/** Running sums of a step's outcomes: plain numbers, or device scalars where they stay on a GPU. */
class Totals {
  private lossT: tf.Scalar | null = null;
  private correctT: tf.Scalar | null = null;
  private loss = 0;
  private correct = 0;
  rows = 0;

  add(o: StepOutcome): void {
    this.rows += o.rows;
    if (o.onDevice) return; // the stepper's takeTotals() has them
    if (typeof o.loss === 'number') this.loss += o.loss * o.rows;
    else this.lossT = this.accumulate(this.lossT, tf.mul(o.loss, o.rows));
    if (typeof o.correct === 'number') this.correct += o.correct;
    else this.correctT = this.accumulate(this.correctT, o.correct);
  }

  private accumulate(sum: tf.Scalar | null, value: tf.Scalar): tf.Scalar {
    if (!sum) return value;
    const next = tf.add<tf.Scalar>(sum, value);
    tf.dispose([sum, value]);
    return next;
  }

  /** Total loss (sum of rows × mean loss) and correct predictions; frees the device sums. */
  async read(): Promise<{ loss: number; correct: number }> {
    const [l, c] = await Promise.all([this.lossT?.data(), this.correctT?.data()]);
    tf.dispose([this.lossT, this.correctT].filter((t): t is tf.Scalar => t !== null));
    this.lossT = this.correctT = null;
    return { loss: this.loss + (l?.[0] ?? 0), correct: this.correct + (c?.[0] ?? 0) };
  }
}

/** Mean loss and accuracy over (x, y) in batches, inference mode, no tensors left behind. */
export async function lossAndAccuracy(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize: number,
  lossFn: LossFn,
): Promise<{ loss: number; accuracy: number }> {
  const totals = new Totals();
  for (const b of batches(x, y, batchSize)) {
    const [loss, correct] = tf.tidy(() => {
      const pred = model.apply(b.x, { training: false }) as tf.Tensor;
      return [lossFn(b.y, pred, b.x), correctCount(b.y, pred)];
    });
    totals.add({ loss, correct, rows: b.size });
    tf.dispose([loss, b.x, b.y]);
  }
  const { loss, correct } = await totals.read();
  const n = x.shape[0];
  return { loss: loss / n, accuracy: correct / n };
}

const improved = (metric: MonitoredMetric, value: number, best: number, minDelta: number) =>
  metric.endsWith('loss') ? value < best - minDelta : value > best + minDelta;

/** The stepper for these options: data-parallel when threads > 1 is allowed here, else this thread. */
async function createStepper(
  model: tf.LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  opts: TrainOptions,
  optimizer: tf.Optimizer,
  lossFn: LossFn,
  program: TrainProgram | null,
  editsWeights: boolean,
): Promise<Stepper> {
  const inputs = { model, data, optimizer, lossFn, vars: trainableVariables(model), program };
  // On WebGPU the compiled step is a GPU program; a hook that edits weights between batches needs them in the model.
  if (tf.getBackend() === 'webgpu' && !opts.lossFn && !editsWeights) {
    const gpu = await GpuStepper.create(inputs, opts.batchSize);
    if (gpu) return gpu;
  }
  const threads = effectiveThreads(opts.threads ?? 1, opts.batchSize);
  // A closure cannot cross threads: a custom loss without its factory trains here.
  if (threads < 2 || (opts.lossFn && !opts.replicaLoss) || data.x.dtype !== 'float32') return new LocalStepper(inputs);
  return ParallelStepper.start(inputs, {
    threads,
    batchSize: opts.batchSize,
    loss: opts.replicaLoss ?? null,
    modules: opts.replicaModules,
    calibrate: opts.calibrateThreads,
  });
}

/**
 * Trains `model` in place on one-hot data {x, y}. Resolves with the history; a shouldStop() that turns true makes
 * it stop before the next batch and resolve with canceled: true (the caller decides whether that is an error).
 */
export async function trainModel(
  model: tf.LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  opts: TrainOptions,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const started = performance.now();
  const n = data.x.shape[0];
  validateOptions(opts, n);
  const seed = opts.seed ?? 0;
  const logEvery = Math.max(1, opts.logEverySteps ?? 10);
  const lossFn: LossFn = opts.lossFn ?? defaultLoss(model);
  const optimizer = createOptimizer(opts.optimizer, opts.learningRate);
  const { train, val } = trainValSplit(n, opts.validationSplit, seed);
  const xVal = val.length > 0 ? takeRows(data.x, val) : null;
  const yVal = val.length > 0 ? takeRows(data.y, val) : null;
  const history: EpochLog[] = [];
  const es = opts.earlyStopping;
  let best = es?.metric.endsWith('loss') ? Infinity : -Infinity;
  let bestEpoch: number | undefined;
  let sinceBest = 0;
  let step = 0;
  let canceled = false;
  let stoppedEarly = false;
  let stepper: Stepper | null = null;
  let program: TrainProgram | null = null;

  try {
    // The compiled step covers the default loss only (a custom lossFn is a closure it cannot see into).
    if (!opts.lossFn && data.x.dtype === 'float32' && data.y.rank === 2)
      program = compileTrainProgram(model, trainableVariables(model), data.y.shape[1]!);
    stepper = await createStepper(model, data, opts, optimizer, lossFn, program, hooks.afterBatch !== undefined);
    for (let epoch = 0; epoch < opts.epochs && !canceled && !stoppedEarly; epoch++) {
      const lr = (opts.learningRate / (1 + (opts.decay ?? 0) * epoch)) * (opts.cosine ? 0.5 * (1 + Math.cos((Math.PI * epoch) / opts.epochs)) : 1);
      setLearningRate(optimizer, lr);
      const perm = seededShuffle(train.length, seed + 1 + epoch);
      const order = Int32Array.from(perm, (i) => train[i]);
      const epochStart = performance.now();
      const totals = new Totals();
      for (let start = 0; start < order.length; start += opts.batchSize) {
        if (hooks.shouldStop && (await hooks.shouldStop())) {
          canceled = true;
          break;
        }
        const outcome = await stepper.step(order.subarray(start, Math.min(order.length, start + opts.batchSize)));
        hooks.afterBatch?.(model);
        hooks.onBatch?.();
        step++;
        if (hooks.onStep && step % logEvery === 0) {
          const loss = outcome.onDevice
            ? await stepper.lastLoss!()
            : typeof outcome.loss === 'number'
              ? outcome.loss
              : (await outcome.loss.data())[0];
          await hooks.onStep({ step, epoch, loss });
        }
        totals.add(outcome);
      }
      const read = await totals.read();
      const device = (await stepper.takeTotals?.()) ?? { loss: 0, correct: 0 };
      const lossTotal = read.loss + device.loss;
      const correctTotal = read.correct + device.correct;
      const seen = totals.rows;
      await stepper.sync?.();
      if (canceled || seen === 0) break;
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const log: EpochLog = { epoch, loss: lossTotal / seen, accuracy: correctTotal / seen, lr, samplesPerSec: seen / trainSeconds };
      if (xVal && yVal) {
        const v = await lossAndAccuracy(model, xVal, yVal, Math.max(opts.batchSize, 256), lossFn);
        log.val_loss = v.loss;
        log.val_accuracy = v.accuracy;
      }
      history.push(log);
      await hooks.onEpoch?.(log);
      if (es) {
        const value = log[es.metric] as number;
        if (improved(es.metric, value, best, es.minDelta ?? 0)) {
          best = value;
          bestEpoch = epoch;
          sinceBest = 0;
        } else if (++sinceBest > es.patience) {
          stoppedEarly = true;
        }
      }
    }
  } finally {
    await stepper?.close();
    program?.dispose();
    tf.dispose([xVal, yVal].filter((t): t is tf.Tensor => t !== null));
    disposeOptimizer(optimizer);
  }
  const threads = stepper instanceof ParallelStepper ? stepper.threadsUsed() : 1;
  const calibration = stepper instanceof ParallelStepper ? stepper.calibration : null;
  const result: TrainResult = {
    history,
    epochsRun: history.length,
    steps: step,
    stoppedEarly,
    canceled,
    bestEpoch,
    durationMs: performance.now() - started,
    threads,
  };
  if (calibration?.decided) {
    const m = calibration.medians();
    result.threadCalibration = { parallelMsPerRow: m[calibration.threads], localMsPerRow: m[1], msPerRow: m, kept: threads };
  }
  return result;
}

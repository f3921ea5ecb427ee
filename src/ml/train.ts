// The training loop: optimizer.minimize over shuffled mini-batches with a softmax cross-entropy that matches the
// model's head (logits or probabilities), running loss/accuracy kept on the device and read back only at log
// points and epoch ends, per-epoch lr decay, early stopping and cooperative cancellation.
import { AppError } from '../errors.ts';
import { batches, seededShuffle, takeRows, trainValSplit } from './dataset.ts';
import { FusedAdamOptimizer } from './fused-adam.ts';
import { tf } from './tf.ts';

export type OptimizerName = 'sgd' | 'momentum' | 'adam';
export type MonitoredMetric = 'val_loss' | 'val_accuracy' | 'loss' | 'accuracy';
/** A replacement loss (e.g. distillation); yPred is what the model outputs (logits or probabilities). */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor, xBatch: tf.Tensor) => tf.Scalar;

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** Per-epoch decay: lr = learningRate / (1 + decay * epoch). */
  decay?: number;
  /** Fraction of the examples held out (seeded) for val_loss / val_accuracy; 0 for none. */
  validationSplit: number;
  earlyStopping?: { metric: MonitoredMetric; patience: number; minDelta?: number };
  /** Seeds the validation split and each epoch's shuffle (weight initialisation is not seeded). */
  seed?: number;
  /** onStep is called every this many steps (default 10). */
  logEverySteps?: number;
  lossFn?: LossFn;
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
  /** Runs after every optimizer step (pruning re-applies its masks here). */
  afterBatch?(model: tf.LayersModel): void;
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

/** True when the model's last layer ends in softmax (it outputs probabilities, not logits). */
export function outputsProbabilities(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig() as { activation?: string };
  return config.activation === 'softmax' || last.getClassName() === 'Softmax';
}

const EPSILON = 1e-7;

/** Mean softmax cross-entropy of one-hot `yTrue` against logits or probabilities. */
export function crossEntropy(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  return tf.tidy(() => {
    if (fromLogits) return tf.losses.softmaxCrossEntropy(yTrue, yPred) as tf.Scalar;
    const logP = tf.log(tf.clipByValue(yPred, EPSILON, 1 - EPSILON));
    return tf.neg(tf.mean(tf.sum(tf.mul(yTrue, logP), -1))) as tf.Scalar;
  });
}

/** Number of rows whose arg-max prediction equals the one-hot label (as a scalar tensor). */
export function correctCount(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(yPred, -1), tf.argMax(yTrue, -1)), 'float32')));
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

/** Mean loss and accuracy over (x, y) in batches, inference mode, no tensors left behind. */
export async function lossAndAccuracy(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize: number,
  lossFn: LossFn,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  for (const b of batches(x, y, batchSize)) {
    const [nextLoss, nextCorrect] = tf.tidy(() => {
      const pred = model.apply(b.x, { training: false }) as tf.Tensor;
      return [tf.add(lossSum, tf.mul(lossFn(b.y, pred, b.x), b.size)), tf.add(correct, correctCount(b.y, pred))];
    });
    tf.dispose([lossSum, correct, b.x, b.y]);
    lossSum = nextLoss;
    correct = nextCorrect;
  }
  const n = x.shape[0];
  const [l, c] = await Promise.all([lossSum.data(), correct.data()]);
  tf.dispose([lossSum, correct]);
  return { loss: l[0] / n, accuracy: c[0] / n };
}

const improved = (metric: MonitoredMetric, value: number, best: number, minDelta: number) =>
  metric.endsWith('loss') ? value < best - minDelta : value > best + minDelta;

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
  const fromLogits = !outputsProbabilities(model);
  const lossFn: LossFn = opts.lossFn ?? ((yTrue, yPred) => crossEntropy(yTrue, yPred, fromLogits));
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

  try {
    for (let epoch = 0; epoch < opts.epochs && !canceled && !stoppedEarly; epoch++) {
      const lr = opts.learningRate / (1 + (opts.decay ?? 0) * epoch);
      setLearningRate(optimizer, lr);
      const perm = seededShuffle(train.length, seed + 1 + epoch);
      const order = Int32Array.from(perm, (i) => train[i]);
      const epochStart = performance.now();
      // Running sums stay on the device: no read-back per step.
      let lossSum = tf.scalar(0);
      let correct = tf.scalar(0);
      let seen = 0;
      for (const batch of batches(data.x, data.y, opts.batchSize, order)) {
        if (hooks.shouldStop && (await hooks.shouldStop())) {
          tf.dispose([batch.x, batch.y]);
          canceled = true;
          break;
        }
        let pred: tf.Tensor | undefined;
        const cost = optimizer.minimize(() => {
          const out = model.apply(batch.x, { training: true }) as tf.Tensor;
          pred = tf.keep(out);
          return lossFn(batch.y, out, batch.x);
        }, true) as tf.Scalar;
        hooks.afterBatch?.(model);
        const [nextLoss, nextCorrect] = tf.tidy(() => [tf.add(lossSum, tf.mul(cost, batch.size)), tf.add(correct, correctCount(batch.y, pred!))]);
        tf.dispose([lossSum, correct, pred!, batch.x, batch.y]);
        lossSum = nextLoss;
        correct = nextCorrect;
        seen += batch.size;
        step++;
        if (hooks.onStep && step % logEvery === 0) await hooks.onStep({ step, epoch, loss: (await cost.data())[0] });
        cost.dispose();
      }
      const [lossTotal, correctTotal] = await Promise.all([lossSum.data(), correct.data()]);
      tf.dispose([lossSum, correct]);
      if (canceled || seen === 0) break;
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const log: EpochLog = { epoch, loss: lossTotal[0] / seen, accuracy: correctTotal[0] / seen, lr, samplesPerSec: seen / trainSeconds };
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
    tf.dispose([xVal, yVal].filter((t): t is tf.Tensor => t !== null));
    disposeOptimizer(optimizer);
  }
  return { history, epochsRun: history.length, steps: step, stoppedEarly, canceled, bestEpoch, durationMs: performance.now() - started };
}

// Training losses shared by the training loop, evaluation and the data-parallel replicas: softmax cross-entropy
// that matches the model's head (logits or probabilities), and how a replica thread rebuilds a custom loss.
import { dataOnHost, hostFloats } from './host-data.ts';
import { tf } from './tf.ts';

/** A replacement loss (e.g. distillation); yPred is what the model outputs (logits or probabilities). */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor, xBatch: tf.Tensor) => tf.Scalar;

/**
 * A loss that another thread can rebuild: `module` (a file URL, e.g. import.meta.url) exports a function `name`
 * that takes `args` (structured-cloneable: numbers, strings, ArrayBuffers, ModelArtifacts, …) and returns the
 * LossFn (or a promise of it). Data-parallel training rebuilds custom losses this way in every replica thread.
 */
export interface LossFactoryRef {
  module: string;
  name: string;
  args: unknown;
}

export type LossFactory = (args: never) => LossFn | Promise<LossFn>;

/** Imports a LossFactoryRef's module and builds its loss in this thread. */
export async function buildLoss(ref: LossFactoryRef): Promise<LossFn> {
  const mod = (await import(ref.module)) as Record<string, unknown>;
  const factory = mod[ref.name];
  if (typeof factory !== 'function') throw new Error(`${ref.module} does not export a loss factory named ${ref.name}`);
  return (factory as (args: unknown) => LossFn | Promise<LossFn>)(ref.args);
}

/** True when the model's last layer ends in softmax (it outputs probabilities, not logits). */
export function outputsProbabilities(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig() as { activation?: string };
  return config.activation === 'softmax' || last.getClassName() === 'Softmax';
}

const EPSILON = 1e-7;

/**
 * Mean softmax cross-entropy of one-hot `yTrue` against logits or probabilities. Where tensor data lives on the host
 * (wasm, cpu) and both are [rows, classes] float32: one JS pass per row computes the loss and both gradients, and
 * the op is a tf.customGrad (one tensor op forward, one multiply per input backward, instead of ~18 tf ops);
 * elsewhere (GPU backends) the tf ops below. Same values and gradients either way (test/unit/ml-train-program.test.ts).
 */
export function crossEntropy(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  const fusable =
    dataOnHost() &&
    yPred.rank === 2 &&
    yTrue.rank === 2 &&
    yPred.dtype === 'float32' &&
    yTrue.dtype === 'float32' &&
    yTrue.shape[0] === yPred.shape[0] &&
    yTrue.shape[1] === yPred.shape[1];
  if (fusable) return (fromLogits ? fusedFromLogits : fusedFromProbabilities)(yTrue, yPred);
  return crossEntropyOps(yTrue, yPred, fromLogits);
}

/** crossEntropy as tf ops (any backend; the reference of the fused host version). */
export function crossEntropyOps(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  return tf.tidy(() => {
    if (fromLogits) return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(yTrue, yPred);
    const logP = tf.log(tf.clipByValue(yPred, EPSILON, 1 - EPSILON));
    return tf.neg(tf.mean<tf.Scalar>(tf.sum(tf.mul(yTrue, logP), -1)));
  });
}

/**
 * Loss and gradients of the mean cross-entropy on host arrays, in float64 per row. From logits (as
 * tf.losses.softmaxCrossEntropy): −Σ y·(z − lse), d/dz = (softmax z − y)/B, d/dy = −(z − lse)/B. From probabilities
 * (as the clipped-log tf ops): −Σ y·log(clip p), d/dp = −y/(clip p)/B where ε ≤ p ≤ 1 − ε (else 0, as clipByValue's
 * gradient), d/dy = −log(clip p)/B.
 */
function hostCrossEntropy(
  y: Float32Array,
  pred: Float32Array,
  rows: number,
  classes: number,
  fromLogits: boolean,
  dPred: Float32Array,
  dY: Float32Array,
): number {
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    if (fromLogits) {
      let max = -Infinity;
      for (let c = 0; c < classes; c++) if (pred[base + c] > max) max = pred[base + c];
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(pred[base + c] - max);
      const lse = max + Math.log(sum);
      for (let c = 0; c < classes; c++) {
        const logP = pred[base + c] - lse;
        const yc = y[base + c];
        if (yc !== 0) loss -= yc * logP;
        dPred[base + c] = (Math.exp(logP) - yc) / rows;
        dY[base + c] = -logP / rows;
      }
    } else {
      for (let c = 0; c < classes; c++) {
        const p = pred[base + c];
        const clipped = Math.min(Math.max(p, EPSILON), 1 - EPSILON);
        const logP = Math.log(clipped);
        const yc = y[base + c];
        if (yc !== 0) loss -= yc * logP;
        dPred[base + c] = p >= EPSILON && p <= 1 - EPSILON ? -yc / clipped / rows : 0;
        dY[base + c] = -logP / rows;
      }
    }
  }
  return loss / rows;
}

function fusedCrossEntropy(fromLogits: boolean) {
  // customGrad's typings pass the inputs and the save function as one rest parameter.
  const forward = (yTrue: tf.Tensor, yPred: tf.Tensor, save: tf.GradSaveFunc) => {
    const [rows, classes] = yPred.shape as [number, number];
    const dPred = new Float32Array(rows * classes);
    const dY = new Float32Array(rows * classes);
    // Host views are read before anything is allocated (a heap growth would detach them).
    const loss = hostCrossEntropy(hostFloats(yTrue), hostFloats(yPred), rows, classes, fromLogits, dPred, dY);
    save([tf.tensor2d(dY, [rows, classes]), tf.tensor2d(dPred, [rows, classes])]);
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(saved[0], dy), tf.mul(saved[1], dy)],
    };
  };
  type Fn = Parameters<typeof tf.customGrad<tf.Scalar>>[0];
  return tf.customGrad<tf.Scalar>(forward as unknown as Fn);
}

const fusedFromLogits = fusedCrossEntropy(true);
const fusedFromProbabilities = fusedCrossEntropy(false);

/** The default training loss of `model`: cross-entropy against its head. */
export function defaultLoss(model: tf.LayersModel): LossFn {
  const fromLogits = !outputsProbabilities(model);
  return (yTrue, yPred) => crossEntropy(yTrue, yPred, fromLogits);
}

/**
 * Number of rows whose arg-max prediction equals the one-hot label (as a scalar tensor). A `yTrue` wider than
 * `yPred` carries extra columns after the labels (see countCorrect); only its first columns are the labels.
 */
export function correctCount(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = yPred.shape[yPred.rank - 1];
    const labels = yTrue.shape[yTrue.rank - 1] > classes ? tf.slice(yTrue, [0, 0], [-1, classes]) : yTrue;
    return tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(yPred, -1), tf.argMax(labels, -1)), 'float32'));
  });
}

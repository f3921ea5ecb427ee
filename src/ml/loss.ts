// Training losses shared by the training loop, evaluation and the data-parallel replicas: softmax cross-entropy
// that matches the model's head (logits or probabilities), and how a replica thread rebuilds a custom loss.
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

/** Mean softmax cross-entropy of one-hot `yTrue` against logits or probabilities. */
export function crossEntropy(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  return tf.tidy(() => {
    if (fromLogits) return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(yTrue, yPred);
    const logP = tf.log(tf.clipByValue(yPred, EPSILON, 1 - EPSILON));
    return tf.neg(tf.mean<tf.Scalar>(tf.sum(tf.mul(yTrue, logP), -1)));
  });
}

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

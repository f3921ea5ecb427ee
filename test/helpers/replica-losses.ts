// Loss factories for the data-parallel training tests: replica threads import this module by URL and build the
// loss from plain arguments (see LossFactoryRef in src/ml/loss.ts).
import { crossEntropy, type LossFn } from '../../src/ml/loss.ts';
import { tf } from '../../src/ml/tf.ts';

/** Cross-entropy on probabilities times `scale` (a custom loss whose effect on the weights is visible). */
export function scaledCrossEntropy(args: { scale: number }): LossFn {
  return (yTrue, yPred) => tf.tidy(() => tf.mul<tf.Scalar>(crossEntropy(yTrue, yPred, false), args.scale));
}

/** A factory that cannot build its loss (a replica's setup failure). */
export function brokenLoss(args: { message: string }): LossFn {
  throw new Error(args.message);
}

// A model's per-example input shape, and fitting a batch to it (flat ↔ [h, w, c] by element count). Used by job
// kinds and by losses that run a second model on the batch (distillation's teacher), also in replica threads.
import { AppError } from '../errors.ts';
import { tf } from './tf.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Per-example input shape of a model (no batch axis); null dims (other than batch) become -1. */
export function modelInputShape(model: tf.LayersModel): number[] {
  return model.inputs[0].shape.slice(1).map((d) => d ?? -1);
}

/** `x` reshaped to the model's input shape when it holds the same elements per example; throws INCOMPATIBLE_INPUTS. */
export function fitToModel(model: tf.LayersModel, x: tf.Tensor): tf.Tensor {
  const input = modelInputShape(model);
  const have = x.shape.slice(1);
  if (input.length === have.length && input.every((d, i) => d === have[i])) return x;
  if (count(input) !== count(have)) {
    throw new AppError('INCOMPATIBLE_INPUTS', `model input shape [${input}] does not fit examples of shape [${have}]`);
  }
  return tf.reshape(x, [x.shape[0], ...input]);
}

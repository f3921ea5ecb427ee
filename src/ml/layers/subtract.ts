// Keras's Subtract merge layer (x0 - x1), which tfjs-layers 4.22 does not have: models using it (Keras imports,
// graph specs) would not deserialize. Built on tfjs's own Merge base class (broadcasting, masks, shapes), reached
// through Add's prototype because tfjs does not export it.
import { tf } from '../tf.ts';

type MergeClass = new (args?: object) => tf.layers.Layer & { mergeFunction(inputs: tf.Tensor[]): tf.Tensor };
const Merge = Object.getPrototypeOf(tf.layers.add().constructor) as MergeClass;

export class Subtract extends Merge {
  static className = 'Subtract';

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error(`A Subtract layer takes exactly 2 inputs, got ${Array.isArray(inputShape[0]) ? inputShape.length : 1}`);
    }
    super.build(inputShape);
  }

  override mergeFunction(inputs: tf.Tensor[]): tf.Tensor {
    return tf.sub(inputs[0], inputs[1]);
  }
}
tf.serialization.registerClass(Subtract as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

export function subtract(args: { name?: string } = {}): Subtract {
  return new Subtract(args);
}

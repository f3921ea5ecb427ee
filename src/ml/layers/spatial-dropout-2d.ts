// Keras's SpatialDropout2D (drops whole feature maps, channels-last), which tfjs-layers 4.22 does not have: the
// stock Dropout with a noise shape of [batch, 1, 1, channels], as tfjs's own SpatialDropout1D does for sequences.
import { tf } from '../tf.ts';

type DropoutClass = new (args: { rate: number; name?: string; seed?: number }) => tf.layers.Layer & { getNoiseShape(input: tf.Tensor): number[] };
const Dropout = tf.layers.dropout({ rate: 0.5 }).constructor as DropoutClass;

export class SpatialDropout2D extends Dropout {
  static className = 'SpatialDropout2D';

  constructor(args: { rate: number; name?: string; seed?: number; dataFormat?: string }) {
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast') throw new Error('SpatialDropout2D supports channelsLast only');
    super(args);
    this.inputSpec = [{ ndim: 4 }];
  }

  override getNoiseShape(input: tf.Tensor): number[] {
    const [batch, , , channels] = input.shape as number[];
    return [batch, 1, 1, channels];
  }
}
tf.serialization.registerClass(SpatialDropout2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

export function spatialDropout2d(args: { rate: number; name?: string; seed?: number }): SpatialDropout2D {
  return new SpatialDropout2D(args);
}

// Building tfjs-layers models from shapes alone: while `build` runs, Layer.addWeight is swapped for a stand-in that
// records each weight's name, shape and trainability and allocates nothing, so no initializer runs (an Orthogonal
// LSTM kernel took 38 s) and no buffer exists (a Dense 30000×30000 would be 3.6 GB). Parameter counts and output
// shapes of the built model are exact. The swap is safe in a process that also trains as long as `build` is
// synchronous (modelFromJSON without weights, tf.sequential().add): the original is back before anything else runs.
import * as tf from '@tensorflow/tfjs';

type AddWeight = (this: ShapeOnlyLayer, name: string, shape: number[], dtype?: string, ...rest: unknown[]) => unknown;
interface ShapeOnlyLayer {
  name: string;
  _addedWeightNames: string[];
  _trainableWeights: unknown[];
  _nonTrainableWeights: unknown[];
}

/** The prototype that defines addWeight (tfjs-layers' Layer), found from a layer instance. */
function layerPrototype(): { addWeight: AddWeight } {
  let p = Object.getPrototypeOf(tf.layers.activation({ activation: 'linear' })) as object | null;
  while (p && !Object.prototype.hasOwnProperty.call(p, 'addWeight')) p = Object.getPrototypeOf(p) as object | null;
  if (!p) throw new Error('tfjs-layers Layer.addWeight not found');
  return p as { addWeight: AddWeight };
}

/** Stand-in for Layer.addWeight: records name, shape and trainability like a LayerVariable, allocates nothing. */
const shapeOnlyAddWeight: AddWeight = function (name, shape, dtype, _initializer, _regularizer, trainable) {
  if (this._addedWeightNames.includes(name)) throw new Error(`Duplicate weight name ${name} for layer ${this.name}`);
  this._addedWeightNames.push(name);
  // Names are not scoped as tfjs would (its name-scope stack is private): only shapes are compared to the manifest.
  const weight = {
    name: `${this.name}/${name}`,
    originalName: `${this.name}/${name}`,
    shape,
    dtype: dtype ?? 'float32',
    trainable: trainable !== false,
    read: () => {
      throw new Error('shape-only weight');
    },
    write: () => {
      throw new Error('shape-only weight');
    },
    dispose: () => {},
  };
  if (trainable !== false) this._trainableWeights.push(weight);
  else this._nonTrainableWeights.push(weight);
  return weight;
};

/** Runs a synchronous model build with shape-only weights (the model must not be run or trained). */
export function withShapeOnlyWeights<T>(build: () => T): T {
  const proto = layerPrototype();
  const original = proto.addWeight;
  proto.addWeight = shapeOnlyAddWeight;
  try {
    return build();
  } finally {
    proto.addWeight = original;
  }
}

// Layer summary of an uploaded model, computed by tfjs-layers itself from the topology (so shapes and
// parameter counts are exactly what tfjs will build). Weights are not loaded; the model is disposed at once.
import * as tf from '@tensorflow/tfjs';
import { AppError } from '../../errors.ts';
import { withZeroInitializers } from '../../ml/zero-initializers.ts';
import type { LayersModelJson } from './manifest.ts';

export interface ModelSummary {
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  layers: { name: string; className: string; params: number; outputShape: tf.Shape | tf.Shape[] }[];
  params: number;
}

export async function summarizeModel(model: LayersModelJson): Promise<ModelSummary> {
  let built: tf.LayersModel;
  try {
    built = await tf.models.modelFromJSON({ modelTopology: withZeroInitializers(model.modelTopology) as tf.io.ModelJSON['modelTopology'] });
  } catch (err) {
    throw new AppError('INVALID_MODEL', `modelTopology cannot be built by TF.js Layers: ${(err as Error).message}`);
  }
  try {
    return {
      inputShape: built.inputs[0].shape,
      outputShape: built.outputs[0].shape,
      layers: built.layers.map((l) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), outputShape: l.outputShape })),
      params: built.countParams(),
    };
  } finally {
    built.dispose();
  }
}

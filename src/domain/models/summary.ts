// Layer summary of an uploaded model, computed by tfjs-layers itself from the topology (so shapes and
// parameter counts are exactly what tfjs will build). Weights are not loaded; the model is disposed at once.
import * as tf from '@tensorflow/tfjs';
import { AppError } from '../../errors.ts';
import type { LayersModelJson } from './manifest.ts';

export interface ModelSummary {
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  layers: { name: string; className: string; params: number; outputShape: tf.Shape | tf.Shape[] }[];
  params: number;
}

/** Initializer arguments of the layers that own weights (absent ones default to random initializers). */
const INITIALIZER_KEYS: Record<string, string[]> = {
  Dense: ['kernel_initializer', 'bias_initializer'],
  Conv1D: ['kernel_initializer', 'bias_initializer'],
  Conv2D: ['kernel_initializer', 'bias_initializer'],
  Conv3D: ['kernel_initializer', 'bias_initializer'],
  Conv2DTranspose: ['kernel_initializer', 'bias_initializer'],
  DepthwiseConv2D: ['depthwise_initializer', 'bias_initializer'],
  SeparableConv2D: ['depthwise_initializer', 'pointwise_initializer', 'bias_initializer'],
  Embedding: ['embeddings_initializer'],
  BatchNormalization: ['gamma_initializer', 'beta_initializer', 'moving_mean_initializer', 'moving_variance_initializer'],
};
const ZEROS = { class_name: 'Zeros', config: {} };

/**
 * A copy of the topology whose initializers are all Zeros: building then spends no time on random numbers
 * and never writes the weight buffers, so their (calloc'd) pages never become resident.
 */
function withZeroInitializers(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withZeroInitializers);
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const out = Object.fromEntries(
    Object.entries(obj).map(([k, v]) => [k, k.endsWith('_initializer') && v && typeof v === 'object' ? ZEROS : withZeroInitializers(v)]),
  );
  const keys = typeof obj.class_name === 'string' ? INITIALIZER_KEYS[obj.class_name] : undefined;
  if (keys && out.config && typeof out.config === 'object') {
    out.config = { ...out.config, ...Object.fromEntries(keys.map((k) => [k, ZEROS])) };
  }
  return out;
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

// Layer summary of an uploaded model, computed by tfjs-layers itself from the topology (so shapes and parameter
// counts are exactly what tfjs will build) without creating a single weight (src/ml/shape-only.ts: no initializer
// runs, nothing is allocated). A topology with more than MAX_LAYERS layers is refused before that (tfjs recurses
// per layer). Each layer also gets its FLOPs (multiply-adds per example, src/ml/flops.ts), from shapes alone.
import * as tf from '@tensorflow/tfjs';
import { AppError } from '../../errors.ts';
import { layerFlops } from '../../ml/flops.ts';
import { withShapeOnlyWeights } from '../../ml/shape-only.ts';
import type { LayersModelJson } from './manifest.ts';

/** Layers (nested models and wrapped layers included) a topology may have. */
export const MAX_LAYERS = 1000;

export interface ModelSummary {
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  layers: { name: string; className: string; params: number; flops: number; outputShape: tf.Shape | tf.Shape[] }[];
  params: number;
  /** The shape of every weight the model owns (its weights manifest must hold exactly these). */
  weightShapes: number[][];
}

/** Counts layer configs: entries of every `layers` array and every wrapped `layer`, at any depth. */
export function countLayers(node: unknown, budget = MAX_LAYERS + 1): number {
  let n = 0;
  const stack: unknown[] = [node];
  while (stack.length && n < budget) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'layers' && Array.isArray(x)) n += x.length;
        if (k === 'layer' && x && typeof x === 'object') n++;
        if (x && typeof x === 'object') stack.push(x);
      }
    }
  }
  return n;
}

function buildShapeOnly(topology: LayersModelJson['modelTopology']): Promise<tf.LayersModel> {
  // Synchronous up to the (absent) weight loading: the whole model is built before this call returns.
  return withShapeOnlyWeights(() => tf.models.modelFromJSON({ modelTopology: topology as tf.io.ModelJSON['modelTopology'] }));
}

export async function summarizeModel(model: LayersModelJson): Promise<ModelSummary> {
  const layerCount = countLayers(model.modelTopology);
  if (layerCount > MAX_LAYERS) {
    throw new AppError('RESOURCE_LIMIT', `the model has more than ${MAX_LAYERS} layers`, { limit: MAX_LAYERS, what: 'layers' });
  }
  let built: tf.LayersModel;
  try {
    built = await buildShapeOnly(model.modelTopology);
  } catch (err) {
    throw new AppError('INVALID_MODEL', `modelTopology cannot be built by TF.js Layers: ${(err as Error).message}`);
  }
  return {
    inputShape: built.inputs[0].shape,
    outputShape: built.outputs[0].shape,
    layers: built.layers.map((l) => ({
      name: l.name,
      className: l.getClassName(),
      params: l.countParams(),
      flops: layerFlops(l),
      outputShape: l.outputShape,
    })),
    params: built.countParams(),
    weightShapes: built.weights.map((w) => w.shape as number[]),
  };
}

/** Total multiply-adds per example of a stored layer summary; null when it predates per-layer FLOPs. */
export function modelFlopsOf(layers: readonly { flops?: number }[]): number | null {
  return layers.every((l) => typeof l.flops === 'number') ? layers.reduce((s, l) => s + l.flops!, 0) : null;
}

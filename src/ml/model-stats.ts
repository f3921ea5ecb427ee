// Size and sparsity figures of a model: parameter counts (total, non-zero, per layer), raw bytes as stored
// (weight bytes + model.json), the gzip size of the files tfjs would write, and FLOPs (multiply-adds per example).
import { gzipSync } from 'node:zlib';
import { loadModelFromArtifacts, modelArtifactsToFiles, serializeModel } from './model-io.ts';
import { layerFlops } from './flops.ts';
import { tf } from './tf.ts';

export interface LayerStats {
  name: string;
  className: string;
  params: number;
  nonzeroParams: number;
  /** Fraction of zero parameters (0 for layers without parameters). */
  sparsity: number;
  /** Multiply-adds per example (src/ml/flops.ts). */
  flops: number;
  outputShape: (number | null)[] | (number | null)[][];
}

/** A model's size figures: the one declaration that model stats, job measures and compression reports share. */
export interface SizeFigures {
  params: number;
  nonzeroParams: number;
  sizeBytes: number;
  gzipBytes: number;
  /** Multiply-adds per example of the whole model. */
  flops: number;
}

export interface ModelStats extends SizeFigures {
  layers: LayerStats[];
}

const isArtifacts = (m: tf.LayersModel | tf.io.ModelArtifacts): m is tf.io.ModelArtifacts => !(m instanceof tf.LayersModel);

/** Stats of a live model, or of artifacts (e.g. quantized ones: sizes as stored, counts after dequantization). */
export async function modelStats(input: tf.LayersModel | tf.io.ModelArtifacts): Promise<ModelStats> {
  const artifacts = isArtifacts(input) ? input : (await serializeModel(input)).artifacts;
  const model = isArtifacts(input) ? await loadModelFromArtifacts(input) : input;
  try {
    const files = modelArtifactsToFiles(artifacts);
    const sizeBytes = files.reduce((s, f) => s + f.data.length, 0);
    const gzipBytes = files.reduce((s, f) => s + gzipSync(f.data).length, 0);
    const layers: LayerStats[] = [];
    for (const layer of model.layers) {
      let params = 0;
      let nonzero = 0;
      for (const w of layer.weights) {
        const values = await w.read().data();
        params += values.length;
        for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonzero++;
      }
      layers.push({
        name: layer.name,
        className: layer.getClassName(),
        params,
        nonzeroParams: nonzero,
        sparsity: params === 0 ? 0 : 1 - nonzero / params,
        flops: layerFlops(layer),
        outputShape: layer.outputShape,
      });
    }
    return {
      params: layers.reduce((s, l) => s + l.params, 0),
      nonzeroParams: layers.reduce((s, l) => s + l.nonzeroParams, 0),
      sizeBytes,
      gzipBytes,
      flops: layers.reduce((s, l) => s + l.flops, 0),
      layers,
    };
  } finally {
    if (model !== input) model.dispose();
  }
}

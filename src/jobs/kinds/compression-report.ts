// The report every compression job (prune, distill, quantize, pipeline) returns and stores on its result model:
// `{ before: M, after: M, layers: [{ name, params, nonzeroParams, sparsity }] }` with
// M = { accuracy, params, nonzeroParams, sizeBytes, gzipBytes, latencyMs } (issue 5's API contract).
import { tf } from '../../ml/tf.ts';
import { measureModel, modelInputShape, type ModelMeasure, type SplitTensors } from './support.ts';

export interface Measure {
  /** null when there was no data to measure it on (a quantize job without a dataset). */
  accuracy: number | null;
  params: number;
  nonzeroParams: number;
  sizeBytes: number;
  gzipBytes: number;
  latencyMs: ModelMeasure['latencyMs'];
}

export type LayerRow = ModelMeasure['layers'][number];

export interface CompressionReport {
  before: Measure;
  after: Measure;
  /** Per layer with parameters, of the result model. */
  layers: LayerRow[];
}

export interface Measured {
  m: Measure;
  layers: LayerRow[];
}

/** All-zero inputs (and labels) shaped for `model`: size, sparsity and latency stay real, accuracy is meaningless. */
export function syntheticSplit(model: tf.LayersModel, rows = 256): SplitTensors {
  const classes = model.outputs[0].shape.at(-1) as number;
  return { x: tf.zeros([rows, ...modelInputShape(model)]), y: tf.zeros([rows, classes]) as tf.Tensor2D, labels: new Int32Array(rows), n: rows };
}

/** Measures a live model or artifacts on `data`; `labelled: false` (synthetic data) reports accuracy as null. */
export async function measure(model: tf.LayersModel | tf.io.ModelArtifacts, data: SplitTensors, labelled = true): Promise<Measured> {
  const full = await measureModel(model, data);
  const { params, nonzeroParams, sizeBytes, gzipBytes, latencyMs } = full;
  return {
    m: { accuracy: labelled ? full.accuracy : null, params, nonzeroParams, sizeBytes, gzipBytes, latencyMs },
    layers: full.layers.filter((l) => l.params > 0),
  };
}

export function compressionReport(before: Measured, after: Measured): CompressionReport {
  return { before: before.m, after: after.m, layers: after.layers };
}

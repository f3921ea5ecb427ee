// The report every compression job (prune, distill, quantize, pipeline) returns and stores on its result model:
// `{ before: M, after: M, layers: [{ name, params, nonzeroParams, sparsity, flops }] }` with
// M = { accuracy, split, params, nonzeroParams, sizeBytes, gzipBytes, flops, latencyMs } (issue 5's API contract; `split`,
// the data the accuracy was measured on, added by issue 16; `onnxRuntimeLatencyMs` by issue 14; `flops`
// (multiply-adds per example, also per layer) by issue 13).
import { onnxRuntimeLatency, type OnnxLatency } from '../../formats/onnx/latency.ts';
import type { SizeFigures } from '../../ml/model-stats.ts';
import { tf } from '../../ml/tf.ts';
import { measureModel, modelInputShape, type EvalSplitName, type ModelMeasure, type SplitTensors } from './support.ts';

export interface Measure extends SizeFigures {
  /** null when there was no data to measure it on (a quantize job without a dataset). */
  accuracy: number | null;
  /** The split `accuracy` was measured on; null with `accuracy`. */
  split: EvalSplitName | null;
  latencyMs: ModelMeasure['latencyMs'];
  /** The model exported to ONNX and run in ONNX Runtime (QDQ weights when quantized); null when it cannot be exported. */
  onnxRuntimeLatencyMs: OnnxLatency | null;
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
  return { x: tf.zeros([rows, ...modelInputShape(model)]), y: tf.zeros<tf.Rank.R2>([rows, classes]), labels: new Int32Array(rows), n: rows };
}

/**
 * Measures a live model or artifacts on `data` from split `split`; null (synthetic data) reports accuracy as null.
 * latency: false leaves latencyMs at zeros for the caller to fill (e.g. from compareLatency, before and after interleaved).
 */
export async function measure(
  model: tf.LayersModel | tf.io.ModelArtifacts,
  data: SplitTensors,
  split: EvalSplitName | null,
  opts: { latency?: boolean } = {},
): Promise<Measured> {
  const full = await measureModel(model, data, { latency: opts.latency });
  const { params, nonzeroParams, sizeBytes, gzipBytes, flops, latencyMs } = full;
  const onnxRuntimeLatencyMs = await onnxRuntimeLatency(model);
  return {
    m: {
      accuracy: split === null ? null : full.accuracy,
      split,
      params,
      nonzeroParams,
      sizeBytes,
      gzipBytes,
      flops,
      latencyMs,
      onnxRuntimeLatencyMs,
    },
    layers: full.layers.filter((l) => l.params > 0 || l.flops > 0),
  };
}

export function compressionReport(before: Measured, after: Measured): CompressionReport {
  return { before: before.m, after: after.m, layers: after.layers };
}

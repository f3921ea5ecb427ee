// Per-layer pruning sensitivity (Han et al. 2015, Fig. 6; NNI's SensitivityAnalysis): prune ONE layer's kernel by
// magnitude at each sparsity of a grid, measure the accuracy, restore the layer, move on. The result — accuracy per
// layer × sparsity — shows which layers tolerate pruning, and allocateSparsity turns it into per-layer targets.
import { magnitudeMasks, prunableWeights, applyMasks } from '../prune/magnitude.ts';
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';

export const DEFAULT_SCAN_SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98] as const;

export interface LayerSensitivity {
  /** Layer name. */
  name: string;
  /** Kernel (manifest) name, e.g. `dense_Dense1/kernel`. */
  weight: string;
  /** Kernel elements. */
  params: number;
  /** Accuracy with this layer alone pruned to sparsities[i]. */
  accuracy: number[];
}

export interface SensitivityScan {
  /** Accuracy of the unpruned model on the same data. */
  baseline: number;
  sparsities: number[];
  layers: LayerSensitivity[];
}

export interface ScanOptions {
  sparsities?: readonly number[];
  /** Layers to scan (default: every prunable kernel, the classifier included). */
  layers?: readonly string[];
  /** Called after every measurement (done of total): report progress, yield, honour cancellation here. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
}

/**
 * Scans `model` (restored exactly afterwards). `accuracyOf` measures the model as it currently is — on held-out
 * data, never the test split when the scan feeds decisions.
 */
export async function sensitivityScan(
  model: tf.LayersModel,
  accuracyOf: (model: tf.LayersModel) => Promise<number>,
  opts: ScanOptions = {},
): Promise<SensitivityScan> {
  const sparsities = [...(opts.sparsities ?? DEFAULT_SCAN_SPARSITIES)].sort((a, b) => a - b);
  if (sparsities.length === 0 || sparsities.some((s) => !(s > 0 && s < 1))) {
    throw new AppError('INVALID_JOB_PARAMS', 'sparsities must be numbers in (0, 1)', { field: 'sparsities' });
  }
  let weights = prunableWeights(model, [], { pruneLastDense: true });
  if (opts.layers) {
    const known = new Set(weights.map((w) => w.layerName));
    const unknown = opts.layers.find((l) => !known.has(l));
    if (unknown) throw new AppError('INVALID_JOB_PARAMS', `layers names no prunable layer: ${unknown}`, { layer: unknown });
    weights = weights.filter((w) => opts.layers!.includes(w.layerName));
  }
  const total = 1 + weights.length * sparsities.length;
  const baseline = await accuracyOf(model);
  let done = 1;
  await opts.onProgress?.(done, total);
  const layers: LayerSensitivity[] = [];
  for (const w of weights) {
    const original = tf.clone(w.variable.read());
    try {
      const accuracy: number[] = [];
      for (const s of sparsities) {
        applyMasks(model, magnitudeMasks([w], s, 'layer'));
        accuracy.push(await accuracyOf(model));
        w.variable.write(original);
        await opts.onProgress?.(++done, total);
      }
      layers.push({ name: w.layerName, weight: w.name, params: w.values.size, accuracy });
    } finally {
      w.variable.write(original);
      original.dispose();
    }
  }
  return { baseline, sparsities, layers };
}

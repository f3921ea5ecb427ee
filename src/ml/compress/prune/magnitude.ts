// Unstructured magnitude pruning: zero the weights with the smallest |w| (exact top-k, deterministic ties).
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';

/** 1 = keep, 0 = pruned; one entry per weight, same element order as the tensor. Keyed by weight name. */
export type WeightMasks = Record<string, Uint8Array>;
export type PruningScope = 'layer' | 'global';

export interface NamedWeight {
  name: string;
  values: Float32Array | tf.Tensor;
}

/** A prunable kernel of a model: `name` is the variable's original (manifest) name, e.g. `dense_Dense1/kernel`. */
export interface PrunableWeight extends NamedWeight {
  layerName: string;
  values: tf.Tensor;
  variable: tf.LayerVariable;
}

const PRUNABLE_LAYER_CLASSES = new Set(['Dense', 'Conv1D', 'Conv2D']);

export function assertSparsity(sparsity: number, field = 'sparsity'): void {
  if (!Number.isFinite(sparsity) || sparsity < 0 || sparsity > 1) {
    throw new AppError('INVALID_JOB_PARAMS', `${field} must be a number in [0, 1], got ${sparsity}`, { field });
  }
}

/**
 * Kernels of Dense/Conv layers (never biases or batch-norm parameters), minus `excludeLayers`.
 * The last Dense layer (the classifier) is excluded unless `pruneLastDense` is set.
 */
export function prunableWeights(
  model: tf.LayersModel,
  excludeLayers: readonly string[] = [],
  opts: { pruneLastDense?: boolean } = {},
): PrunableWeight[] {
  const excluded = new Set(excludeLayers);
  const known = new Set(model.layers.map((l) => l.name));
  for (const name of excluded) {
    if (!known.has(name)) throw new AppError('INVALID_JOB_PARAMS', `excludeLayers names an unknown layer: ${name}`, { layer: name });
  }
  if (!opts.pruneLastDense) {
    const lastDense = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
    if (lastDense) excluded.add(lastDense.name);
  }
  const out: PrunableWeight[] = [];
  for (const layer of model.layers) {
    if (!PRUNABLE_LAYER_CLASSES.has(layer.getClassName()) || excluded.has(layer.name)) continue;
    for (const variable of layer.weights) {
      if (!variable.originalName.endsWith('/kernel')) continue;
      out.push({ name: variable.originalName, layerName: layer.name, values: variable.read(), variable });
    }
  }
  return out;
}

function absValues(w: NamedWeight): Float32Array {
  const src = w.values instanceof Float32Array ? w.values : (w.values.dataSync() as Float32Array);
  const abs = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) abs[i] = Math.abs(src[i]);
  return abs;
}

/**
 * Zeroes exactly k entries of `masks` (viewed as one sequence in order): those with the smallest |w|,
 * ties at the threshold broken by position (earlier first).
 */
function zeroSmallest(abs: Float32Array[], masks: Uint8Array[], k: number): void {
  const total = abs.reduce((n, a) => n + a.length, 0);
  if (k <= 0) return;
  if (k >= total) {
    for (const m of masks) m.fill(0);
    return;
  }
  const all = new Float32Array(total);
  let off = 0;
  for (const a of abs) {
    all.set(a, off);
    off += a.length;
  }
  const threshold = all.sort()[k - 1]; // typed-array sort is numeric
  let below = 0;
  for (const a of abs) for (let i = 0; i < a.length; i++) if (a[i] < threshold) below++;
  let tiesToZero = k - below;
  abs.forEach((a, t) => {
    const m = masks[t];
    for (let i = 0; i < a.length; i++) {
      if (a[i] < threshold) m[i] = 0;
      else if (a[i] === threshold && tiesToZero > 0) {
        m[i] = 0;
        tiesToZero--;
      }
    }
  });
}

export interface MaskOptions {
  /**
   * Global scope: the most each tensor (by name) may be pruned. A tensor the global threshold would prune beyond its
   * cap is pruned to the cap and the rest of the budget is re-spread over the others (water filling), so the
   * overall sparsity is still met when the caps allow it.
   */
  maxSparsity?: Readonly<Record<string, number>>;
}

/** How many of the given tensors' entries one global top-k would zero in each (ties by position, as zeroSmallest). */
function globalCounts(abs: Float32Array[], k: number): number[] {
  const masks = abs.map((a) => new Uint8Array(a.length).fill(1));
  zeroSmallest(abs, masks, k);
  return masks.map((m) => m.reduce((z, x) => z + (x === 0 ? 1 : 0), 0));
}

/**
 * Masks that prune round(sparsity * n) weights by smallest |w|: per tensor ('layer') or with one threshold
 * over all given tensors together ('global', n = total count, optionally capped per tensor).
 */
export function magnitudeMasks(
  weights: readonly NamedWeight[],
  sparsity: number,
  scope: PruningScope = 'layer',
  opts: MaskOptions = {},
): WeightMasks {
  assertSparsity(sparsity);
  const abs = weights.map(absValues);
  const masks = abs.map((a) => new Uint8Array(a.length).fill(1));
  if (scope === 'layer') {
    abs.forEach((a, t) => zeroSmallest([a], [masks[t]], Math.round(sparsity * a.length)));
  } else {
    const total = abs.reduce((n, a) => n + a.length, 0);
    const caps = weights.map((w, t) => Math.floor((opts.maxSparsity?.[w.name] ?? 1) * abs[t].length));
    let k = Math.round(sparsity * total);
    let active = abs.map((_, t) => t);
    for (;;) {
      const counts = globalCounts(
        active.map((t) => abs[t]),
        k,
      );
      const over = active.filter((t, i) => counts[i] > caps[t]);
      if (over.length === 0) break;
      for (const t of over) {
        zeroSmallest([abs[t]], [masks[t]], caps[t]);
        k -= caps[t];
      }
      active = active.filter((t) => !over.includes(t));
    }
    zeroSmallest(
      active.map((t) => abs[t]),
      active.map((t) => masks[t]),
      k,
    );
  }
  return Object.fromEntries(weights.map((w, t) => [w.name, masks[t]]));
}

/** Masks pruning each tensor to its own sparsity (by name; a tensor without one is left dense). */
export function allocatedMasks(weights: readonly NamedWeight[], sparsityByName: Readonly<Record<string, number>>): WeightMasks {
  return Object.fromEntries(
    weights.map((w) => {
      const s = sparsityByName[w.name] ?? 0;
      assertSparsity(s, `sparsity of ${w.name}`);
      return [w.name, magnitudeMasks([w], s, 'layer')[w.name]];
    }),
  );
}

/** Multiplies each masked kernel of `model` by its mask, in place. */
export function applyMasks(model: tf.LayersModel, masks: WeightMasks): void {
  const byName = new Map(model.weights.map((v) => [v.originalName, v]));
  for (const [name, mask] of Object.entries(masks)) {
    const variable = byName.get(name);
    if (!variable) throw new AppError('INVALID_JOB_PARAMS', `mask names a weight the model does not have: ${name}`, { weight: name });
    const size = variable.read().size;
    if (size !== mask.length) {
      throw new AppError('INVALID_JOB_PARAMS', `mask for ${name} has ${mask.length} entries, weight has ${size}`, { weight: name });
    }
    tf.tidy(() => {
      // where() rather than mul(): w * 0 gives -0 for negative w, which breaks byte-level sparsity (gzip).
      const w = variable.read();
      variable.write(tf.where(tf.tensor(mask, w.shape, 'bool'), w, tf.zerosLike(w)));
    });
  }
}

/** Share of exactly-zero entries over the given tensors. */
export function sparsityOf(weights: readonly NamedWeight[]): number {
  let zeros = 0;
  let total = 0;
  for (const w of weights) {
    const v = w.values instanceof Float32Array ? w.values : w.values.dataSync();
    for (let i = 0; i < v.length; i++) if (v[i] === 0) zeros++;
    total += v.length;
  }
  return total === 0 ? 0 : zeros / total;
}

// Per-layer sparsity from a sensitivity scan (Han et al. 2015 §4: "the pruning threshold is chosen … by
// sensitivity"; NNI's SensitivityPruner): every layer gets the largest sparsity whose accuracy drop in the scan
// stays within one tolerance δ, and δ is the smallest that reaches the overall target. So robust layers (a wide
// first Dense) are pruned hard and fragile ones (a 150-weight first conv, the classifier) lightly.
import { AppError } from '../../../errors.ts';
import type { SensitivityScan } from './scan.ts';

export interface AllocationOptions {
  /** No layer goes above this sparsity (default 0.99). */
  maxSparsity?: number;
}

export interface Allocation {
  /** Sparsity per layer name. */
  sparsities: Record<string, number>;
  /** The accuracy drop (fraction) each layer's choice tolerates in the scan. */
  tolerance: number;
  /** Sparsity over the scanned kernels' parameters that the allocation reaches. */
  overall: number;
}

/**
 * Largest sparsity for one layer whose scanned drop stays ≤ δ: the grid is walked from low to high sparsity and
 * stops at the first point over δ, interpolating linearly into that segment (drop 0 at sparsity 0).
 */
export function layerSparsityAt(sparsities: readonly number[], drops: readonly number[], delta: number, max: number): number {
  let prevS = 0;
  let prevD = 0;
  for (let i = 0; i < sparsities.length; i++) {
    const s = Math.min(sparsities[i], max);
    const d = Math.max(prevD, drops[i]);
    if (d > delta) {
      const t = d === prevD ? 0 : (delta - prevD) / (d - prevD);
      return prevS + Math.max(0, Math.min(1, t)) * (s - prevS);
    }
    prevS = s;
    prevD = d;
    if (s >= max) return max;
  }
  return Math.min(max, prevS);
}

/** Per-layer sparsities reaching `target` overall (by parameter count) with the smallest common tolerance. */
export function allocateSparsity(scan: SensitivityScan, target: number, opts: AllocationOptions = {}): Allocation {
  if (!(target >= 0 && target < 1)) throw new AppError('INVALID_JOB_PARAMS', `sparsity must be in [0, 1), got ${target}`, { field: 'sparsity' });
  const max = opts.maxSparsity ?? 0.99;
  const total = scan.layers.reduce((n, l) => n + l.params, 0);
  const drops = scan.layers.map((l) => l.accuracy.map((a) => scan.baseline - a));
  const at = (delta: number) => scan.layers.map((_, i) => layerSparsityAt(scan.sparsities, drops[i], delta, max));
  const overall = (s: number[]) => (total === 0 ? 0 : s.reduce((n, x, i) => n + x * scan.layers[i].params, 0) / total);
  let lo = 0;
  let hi = 1;
  if (overall(at(hi)) < target) {
    // Even accepting any drop the grid cannot reach the target: every layer at its most (max or the last grid point)
    // and the remainder spread in proportion to what each layer has left.
    return spread(scan, at(hi), target, max, total, hi);
  }
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (overall(at(mid)) >= target) hi = mid;
    else lo = mid;
  }
  // At δ = hi the target is met (usually overshot a little, by a whole grid segment of one layer): scale every
  // layer's sparsity down by the same factor so the overall figure is the target.
  const s = at(hi);
  const factor = target / Math.max(overall(s), Number.EPSILON);
  const sparsities = Object.fromEntries(scan.layers.map((l, i) => [l.name, Math.min(max, s[i] * Math.min(1, factor))]));
  return { sparsities, tolerance: hi, overall: overall(Object.values(sparsities)) };
}

function spread(scan: SensitivityScan, s: number[], target: number, max: number, total: number, tolerance: number): Allocation {
  const missing = target * total - s.reduce((n, x, i) => n + x * scan.layers[i].params, 0);
  const room = s.reduce((n, x, i) => n + (max - x) * scan.layers[i].params, 0);
  const f = room <= 0 ? 0 : Math.min(1, missing / room);
  const out = s.map((x) => x + f * (max - x));
  const sparsities = Object.fromEntries(scan.layers.map((l, i) => [l.name, out[i]]));
  return { sparsities, tolerance, overall: out.reduce((n, x, i) => n + (x * scan.layers[i].params) / total, 0) };
}

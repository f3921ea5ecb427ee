// Weight sharing by 1-D k-means (Han et al. 2016, "Deep Compression" §3): a tensor's values are replaced by
// the nearest of `clusters` centroids, so the stored tensor holds that many distinct values and compresses well.
// Exact zeros (pruned weights) are kept out of the clustering and stay exactly zero: zero is then one of the
// `clusters` values, and the other clusters − 1 centroids are fitted to the non-zero weights. Centroids start
// linearly spaced over [min, max] (Han found linear initialisation best: it keeps the rare large weights).
import { AppError } from '../../../errors.ts';

export interface ClusteredTensor {
  /** Sorted ascending; contains 0 exactly when the input had zeros. */
  centroids: Float32Array;
  /** Per element, the index of its centroid. */
  indices: Uint16Array;
}

export interface KMeansOptions {
  /** Lloyd iterations at most (stops earlier once no centroid moves). Default 30. */
  iterations?: number;
}

/** The smallest positive float32 (a centroid that would round to 0 becomes this, keeping it non-zero). */
const FLOAT32_TINY = 2 ** -149;

/** The number of clusters for `bits` bits per weight index (2^bits), checked. */
export function clustersForBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new AppError('INVALID_JOB_PARAMS', `bits must be an integer in [1, 8], got ${bits}`);
  return 2 ** bits;
}

/** Index of the first element of `sorted` that is >= v (binary search). */
function lowerBound(sorted: Float32Array | Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * 1-D k-means of `values` (any order) into exactly min(k, distinct values) centroids, sorted ascending. Works on
 * the sorted values with prefix sums: with sorted centroids each cluster is a contiguous run of sorted values
 * bounded by the midpoints between neighbouring centroids, so one Lloyd iteration costs O(k log n). A cluster that
 * runs empty is replaced by splitting the cluster with the largest squared error at its mean.
 */
export function kmeans1d(values: Float32Array, k: number, opts: KMeansOptions = {}): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new AppError('INVALID_JOB_PARAMS', `clusters must be a positive integer, got ${k}`);
  const n = values.length;
  if (n === 0) return new Float64Array(0);
  const sorted = Float64Array.from(values).sort();
  const distinct: number[] = [];
  for (let i = 0; i < n && distinct.length <= k; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
  if (distinct.length <= k) return Float64Array.from(distinct);
  const sum = new Float64Array(n + 1);
  const sq = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    sum[i + 1] = sum[i] + sorted[i];
    sq[i + 1] = sq[i] + sorted[i] * sorted[i];
  }
  const mean = (a: number, b: number) => (sum[b] - sum[a]) / (b - a);
  const sse = (a: number, b: number) => sq[b] - sq[a] - (sum[b] - sum[a]) ** 2 / (b - a);
  /** Non-empty runs [start, end) of the sorted values nearest to each centroid. */
  const runsOf = (centroids: Float64Array) => {
    const runs: [number, number][] = [];
    let start = 0;
    for (let c = 0; c < centroids.length; c++) {
      // Values below the midpoint to the next centroid belong to this one (ties go to the lower centroid).
      const end = c === centroids.length - 1 ? n : Math.max(start, lowerBound(sorted, (centroids[c] + centroids[c + 1]) / 2));
      if (end > start) runs.push([start, end]);
      start = end;
    }
    return runs;
  };
  /** Splits the runs with the largest error at their means until there are k (each split run has ≥ 2 distinct values). */
  const refill = (runs: [number, number][]) => {
    while (runs.length < k) {
      let worst = -1;
      for (let r = 0; r < runs.length; r++) {
        const [a, b] = runs[r];
        if (sorted[a] !== sorted[b - 1] && (worst < 0 || sse(a, b) > sse(...runs[worst]))) worst = r;
      }
      const [a, b] = runs[worst];
      // The mean lies strictly between the run's smallest and largest values, so both halves are non-empty.
      const cut = a + lowerBound(sorted.subarray(a, b), mean(a, b));
      runs.splice(worst, 1, [a, cut], [cut, b]);
    }
    return runs;
  };
  const lo = sorted[0];
  const hi = sorted[n - 1];
  let centroids = Float64Array.from({ length: k }, (_, i) => lo + ((hi - lo) * i) / (k - 1));
  const iterations = opts.iterations ?? 30;
  for (let it = 0; it < iterations; it++) {
    const next = Float64Array.from(refill(runsOf(centroids)), ([a, b]) => mean(a, b));
    const moved = next.some((v, i) => v !== centroids[i]);
    centroids = next;
    if (!moved) break;
  }
  return centroids;
}

/** Index of the centroid nearest to v (centroids sorted ascending). */
export function nearestCentroid(centroids: Float32Array | Float64Array, v: number): number {
  const i = lowerBound(centroids, v);
  if (i === 0) return 0;
  if (i === centroids.length) return centroids.length - 1;
  return v - centroids[i - 1] <= centroids[i] - v ? i - 1 : i;
}

/**
 * Clusters one tensor's values into exactly `clusters` distinct values (fewer only when it has fewer distinct
 * values to start with). Zeros are a fixed cluster of their own when present; non-zero values are assigned only
 * to the non-zero centroids, so the zero pattern is exactly the input's.
 */
export function clusterTensor(values: Float32Array, clusters: number, opts: KMeansOptions = {}): ClusteredTensor {
  if (!Number.isInteger(clusters) || clusters < 2 || clusters > 65536) {
    throw new AppError('INVALID_JOB_PARAMS', `clusters must be an integer in [2, 65536], got ${clusters}`);
  }
  let zeros = 0;
  for (const v of values) if (v === 0) zeros++;
  const nonzero = new Float32Array(values.length - zeros);
  let j = 0;
  for (const v of values) if (v !== 0) nonzero[j++] = v;
  // Float32 centroids: what the model stores. Two fitted centroids can round to the same float32; keep one.
  // A fitted centroid is never 0 (the mean of same-sign values, or nudged off 0 below), so the zero cluster stays apart.
  const fitted = [...kmeans1d(nonzero, zeros > 0 ? clusters - 1 : clusters, opts)].map((c) => Math.fround(c) || FLOAT32_TINY);
  const nonzeroCentroids = Float32Array.from(new Set(fitted)).sort();
  const centroids = Float32Array.from(zeros > 0 ? [...nonzeroCentroids, 0] : nonzeroCentroids).sort();
  const zeroIndex = zeros > 0 ? centroids.indexOf(0) : -1;
  const indices = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) indices[i] = zeroIndex;
    else {
      const k = nearestCentroid(nonzeroCentroids, values[i]);
      // Shift past the zero centroid in the full (sorted) list.
      indices[i] = zeroIndex >= 0 && k >= zeroIndex ? k + 1 : k;
    }
  }
  return { centroids, indices };
}

/** The tensor's values after clustering: centroids[indices[i]]. */
export function clusteredValues(c: ClusteredTensor): Float32Array {
  const out = new Float32Array(c.indices.length);
  for (let i = 0; i < out.length; i++) out[i] = c.centroids[c.indices[i]];
  return out;
}

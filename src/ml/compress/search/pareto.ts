// The accuracy-vs-cost trade-off of an accuracy-driven search (Intel Neural Compressor's tuning, NNI AutoCompress):
// the Pareto front of the candidates (no other candidate is at least as accurate AND at most as costly, one of the
// two strictly) and the choice: the cheapest candidate whose accuracy drop stays within the budget.

export interface Scored {
  /** Accuracy on the data the search decides on (the validation hold-out). */
  accuracy: number;
  /** The objective's cost: smaller is better (bytes, milliseconds, FLOPs). */
  cost: number;
  /** Taken off the accuracy when judging it against the budget (e.g. the standard error of the measured drop). */
  margin?: number;
}

/** The accuracy a candidate is judged by: measured, less its margin. */
const vouched = (c: Scored): number => c.accuracy - (c.margin ?? 0);

/**
 * Candidates on the Pareto front, ordered by cost (ascending), judged by the accuracy the search vouches for:
 * accuracy less its margin. On the measured accuracy alone, a cheaper candidate that looks more accurate but failed
 * the budget on its margin would push the chosen candidate off the front it is reported on.
 */
export function paretoFront<T extends Scored>(candidates: readonly T[]): T[] {
  const sorted = [...candidates].sort((a, b) => a.cost - b.cost || vouched(b) - vouched(a));
  const front: T[] = [];
  let best = -Infinity;
  for (const c of sorted) {
    // Sorted by cost, so c is dominated exactly when a cheaper-or-equal candidate already reached its accuracy.
    if (vouched(c) > best) {
      front.push(c);
      best = vouched(c);
    }
  }
  return front;
}

/** Whether a candidate's accuracy, less its margin, stays within `maxDrop` (a fraction) of `baseline`. */
export const withinBudget = (c: Scored, baseline: number, maxDrop: number): boolean => vouched(c) >= baseline - maxDrop - 1e-12;

/**
 * The cheapest candidate with accuracy − margin ≥ baseline − maxDrop (ties: the more accurate); null when none is.
 * `maxDrop` is a fraction (0.003 = 0.3 percentage points).
 */
export function chooseWithin<T extends Scored>(candidates: readonly T[], baseline: number, maxDrop: number): T | null {
  const ok = candidates.filter((c) => withinBudget(c, baseline, maxDrop));
  return paretoFront(ok)[0] ?? null;
}

/**
 * The paired standard error of an accuracy difference measured on the same rows: `a` and `b` are per-row hits
 * (1 = correct). sd(a_i − b_i) / √n — rows both get right or both get wrong add nothing, so two close models on
 * 5,000 rows differ by ±0.1-0.2 pp, not the ±0.3 pp of two independent samples.
 */
export function pairedStandardError(a: Uint8Array, b: Uint8Array): number {
  const n = a.length;
  if (n < 2 || b.length !== n) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    sum += d;
    sumSq += d * d;
  }
  const mean = sum / n;
  const variance = (sumSq - n * mean * mean) / (n - 1);
  return Math.sqrt(Math.max(0, variance) / n);
}

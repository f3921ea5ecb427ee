// The accuracy-vs-cost trade-off of an accuracy-driven search (Intel Neural Compressor's tuning, NNI AutoCompress):
// the Pareto front of the candidates (no other candidate is at least as accurate AND at most as costly, one of the
// two strictly) and the choice: the cheapest candidate whose accuracy drop stays within the budget.

export interface Scored {
  /** Accuracy on the data the search decides on (the validation hold-out). */
  accuracy: number;
  /** The objective's cost: smaller is better (bytes, milliseconds, FLOPs). */
  cost: number;
}

/** Candidates on the Pareto front, ordered by cost (ascending). */
export function paretoFront<T extends Scored>(candidates: readonly T[]): T[] {
  const sorted = [...candidates].sort((a, b) => a.cost - b.cost || b.accuracy - a.accuracy);
  const front: T[] = [];
  let best = -Infinity;
  for (const c of sorted) {
    // Sorted by cost, so c is dominated exactly when a cheaper-or-equal candidate already reached its accuracy.
    if (c.accuracy > best) {
      front.push(c);
      best = c.accuracy;
    }
  }
  return front;
}

/**
 * The cheapest candidate with accuracy ≥ baseline − maxDrop (ties: the more accurate); null when none is. `maxDrop`
 * is a fraction (0.003 = 0.3 percentage points).
 */
export function chooseWithin<T extends Scored>(candidates: readonly T[], baseline: number, maxDrop: number): T | null {
  const ok = candidates.filter((c) => c.accuracy >= baseline - maxDrop - 1e-12);
  return paretoFront(ok)[0] ?? null;
}

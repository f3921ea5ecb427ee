// The validation hold-out of a dataset's train split: a fixed, seeded 10% of its rows. autocompress tunes on the
// other 90% and decides on these rows; evaluate with `split: "validation"` scores exactly the same rows, so a
// figure reported on "validation" anywhere means the same examples.
import { trainValSplit } from './dataset.ts';

export const VALIDATION_FRACTION = 0.1;
const VALIDATION_SEED = 16;

/** Row indices (ascending) of the train split's tuning part and its validation hold-out, for a split of n rows. */
export function holdOut(n: number): { train: Int32Array; validation: Int32Array } {
  const { train, val } = trainValSplit(n, VALIDATION_FRACTION, VALIDATION_SEED);
  return { train, validation: val };
}

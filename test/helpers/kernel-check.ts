// Shared by the kernel tests (ours against the cpu backend): deterministic inputs and the error measure they judge by.

/** Deterministic values in [-1, 1) (an LCG, the same on every backend), scaled and shifted. */
export function randomValues(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale + shift;
  }
  return out;
}

/** Largest absolute difference relative to the largest expected magnitude (at least `floor`). */
export function relError(actual: Float32Array | Int32Array, expected: Float32Array | Int32Array, floor = 1e-6): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

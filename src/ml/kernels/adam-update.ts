// One Adam update of one variable as a single wasm-backend kernel (wasm SIMD over the wasm heap, adam-simd.ts; a JS
// loop where SIMD is missing). tfjs's
// AdamOptimizer spends ~13 kernels per variable and step (mul, add, square, div, sqrt, ...), each with its engine
// bookkeeping and a pass over memory; on a LeNet-300-100 step that was ~15% of the time. Same arithmetic as
// tfjs-core's AdamOptimizer, rounded to float32 where it stores the moments.
import { tf } from '../tf.ts';
import { adamSimd, adamSum2Simd, type AdamUpdateAttrs } from './adam-simd.ts';

export const ADAM_UPDATE = 'ModelpressAdamUpdate';

export type { AdamUpdateAttrs };

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  /** The emscripten module; its exports hold the heap's WebAssembly.Memory. */
  wasm?: { asm?: { memory?: WebAssembly.Memory } };
};

/**
 * adamUpdate over views on `memory` (a wasm memory, or null): the SIMD function (adam-simd.ts) for the
 * multiple-of-4 part, this file's JS loop for the rest and wherever wasm SIMD is missing.
 */
export function adamUpdateIn(
  memory: WebAssembly.Memory | null,
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: [Float32Array, Float32Array, Float32Array],
  a: AdamUpdateAttrs,
): void {
  const done = memory ? adamSimd(memory, value, m, v, g, out, a) : 0;
  if (done === value.length) return;
  const rest = (t: Float32Array) => t.subarray(done);
  adamUpdate(rest(value), rest(m), rest(v), rest(g), [rest(out[0]), rest(out[1]), rest(out[2])], a);
}

/**
 * adamUpdateIn with the gradient g0·s0 + g1·s1 (the data-parallel all-reduce of two threads, fused into the update:
 * one pass over memory). Where SIMD does not cover it (the tail, or no wasm SIMD) the sum is written into g0 first.
 */
export function adamSum2In(
  memory: WebAssembly.Memory | null,
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: [Float32Array, Float32Array],
  scales: [number, number],
  out: [Float32Array, Float32Array, Float32Array],
  a: AdamUpdateAttrs,
): void {
  const done = memory ? adamSum2Simd(memory, value, m, v, g, scales, out, a) : 0;
  if (done === value.length) return;
  const [g0, g1] = g;
  const [s0, s1] = scales;
  for (let i = done; i < g0.length; i++) g0[i] = g0[i] * s0 + g1[i] * s1;
  const rest = (t: Float32Array) => t.subarray(done);
  adamUpdate(rest(value), rest(m), rest(v), rest(g0), [rest(out[0]), rest(out[1]), rest(out[2])], a);
}

/** newValue, newM, newV from value, m, v and the gradient g (all the same length; `out` may be the inputs: in place). */
export function adamUpdate(
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: [Float32Array, Float32Array, Float32Array],
  a: AdamUpdateAttrs,
): void {
  const [outValue, outM, outV] = out;
  const { learningRate: lr, beta1, beta2, epsilon, correction1, correction2 } = a;
  const oneMinusBeta1 = Math.fround(1 - beta1);
  const oneMinusBeta2 = Math.fround(1 - beta2);
  // lr·(m/c1) / (√(v/c2) + ε) with one division per element instead of three (divisions and the square root bound
  // this loop: 1.8 → 1.4 ms per 266k elements); the same values up to double-precision rounding.
  const stepSize = lr / correction1;
  const invCorrection2 = 1 / correction2;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = Math.fround(m[i] * beta1 + gi * oneMinusBeta1);
    const vi = Math.fround(v[i] * beta2 + gi * gi * oneMinusBeta2);
    outM[i] = mi;
    outV[i] = vi;
    outValue[i] = value[i] - (stepSize * mi) / (Math.sqrt(vi * invCorrection2) + epsilon);
  }
}

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as WasmBackend;
  const { value, m, v, g } = inputs as { value: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo; g: tf.TensorInfo };
  const outs = [b.makeOutput(value.shape, 'float32'), b.makeOutput(value.shape, 'float32'), b.makeOutput(value.shape, 'float32')];
  // Views after the allocations: growing wasm memory detaches older views.
  const view = (t: tf.TensorInfo) => b.typedArrayFromHeap(t);
  const memory = b.wasm?.asm?.memory ?? null;
  adamUpdateIn(memory, view(value), view(m), view(v), view(g), [view(outs[0]), view(outs[1]), view(outs[2])], attrs as unknown as AdamUpdateAttrs);
  return outs;
};

export const adamUpdateConfig: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};

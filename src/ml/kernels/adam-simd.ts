// Adam's per-element update as a tiny hand-encoded WebAssembly SIMD function (f32x4) over an imported memory: the
// wasm backend's heap (the fused Adam kernel) or a data-parallel session's shared memory. 7× faster than the JS
// loop of adam-update.ts (0.19 vs 1.40 ms for LeNet-300-100's 266k weights), which stays the fallback and does the
// tail of fewer than 4 elements (adamUpdateIn there). Same formula in float32 (the JS loop works in double and rounds the moments):
// weights agree to ~3e-8 on LeNet-300-100's scale.

import { F32, get, I32, LOAD, set, simd, simdModule, STORE, uleb, V128, vec } from './wasm-module.ts';

type AdamFn = (
  w: number,
  m: number,
  v: number,
  g: number,
  wOut: number,
  mOut: number,
  vOut: number,
  n: number,
  stepSize: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  invCorrection2: number,
  epsilon: number,
) => void;

const [SPLAT, SQRT, ADD, SUB, MUL, DIV] = [0x13, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map(simd);

/**
 * The function's code. Params: byte offsets w, m, v, g, wOut, mOut, vOut (0-6), n elements (7, a multiple of 4),
 * then f32 stepSize = lr/c1, beta1, 1−beta1, beta2, 1−beta2, 1/c2, epsilon (8-14). Locals: i and end in bytes
 * (15, 16), gi, mi, vi (17-19), the splatted scalars (20-26).
 */
function adamCode(): number[] {
  const body: number[] = [];
  for (let p = 8; p <= 14; p++) body.push(...get(p), ...SPLAT, ...set(p + 12));
  const at = (base: number) => [...get(base), ...get(15), 0x6a]; // base + i
  body.push(...get(7), 0x41, 2, 0x74, ...set(16)); // end = n << 2
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...get(15), ...get(16), 0x4f, 0x0d, 0x01); // i >= end: leave
  body.push(...at(3), ...LOAD, ...set(17)); // gi = g[i]
  body.push(...at(1), ...LOAD, ...get(21), ...MUL, ...get(17), ...get(22), ...MUL, ...ADD, ...set(18)); // mi = m·b1 + gi·(1−b1)
  body.push(...at(2), ...LOAD, ...get(23), ...MUL, ...get(17), ...get(17), ...MUL, ...get(24), ...MUL, ...ADD, ...set(19)); // vi
  body.push(...at(5), ...get(18), ...STORE, ...at(6), ...get(19), ...STORE);
  // wOut = w − stepSize·mi / (√(vi/c2) + ε)
  body.push(...at(4), ...at(0), ...LOAD, ...get(20), ...get(18), ...MUL, ...get(19), ...get(25), ...MUL, ...SQRT, ...get(26), ...ADD);
  body.push(...DIV, ...SUB, ...STORE);
  body.push(...get(15), 0x41, 16, 0x6a, ...set(15), 0x0c, 0x00, 0x0b, 0x0b, 0x0b); // i += 16; continue; end, end, end
  return [
    ...vec([
      [...uleb(2), I32],
      [...uleb(10), V128],
    ]),
    ...body,
  ];
}

const params: number[] = [...(Array(8).fill(I32) as number[]), ...(Array(7).fill(F32) as number[])];
const adamFor = simdModule<{ adam: AdamFn }>([{ name: 'adam', params, code: adamCode() }]);

/** Adam's step constants for one step t (1-based). */
export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − beta1^t and 1 − beta2^t for this step t: the bias corrections. */
  correction1: number;
  correction2: number;
}

/**
 * Adam over the first multiple-of-4 elements of views on `memory` (Float32Arrays on memory.buffer; outputs may be
 * the inputs); returns how many elements it did (0 without wasm SIMD), the caller does the rest.
 */
export function adamSimd(
  memory: WebAssembly.Memory,
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: [Float32Array, Float32Array, Float32Array],
  a: AdamUpdateAttrs,
): number {
  const fn = adamFor(memory)?.adam;
  const n4 = fn ? value.length & ~3 : 0;
  if (!fn || n4 === 0) return 0;
  fn(
    value.byteOffset,
    m.byteOffset,
    v.byteOffset,
    g.byteOffset,
    out[0].byteOffset,
    out[1].byteOffset,
    out[2].byteOffset,
    n4,
    a.learningRate / a.correction1,
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    1 / a.correction2,
    a.epsilon,
  );
  return n4;
}

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

type AdamSum2Fn = (
  w: number,
  m: number,
  v: number,
  g0: number,
  g1: number,
  wOut: number,
  mOut: number,
  vOut: number,
  n: number,
  s0: number,
  s1: number,
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
 * The code of `adam` (sources 1) and `adamSum2` (sources 2). Params: byte offsets w, m, v, the gradient source(s)
 * g0[, g1], wOut, mOut, vOut, n elements (a multiple of 4); then f32: with two sources their weights s0, s1 (the
 * gradient is g0·s0 + g1·s1: the data-parallel all-reduce of two threads' slice means, fused into the update so it
 * is one pass over memory instead of two); then stepSize = lr/c1, beta1, 1−beta1, beta2, 1−beta2, 1/c2, epsilon.
 * Locals: i and end in bytes, gi, mi, vi, the splatted f32 params in their order.
 * (sources 1: params 0-14, locals i, end = 15, 16, gi, mi, vi = 17-19, splats 20-26.)
 */
function adamCode(sources: 1 | 2): number[] {
  const W = 0;
  const M = 1;
  const V = 2;
  const G = 3; // G + j: source j
  const W_OUT = 3 + sources;
  const M_OUT = W_OUT + 1;
  const V_OUT = W_OUT + 2;
  const N = W_OUT + 3;
  const FIRST_F32 = N + 1;
  const floats = (sources > 1 ? sources : 0) + 7;
  const I = FIRST_F32 + floats;
  const END = I + 1;
  const GI = I + 2;
  const MI = I + 3;
  const VI = I + 4;
  const SPLATS = I + 5; // SPLATS + k: the k-th f32 param, splatted
  const c = SPLATS + (sources > 1 ? sources : 0); // the Adam constants' splats
  const [STEP, B1, ONE_B1, B2, ONE_B2, INV_C2, EPS] = [0, 1, 2, 3, 4, 5, 6].map((k) => c + k);
  const body: number[] = [];
  for (let k = 0; k < floats; k++) body.push(...get(FIRST_F32 + k), ...SPLAT, ...set(SPLATS + k));
  const at = (base: number) => [...get(base), ...get(I), 0x6a]; // base + i
  body.push(...get(N), 0x41, 2, 0x74, ...set(END)); // end = n << 2
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...get(I), ...get(END), 0x4f, 0x0d, 0x01); // i >= end: leave
  if (sources === 1)
    body.push(...at(G), ...LOAD, ...set(GI)); // gi = g[i]
  else {
    body.push(...at(G), ...LOAD, ...get(SPLATS), ...MUL); // g0[i]·s0
    for (let j = 1; j < sources; j++) body.push(...at(G + j), ...LOAD, ...get(SPLATS + j), ...MUL, ...ADD); // + gj[i]·sj
    body.push(...set(GI));
  }
  body.push(...at(M), ...LOAD, ...get(B1), ...MUL, ...get(GI), ...get(ONE_B1), ...MUL, ...ADD, ...set(MI)); // mi = m·b1 + gi·(1−b1)
  body.push(...at(V), ...LOAD, ...get(B2), ...MUL, ...get(GI), ...get(GI), ...MUL, ...get(ONE_B2), ...MUL, ...ADD, ...set(VI)); // vi
  body.push(...at(M_OUT), ...get(MI), ...STORE, ...at(V_OUT), ...get(VI), ...STORE);
  // wOut = w − stepSize·mi / (√(vi/c2) + ε)
  body.push(...at(W_OUT), ...at(W), ...LOAD, ...get(STEP), ...get(MI), ...MUL, ...get(VI), ...get(INV_C2), ...MUL, ...SQRT, ...get(EPS), ...ADD);
  body.push(...DIV, ...SUB, ...STORE);
  body.push(...get(I), 0x41, 16, 0x6a, ...set(I), 0x0c, 0x00, 0x0b, 0x0b, 0x0b); // i += 16; continue; end, end, end
  return [
    ...vec([
      [...uleb(2), I32],
      [...uleb(3 + floats), V128],
    ]),
    ...body,
  ];
}

const params = (sources: 1 | 2): number[] => [
  ...(Array(7 + sources).fill(I32) as number[]),
  ...(Array((sources > 1 ? sources : 0) + 7).fill(F32) as number[]),
];
const adamFor = simdModule<{ adam: AdamFn; adamSum2: AdamSum2Fn }>([
  { name: 'adam', params: params(1), code: adamCode(1) },
  { name: 'adamSum2', params: params(2), code: adamCode(2) },
]);

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

/**
 * adamSimd with the gradient g0·s0 + g1·s1 (two data-parallel threads' slice means, each weighted by its share of
 * the batch), summed in the same pass. Same contract: the count done (a multiple of 4; 0 without wasm SIMD).
 */
export function adamSum2Simd(
  memory: WebAssembly.Memory,
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: [Float32Array, Float32Array],
  scales: [number, number],
  out: [Float32Array, Float32Array, Float32Array],
  a: AdamUpdateAttrs,
): number {
  const fn = adamFor(memory)?.adamSum2;
  const n4 = fn ? value.length & ~3 : 0;
  if (!fn || n4 === 0) return 0;
  fn(
    value.byteOffset,
    m.byteOffset,
    v.byteOffset,
    g[0].byteOffset,
    g[1].byteOffset,
    out[0].byteOffset,
    out[1].byteOffset,
    out[2].byteOffset,
    n4,
    scales[0],
    scales[1],
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

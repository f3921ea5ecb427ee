// Per-channel loops of the fused BatchNormalization kernels (batch-norm-train.ts) and the ReLU6 gradient as
// hand-encoded WebAssembly SIMD (f32x4) over the wasm backend's heap, like adam-simd.ts: channel-last data as `rows`
// rows of C floats (C a multiple of 4), per-channel vectors of C floats. The JS loops they replace ran at ~2 ns per
// element and pass (float64 accumulators round-tripping through memory); these are memory-bound.
// Functions (pointers are byte offsets; cb = 4·C bytes per row; sums are added into acc, not assigned):
//   colsum(x, rows, cb, acc)                      acc[c] += Σ_r x[r,c]
//   colsqdiff(x, rows, cb, acc, mean)             acc[c] += Σ_r (x[r,c] − mean[c])²
//   affine(x, rows, cb, y, mul, add)              y[r,c] = x[r,c]·mul[c] + add[c]
//   colsum2(dy, rows, cb, accA, x, mean, accB)    accA[c] += Σ dy; accB[c] += Σ dy·(x − mean[c])
//   affine2(dy, rows, cb, dx, x, k1, k2, k3)      dx = k1[c]·dy + k2[c]·x + k3[c]
//   clipgrad(dy, rows, cb, out, x, lo, hi)        out = lo ≤ x ≤ hi ? dy : 0 (lo, hi f32)
//   dwrow(dy, rows, cb, acc, x, xstride)          acc[c] += Σ_r dy[r,c]·x[r,c], x's rows xstride bytes apart (the
//                                                 depthwise conv filter gradient along one output row)

import { F32, get, I32, I32_ADD, LOAD, set, simd, simdModule, STORE, uleb, V128, vec } from './wasm-module.ts';

const [SPLAT, ADD, SUB, MUL, GE, LE, AND] = [0x13, 0xe4, 0xe5, 0xe6, 0x46, 0x45, 0x4e].map(simd);

// Locals after the params (max 8 params): i32 j, i32 r, then v128 tmp, lo, hi.
const L_J = 8;
const L_R = 9;
const V_TMP = 10;
const V_LO = 11;
const V_HI = 12;

interface Fn {
  name: string;
  /** Parameter types after (first, rows, cb); params 0-2 are i32 first-row pointer, rows, cb. */
  extra: number[];
  /** Params (indices) that point at row data and advance by cb per row (param 0 always does), or by the stride in
   * another param: [pointer, stride param]. */
  rowPtrs: (number | [number, number])[];
  /** Inner body for one 16-byte column j (local `j`), given helpers. */
  body: (at: (p: number) => number[]) => number[];
  /** f32 params splatted once into v128 locals: [param, local]. */
  splats?: [number, number][];
}

const FNS: Fn[] = [
  { name: 'colsum', extra: [I32], rowPtrs: [0], body: (at) => [...at(3), ...at(3), ...LOAD, ...at(0), ...LOAD, ...ADD, ...STORE] },
  {
    name: 'colsqdiff',
    extra: [I32, I32],
    rowPtrs: [0],
    body: (at) => sqdiff(at),
  },
  {
    name: 'affine',
    extra: [I32, I32, I32],
    rowPtrs: [0, 3],
    body: (at) => [...at(3), ...at(0), ...LOAD, ...at(4), ...LOAD, ...MUL, ...at(5), ...LOAD, ...ADD, ...STORE],
  },
  {
    name: 'colsum2',
    extra: [I32, I32, I32, I32],
    rowPtrs: [0, 4],
    body: (at) => [
      ...at(0),
      ...LOAD,
      ...set(V_TMP),
      ...at(3),
      ...at(3),
      ...LOAD,
      ...get(V_TMP),
      ...ADD,
      ...STORE,
      ...at(6),
      ...at(6),
      ...LOAD,
      ...get(V_TMP),
      ...at(4),
      ...LOAD,
      ...at(5),
      ...LOAD,
      ...SUB,
      ...MUL,
      ...ADD,
      ...STORE,
    ],
  },
  {
    name: 'affine2',
    extra: [I32, I32, I32, I32, I32],
    rowPtrs: [0, 3, 4],
    body: (at) => [
      ...at(3),
      ...at(5),
      ...LOAD,
      ...at(0),
      ...LOAD,
      ...MUL,
      ...at(6),
      ...LOAD,
      ...at(4),
      ...LOAD,
      ...MUL,
      ...ADD,
      ...at(7),
      ...LOAD,
      ...ADD,
      ...STORE,
    ],
  },
  {
    name: 'clipgrad',
    extra: [I32, I32, F32, F32],
    rowPtrs: [0, 3, 4],
    splats: [
      [5, V_LO],
      [6, V_HI],
    ],
    body: (at) => [
      ...at(3),
      ...at(4),
      ...LOAD,
      ...set(V_TMP),
      ...at(0),
      ...LOAD,
      ...get(V_TMP),
      ...get(V_LO),
      ...GE,
      ...AND,
      ...get(V_TMP),
      ...get(V_HI),
      ...LE,
      ...AND,
      ...STORE,
    ],
  },
  {
    name: 'dwrow',
    extra: [I32, I32, I32],
    rowPtrs: [0, [4, 5]],
    body: (at) => [...at(3), ...at(3), ...LOAD, ...at(0), ...LOAD, ...at(4), ...LOAD, ...MUL, ...ADD, ...STORE],
  },
];

function sqdiff(at: (p: number) => number[]): number[] {
  // acc[j] += (x − mean)²: d = x − mean in V_TMP.
  return [
    ...at(0),
    ...LOAD,
    ...at(4),
    ...LOAD,
    ...SUB,
    ...set(V_TMP),
    ...at(3),
    ...at(3),
    ...LOAD,
    ...get(V_TMP),
    ...get(V_TMP),
    ...MUL,
    ...ADD,
    ...STORE,
  ];
}

function funcBody(fn: Fn): number[] {
  const nParams = 3 + fn.extra.length;
  const body: number[] = [];
  // Unused parameter slots up to 8 are declared as i32 locals so local indices are fixed.
  const padding = 8 - nParams;
  for (const [p, l] of fn.splats ?? []) body.push(...get(p), ...SPLAT, ...set(l));
  const at = (p: number) => [...get(p), ...get(L_J), I32_ADD];
  body.push(...get(1), ...set(L_R));
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop (rows)
  body.push(...get(L_R), 0x45, 0x0d, 0x01); // r == 0: leave
  body.push(0x41, 0x00, ...set(L_J)); // j = 0
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop (columns)
  body.push(...get(L_J), ...get(2), 0x4f, 0x0d, 0x01); // j >= cb: leave
  body.push(...fn.body(at));
  body.push(...get(L_J), 0x41, 16, I32_ADD, ...set(L_J), 0x0c, 0x00, 0x0b, 0x0b); // j += 16; continue; end, end
  for (const r of fn.rowPtrs) {
    const [p, stride] = typeof r === 'number' ? [r, 2] : r;
    body.push(...get(p), ...get(stride), I32_ADD, ...set(p)); // next row
  }
  body.push(...get(L_R), 0x41, 0x01, 0x6b, ...set(L_R), 0x0c, 0x00, 0x0b, 0x0b, 0x0b); // r -= 1; continue; end, end, end
  const locals = [...(padding > 0 ? [[...uleb(padding), I32]] : []), [...uleb(2), I32], [...uleb(3), V128]];
  return [...vec(locals), ...body];
}

type RowFn = (...args: number[]) => void;
export type ChannelSimd = Record<'colsum' | 'colsqdiff' | 'affine' | 'colsum2' | 'affine2' | 'clipgrad' | 'dwrow', RowFn>;

const load = simdModule<ChannelSimd>(FNS.map((fn) => ({ name: fn.name, params: [I32, I32, I32, ...fn.extra], code: funcBody(fn) })));

/** The SIMD functions over `memory`, or null where wasm SIMD is missing. */
export function channelSimd(memory: WebAssembly.Memory | null | undefined): ChannelSimd | null {
  if (!memory || process.env.MODELPRESS_CHANNEL_SIMD === '0') return null;
  return load(memory);
}

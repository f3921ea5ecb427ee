// Adam's per-element update as a tiny hand-encoded WebAssembly SIMD function (f32x4) over an imported memory: the
// wasm backend's heap (the fused Adam kernel) or a data-parallel session's shared memory. 7× faster than the JS
// loop of adam-update.ts (0.19 vs 1.40 ms for LeNet-300-100's 266k weights), which stays the fallback and does the
// tail of fewer than 4 elements (adamUpdateIn there). Same formula in float32 (the JS loop works in double and rounds the moments):
// weights agree to ~3e-8 on LeNet-300-100's scale.

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

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [...uleb(s.length), ...Buffer.from(s)];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const simd = (op: number) => [0xfd, ...uleb(op)];
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const MEMARG = [0x04, 0x00]; // align 2^4, offset 0 (a hint: unaligned addresses work)
const LOAD = [...simd(0x00), ...MEMARG];
const STORE = [...simd(0x0b), ...MEMARG];
const [SPLAT, SQRT, ADD, SUB, MUL, DIV] = [0x13, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map(simd);

/**
 * The module's bytes. Params: byte offsets w, m, v, g, wOut, mOut, vOut (0-6), n elements (7, a multiple of 4),
 * then f32 stepSize = lr/c1, beta1, 1−beta1, beta2, 1−beta2, 1/c2, epsilon (8-14). Locals: i and end in bytes
 * (15, 16), gi, mi, vi (17-19), the splatted scalars (20-26).
 */
function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
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
  const func = [
    ...vec([
      [...uleb(2), I32],
      [...uleb(10), V128],
    ]),
    ...body,
  ];
  const params: number[] = [...(Array(8).fill(I32) as number[]), ...(Array(7).fill(F32) as number[])];
  // A shared memory import must say so and give a maximum (4 GiB); a plain one takes any memory.
  const limits = shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(params.map((p) => [p])), 0x00]])),
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, ...limits]])),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...str('adam'), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

const compiled = new Map<boolean, WebAssembly.Module | null>();
const instances = new WeakMap<WebAssembly.Memory, AdamFn | null>();

function adamFor(memory: WebAssembly.Memory): AdamFn | null {
  let fn = instances.get(memory);
  if (fn !== undefined) return fn;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  let mod = compiled.get(shared);
  if (mod === undefined) {
    const bytes = moduleBytes(shared);
    mod = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null; // null: no wasm SIMD here
    compiled.set(shared, mod);
  }
  try {
    fn = mod ? (new WebAssembly.Instance(mod, { env: { memory } }).exports.adam as AdamFn) : null;
  } catch {
    fn = null;
  }
  instances.set(memory, fn);
  return fn;
}

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
  const fn = adamFor(memory);
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

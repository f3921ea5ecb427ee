// The few pieces of the WebAssembly binary format our hand-encoded SIMD kernels (adam-simd.ts, channel-simd.ts) are
// written in, and their loader: a module importing `env.memory` (the wasm backend's heap or a data-parallel
// session's shared memory), compiled once per memory kind and instantiated once per memory.

/** Unsigned LEB128, the format's integer encoding. */
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
export const str = (s: string) => [...uleb(s.length), ...Buffer.from(s)];
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export const I32_ADD = 0x6a;
export const simd = (op: number) => [0xfd, ...uleb(op)];
/** local.get / local.set */
export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
const MEMARG = [0x04, 0x00]; // align 2^4, offset 0 (a hint: unaligned addresses work)
export const LOAD = [...simd(0x00), ...MEMARG];
export const STORE = [...simd(0x0b), ...MEMARG];

/** One exported function: its parameter types and its code (the locals vector followed by the body, without `end`'s length prefix). */
export interface WasmFunction {
  name: string;
  params: number[];
  code: number[];
}

/** A module of `functions` (no results) importing env.memory; a shared memory import must say so and give a maximum (4 GiB). */
function moduleBytes(functions: readonly WasmFunction[], shared: boolean): Uint8Array<ArrayBuffer> {
  const limits = shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0x00]))),
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, ...limits]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map((f) => [...uleb(f.code.length), ...f.code]))),
  ]);
}

/**
 * A loader for `functions` over any memory: the exports bound to that memory, or null where wasm SIMD is missing
 * (the module does not validate) or it cannot be instantiated. Compiled once per kind of memory (plain or shared),
 * instantiated once per memory.
 */
export function simdModule<T>(functions: readonly WasmFunction[]): (memory: WebAssembly.Memory) => T | null {
  const compiled = new Map<boolean, WebAssembly.Module | null>();
  const instances = new WeakMap<WebAssembly.Memory, T | null>();
  return (memory) => {
    let exports = instances.get(memory);
    if (exports !== undefined) return exports;
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    let mod = compiled.get(shared);
    if (mod === undefined) {
      const bytes = moduleBytes(functions, shared);
      mod = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
      compiled.set(shared, mod);
    }
    try {
      exports = mod ? (new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as T) : null;
    } catch {
      exports = null;
    }
    instances.set(memory, exports);
    return exports;
  };
}

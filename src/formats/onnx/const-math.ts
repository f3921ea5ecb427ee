// Arithmetic on constant tensors, for folding what an ONNX graph computes at import time (weight reshapes and
// transposes, static shape chains) and for rearranging weights into tfjs's layouts.
import { constOf, type Const } from './proto.ts';

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** out[i0..] = in[i_perm...]: numpy transpose (out axis k = in axis perm[k]). */
export function transpose(c: Const, perm: number[]): Const {
  const outShape = perm.map((p) => c.shape[p]);
  const inStrides = strides(c.shape);
  const out = c.int ? new Float64Array(c.data.length) : new Float32Array(c.data.length);
  const outStrides = strides(outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = 0;
    for (let k = 0; k < outShape.length; k++) {
      idx[k] = Math.floor(rem / outStrides[k]);
      rem -= idx[k] * outStrides[k];
      src += idx[k] * inStrides[perm[k]];
    }
    out[o] = c.data[src];
  }
  return constOf(out, outShape, c.int);
}

export const reshape = (c: Const, shape: number[]): Const => constOf(c.data, shape, c.int);

/** numpy broadcasting of two shapes; null when they do not broadcast. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(Math.max(x, y));
  }
  return out;
}

/** Element of `c` at the broadcast index `idx` of shape `outShape`. */
function broadcastIndex(c: Const, outShape: number[], flat: number, outStrides: number[]): number {
  const s = strides(c.shape);
  const offset = outShape.length - c.shape.length;
  let rem = flat;
  let src = 0;
  for (let k = 0; k < outShape.length; k++) {
    const i = Math.floor(rem / outStrides[k]);
    rem -= i * outStrides[k];
    const ck = k - offset;
    if (ck >= 0 && c.shape[ck] !== 1) src += i * s[ck];
  }
  return src;
}

export function elementwise(a: Const, b: Const, f: (x: number, y: number) => number): Const | null {
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape) return null;
  const int = a.int && b.int;
  const out = int ? new Float64Array(size(shape)) : new Float32Array(size(shape));
  const os = strides(shape);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[broadcastIndex(a, shape, i, os)], b.data[broadcastIndex(b, shape, i, os)]);
  return constOf(out, shape, int);
}

/** Gather along `axis` (negative indices count from the end). */
export function gather(data: Const, indices: Const, axis: number): Const {
  const ax = axis < 0 ? axis + data.shape.length : axis;
  const outer = size(data.shape.slice(0, ax));
  const inner = size(data.shape.slice(ax + 1));
  const dim = data.shape[ax];
  const idx = Array.from(indices.data, (i) => (i < 0 ? i + dim : i));
  const out = data.int ? new Float64Array(outer * idx.length * inner) : new Float32Array(outer * idx.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) for (const i of idx) for (let b = 0; b < inner; b++) out[o++] = data.data[(a * dim + i) * inner + b];
  return constOf(out, [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)], data.int);
}

export function concat(parts: Const[], axis: number): Const {
  const rank = parts[0].shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  const outer = size(parts[0].shape.slice(0, ax));
  const shape = [...parts[0].shape];
  shape[ax] = parts.reduce((s, p) => s + p.shape[ax], 0);
  const int = parts.every((p) => p.int);
  const out = int ? new Float64Array(size(shape)) : new Float32Array(size(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of parts) {
      const chunk = size(p.shape.slice(ax));
      out.set(p.data.subarray(a * chunk, (a + 1) * chunk), o);
      o += chunk;
    }
  }
  return constOf(out, shape, int);
}

/** numpy-style slicing of a constant along `axes` (ONNX Slice semantics: clamped starts/ends, negative steps). */
export function sliceConst(c: Const, starts: number[], ends: number[], axes: number[], steps: number[]): Const {
  const rank = c.shape.length;
  const ranges = c.shape.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((rawAxis, i) => {
    const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
    const d = c.shape[axis];
    const step = steps[i] ?? 1;
    const norm = (v: number) => (v < 0 ? v + d : v);
    let start = norm(starts[i]);
    let end = norm(ends[i]);
    if (step > 0) {
      start = Math.max(0, Math.min(d, start));
      end = Math.max(0, Math.min(d, end));
    } else {
      start = Math.max(-1, Math.min(d - 1, start));
      end = Math.max(-1, Math.min(d - 1, end));
    }
    ranges[axis] = { start, step, count: Math.max(0, Math.ceil((end - start) / step)) };
  });
  const shape = ranges.map((r) => r.count);
  const inStrides = strides(c.shape);
  const outStrides = strides(shape);
  const out = c.int ? new Float64Array(size(shape)) : new Float32Array(size(shape));
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = 0;
    for (let k = 0; k < rank; k++) {
      const i = Math.floor(rem / outStrides[k]);
      rem -= i * outStrides[k];
      src += (ranges[k].start + i * ranges[k].step) * inStrides[k];
    }
    out[o] = c.data[src];
  }
  return constOf(out, shape, c.int);
}

/** A scalar (size-1) constant's value, or the common value of a constant whose elements are all equal. */
export function uniformValue(c: Const): number | null {
  if (c.data.length === 0) return null;
  const v = c.data[0];
  for (let i = 1; i < c.data.length; i++) if (c.data[i] !== v) return null;
  return v;
}

export const ints = (c: Const): number[] => Array.from(c.data, (v) => Math.trunc(v));

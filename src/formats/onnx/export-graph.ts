// The graph being written by the ONNX exporter: nodes, initializers (float32, or uint8/float16 weights behind
// DequantizeLinear/Cast when a quantized model keeps its codes), unique names and the layout of every 4-D value.
// tfjs values are NHWC; ONNX Conv/pool ops are NCHW, so a 4-D value is kept in whichever order it was produced in
// and transposed (once, cached) only where a consumer needs the other order.
import { onnx, type NodeProto, type TensorProto } from './proto.ts';

/** A weight as stored: float32 values (dequantized) and, for a quantized model, the codes as stored. */
export interface ExportWeight {
  name: string;
  shape: number[];
  values: Float32Array;
  quant?: { dtype: 'uint8'; codes: Uint8Array; scale: number; min: number } | { dtype: 'float16'; half: Uint16Array };
}

/** A value of the graph. `shape` is the tfjs (logical, NHWC) shape; `nchw` says a 4-D value is stored NCHW. */
export interface Val {
  name: string;
  shape: (number | null)[];
  nchw: boolean;
}

type Attr = number | number[] | string;

const NCHW_PERM = [0, 3, 1, 2];
const QDQ_MIN_ELEMENTS = 256;
const NHWC_PERM = [0, 2, 3, 1];

/** Values of a row-major tensor of `shape` permuted by `perm` (numpy transpose semantics). */
export function transposeArray<T extends Float32Array | Uint8Array | Uint16Array>(data: T, shape: number[], perm: number[]): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strides = perm.map((p) => inStrides[p]);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * strides[d];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export class OnnxWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly transposed = new Map<string, Val>();

  constructor(readonly quantized: 'qdq' | 'float') {}

  /** A name not used yet, derived from `base`. */
  fresh(base: string): string {
    const clean = base.replace(/[^\w./:-]+/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, base = op): string {
    const out = this.fresh(base);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        name: this.fresh(`${out}/${op}`),
        input: inputs,
        output: [out],
        attribute: Object.entries(attrs).map(([k, v]) =>
          typeof v === 'string'
            ? { name: k, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(v) }
            : Array.isArray(v)
              ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
              : Number.isInteger(v) && !FLOAT_ATTRS.has(k)
                ? { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v }
                : { name: k, type: onnx.AttributeProto.AttributeType.FLOAT, f: v },
        ),
      }),
    );
    return out;
  }

  floatConst(base: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.fresh(base);
    const raw = Float32Array.from(data);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(raw.buffer) });
    return name;
  }

  int64Const(base: string, values: number[]): string {
    const name = this.fresh(base);
    const raw = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(raw.buffer) });
    return name;
  }

  /**
   * A weight as an initializer, permuted by `perm` then viewed as `dims`. A quantized model in `qdq` mode keeps its
   * uint8 codes (DequantizeLinear; an Add restores a minimum that is not a whole number of steps) or its float16
   * halves (Cast); otherwise the float32 values tfjs itself computes.
   */
  weight(w: ExportWeight, perm: number[] | null = null, dims: number[] | null = null): string {
    const shape = perm ? perm.map((p) => w.shape[p]) : w.shape;
    const outDims = dims ?? shape;
    const base = w.name;
    // Small tensors (biases, normalisation parameters) stay float32, as ONNX quantizers leave them: their codes
    // would save less than the DequantizeLinear nodes cost.
    const q = this.quantized === 'qdq' && w.values.length >= QDQ_MIN_ELEMENTS ? w.quant : undefined;
    if (q?.dtype === 'uint8') {
      const codes = perm ? transposeArray(q.codes, w.shape, perm) : q.codes;
      const name = this.fresh(`${base}/quantized`);
      this.initializers.push({ name, dims: outDims, dataType: onnx.TensorProto.DataType.UINT8, rawData: new Uint8Array(codes) });
      const zp = -q.min / q.scale;
      const whole = Math.abs(zp - Math.round(zp)) < 1e-6 && Math.round(zp) >= 0 && Math.round(zp) <= 255;
      const zpName = this.fresh(`${base}/zero_point`);
      this.initializers.push({
        name: zpName,
        dims: [],
        dataType: onnx.TensorProto.DataType.UINT8,
        rawData: new Uint8Array([whole ? Math.round(zp) : 0]),
      });
      const deq = this.node(
        'DequantizeLinear',
        [name, this.floatConst(`${base}/scale`, [], [q.scale]), zpName],
        {},
        whole ? base : `${base}/codes_scaled`,
      );
      return whole ? deq : this.node('Add', [deq, this.floatConst(`${base}/min`, [], [q.min])], {}, base);
    }
    if (q?.dtype === 'float16') {
      const half = perm ? transposeArray(q.half, w.shape, perm) : q.half;
      const name = this.fresh(`${base}/float16`);
      this.initializers.push({ name, dims: outDims, dataType: onnx.TensorProto.DataType.FLOAT16, rawData: new Uint8Array(half.buffer.slice(0)) });
      return this.node('Cast', [name], { to: onnx.TensorProto.DataType.FLOAT }, base);
    }
    return this.floatConst(base, outDims, perm ? transposeArray(w.values, w.shape, perm) : w.values);
  }

  /** `v` stored NCHW (4-D values only). */
  nchw(v: Val): Val {
    if (v.shape.length !== 4 || v.nchw) return v;
    return this.cachedTranspose(v, NCHW_PERM, true);
  }

  /** `v` in tfjs order. */
  logical(v: Val): Val {
    if (!v.nchw) return v;
    return this.cachedTranspose(v, NHWC_PERM, false);
  }

  private cachedTranspose(v: Val, perm: number[], nchw: boolean): Val {
    const hit = this.transposed.get(v.name);
    if (hit) return hit;
    const out: Val = { name: this.node('Transpose', [v.name], { perm }, `${v.name}/${nchw ? 'nchw' : 'nhwc'}`), shape: v.shape, nchw };
    this.transposed.set(v.name, out);
    this.transposed.set(out.name, v);
    return out;
  }

  /** Index in the stored order of tfjs axis `axis` (negative counts from the end). */
  physicalAxis(v: Val, axis: number): number {
    const a = axis < 0 ? v.shape.length + axis : axis;
    return v.nchw ? NCHW_PERM.indexOf(a) : a;
  }
}

/** Attributes ONNX types as float even when the value happens to be whole. */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'gamma', 'epsilon', 'momentum', 'value_float', 'lambd', 'bias']);

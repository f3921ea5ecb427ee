// ONNX helpers for tests: run a model in ONNX Runtime, hand-build small graphs with onnx-proto (for ops and opsets
// PyTorch 1.13 does not write), move a model's weights into an external data file, and compare outputs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { onnx } from '../../src/formats/onnx/proto.ts';
import { readMnist } from '../unit/ml-mnist.ts';

/**
 * ONNX Runtime's QDQ-aware rewrites off: by default it runs a DequantizeLinear → MatMul/Gemm weight as an integer
 * matmul over dynamically quantized activations (~3e-2 from the float result), which is not the model's arithmetic.
 */
export const EXACT_QDQ: ort.InferenceSession.SessionOptions = { extra: { session: { disable_quant_qdq: '1' } } };

export const ONNX_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/onnx');

export interface FixtureInfo {
  opset: number;
  preprocessing: { scale: number; offset: number; mean?: number[]; std?: number[]; layout: 'NCHW' | 'NHWC' };
  outputs: string;
  torchAccuracy?: number;
}

export const fixtureInfo = (name: string): FixtureInfo =>
  (JSON.parse(fs.readFileSync(path.join(ONNX_FIXTURES, 'fixtures.json'), 'utf8')) as Record<string, FixtureInfo>)[name];

/** `n` MNIST test images preprocessed as x·scale + offset, then (x − mean) / std; NCHW [n, 1, 28, 28] order. */
export function mnistInputs(n: number, p: { scale: number; offset: number; mean?: number[]; std?: number[] }, offset = 0) {
  const { images, labels } = readMnist('test', offset + n);
  const mean = p.mean?.[0] ?? 0;
  const std = p.std?.[0] ?? 1;
  const x = Float32Array.from(images.subarray(offset * 784), (v) => (v * p.scale + p.offset - mean) / std);
  return { x, labels: labels.subarray(offset), n };
}

/** Runs an ONNX model on `x` ([n, ...perExample]), in batches of `batch` (1 for graphs with a fixed batch of 1). */
export async function runOrt(
  model: string | Uint8Array,
  x: Float32Array,
  perExample: number[],
  batch: number,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model as string, options);
  try {
    const per = perExample.reduce((a, b) => a * b, 1);
    const n = x.length / per;
    const outs: Float32Array[] = [];
    for (let i = 0; i < n; i += batch) {
      const b = Math.min(batch, n - i);
      const feed = { [session.inputNames[0]]: new ort.Tensor('float32', x.slice(i * per, (i + b) * per), [b, ...perExample]) };
      const result = await session.run(feed);
      outs.push(result[session.outputNames[0]].data as Float32Array);
    }
    const out = new Float32Array(outs.reduce((s, o) => s + o.length, 0));
    let o = 0;
    for (const part of outs) {
      out.set(part, o);
      o += part.length;
    }
    return out;
  } finally {
    await session.release();
  }
}

/** NCHW [n, c, h, w] → NHWC. */
export function nchwToNhwc(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let ci = 0; ci < c; ci++)
      for (let y = 0; y < h; y++) for (let xi = 0; xi < w; xi++) out[((i * h + y) * w + xi) * c + ci] = x[((i * c + ci) * h + y) * w + xi];
  return out;
}

/** Largest |a − b| / max(1, |b|): absolute for ordinary values, relative for large logits (e.g. of 0-255 inputs). */
export function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmaxAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (scores[i * classes + k] > scores[i * classes + best]) best = k;
    if (best === labels[i]) ok++;
  }
  return ok / labels.length;
}

type Attr = number | number[] | string;

/** A node for `graph()`. */
export const node = (op: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, name = outputs[0]) =>
  onnx.NodeProto.create({
    opType: op,
    name,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([k, v]) =>
      typeof v === 'string'
        ? { name: k, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(v) }
        : Array.isArray(v)
          ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
          : Number.isInteger(v)
            ? { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v }
            : { name: k, type: onnx.AttributeProto.AttributeType.FLOAT, f: v },
    ),
  });

export const floatTensor = (name: string, dims: number[], data: ArrayLike<number>) =>
  onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(data).buffer) });

export const int64Tensor = (name: string, values: number[]) =>
  onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });

const valueInfo = (name: string, shape: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });

/** A serialised single-input single-output model. */
export function graph(opts: {
  opset: number;
  nodes: ReturnType<typeof node>[];
  initializers: ReturnType<typeof floatTensor>[];
  input: [string, (number | string)[]];
  output: [string, (number | string)[]];
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: opts.opset >= 21 ? 10 : 8,
    producerName: 'modelpress-tests',
    opsetImport: [{ domain: '', version: opts.opset }],
    graph: {
      name: 'g',
      node: opts.nodes,
      initializer: opts.initializers,
      input: [valueInfo(...opts.input)],
      output: [valueInfo(...opts.output)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Moves every initializer's bytes into one external data file; returns the new model bytes and the data. */
export function withExternalData(modelBytes: Uint8Array, location: string): { model: Uint8Array; data: Buffer } {
  const model = onnx.ModelProto.decode(modelBytes);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const raw = Buffer.from(t.rawData ?? new Uint8Array());
    if (raw.length === 0) continue;
    t.rawData = new Uint8Array();
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    chunks.push(raw);
    offset += raw.length;
  }
  return { model: onnx.ModelProto.encode(model).finish(), data: Buffer.concat(chunks) };
}

// TF.js Layers model → ONNX (opset 13). The model is loaded with tfjs and its layer graph walked from the outputs,
// so Sequential and functional models (branches, merges, shared inputs) go through the same path; each layer is
// written by its entry in export-layers.ts. The graph takes its input NHWC (a Transpose feeds the NCHW convolutions)
// or NCHW (models imported from NCHW graphs, matching the original). Quantized weights stay uint8 behind
// DequantizeLinear (QDQ) or are written as the float32 values tfjs decodes. Every layer that cannot be written is
// named in one UNSUPPORTED_OPERATOR error.
import { AppError } from '../../errors.ts';
import { loadModelFromArtifacts } from '../../ml/model-io.ts';
import { tf } from '../../ml/tf.ts';
import type { ExportOptions, ExportResult } from '../models/types.ts';
import { OnnxWriter, type ExportWeight, type Val } from './export-graph.ts';
import { LAYER_WRITERS, NotExportable } from './export-layers.ts';
import type onnxProto from 'onnx-proto';
import { onnx } from './proto.ts';

type ValueInfo = onnxProto.onnx.IValueInfoProto;

export const EXPORT_OPSET = 13;

type Sym = tf.SymbolicTensor;
type Spec = tf.io.WeightsManifestEntry;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** The stored bytes of every weight, by manifest name (quantized codes for quantized entries). */
function storedWeights(artifacts: tf.io.ModelArtifacts): Map<string, { spec: Spec; bytes: Uint8Array }> {
  const data = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
  const out = new Map<string, { spec: Spec; bytes: Uint8Array }>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    const len = spec.shape.reduce((a, b) => a * b, 1) * (BYTES[spec.quantization?.dtype ?? spec.dtype] ?? 4);
    out.set(spec.name, { spec, bytes: data.slice(offset, offset + len) });
    offset += len;
  }
  return out;
}

/** tfjs's loader also accepts manifest names with an inner cell scope (layer/cell/weight): match those too. */
function findStored(stored: Map<string, { spec: Spec; bytes: Uint8Array }>, originalName: string) {
  const direct = stored.get(originalName);
  if (direct) return direct;
  for (const [name, v] of stored) {
    const t = name.split('/');
    if (
      t
        .slice(0, -2)
        .concat(t[t.length - 1])
        .join('/') === originalName
    )
      return v;
  }
  return undefined;
}

async function layerWeights(layer: tf.layers.Layer, stored: ReturnType<typeof storedWeights>): Promise<Map<string, ExportWeight>> {
  const out = new Map<string, ExportWeight>();
  const values = layer.getWeights();
  for (let i = 0; i < layer.weights.length; i++) {
    const v = layer.weights[i];
    const short = v.originalName.split('/').pop() ?? v.originalName;
    const w: ExportWeight = { name: v.originalName, shape: v.shape.map(Number), values: (await values[i].data()) as Float32Array };
    const s = findStored(stored, v.originalName);
    const q = s?.spec.quantization;
    if (s && q?.dtype === 'uint8' && typeof q.scale === 'number' && typeof q.min === 'number') {
      w.quant = { dtype: 'uint8', codes: s.bytes, scale: q.scale, min: q.min };
    } else if (s && q?.dtype === 'float16') {
      w.quant = { dtype: 'float16', half: new Uint16Array(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength / 2) };
    }
    out.set(short, w);
  }
  return out;
}

const valueInfo = (name: string, shape: (number | null)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d, i) => (d === null ? { dimParam: i === 0 ? 'batch' : `d${i}` } : { dimValue: d })) },
      },
    },
  });

/** The ONNX graph of a loaded tfjs model, serialised. */
export async function modelToOnnx(model: tf.LayersModel, artifacts: tf.io.ModelArtifacts, opts: Pick<ExportOptions, 'quantized' | 'inputLayout'>) {
  const w = new OnnxWriter(opts.quantized);
  const stored = storedWeights(artifacts);
  const values = new Map<number, Val>();
  const inputs: ValueInfo[] = [];
  for (const x of model.inputs) {
    if (x.dtype !== 'float32') throw new AppError('UNSUPPORTED_OPERATOR', `input ${x.name} is ${x.dtype}: only float32 inputs export to ONNX`);
    const name = w.fresh(x.sourceLayer.name);
    const nchw = x.shape.length === 4 && opts.inputLayout === 'NCHW';
    const shape = nchw ? [x.shape[0], x.shape[3], x.shape[1], x.shape[2]] : x.shape;
    inputs.push(valueInfo(name, shape));
    values.set(x.id, { name, shape: x.shape, nchw });
  }

  // Layers in dependency order: a depth-first walk from the outputs through each call's inbound tensors.
  const failures: { op: string; node: string; reason: string }[] = [];
  const visiting = new Set<number>();
  const walk = async (t: Sym): Promise<Val | null> => {
    const known = values.get(t.id);
    if (known) return known;
    if (visiting.has(t.id)) throw new AppError('INVALID_MODEL', `cycle at ${t.name}`);
    visiting.add(t.id);
    const layer = t.sourceLayer;
    const node = layer.inboundNodes[t.nodeIndex];
    const ins: (Val | null)[] = [];
    for (const x of node.inputTensors) ins.push(await walk(x));
    const className = layer.getClassName();
    const writer = LAYER_WRITERS[className];
    let out: Val | null = null;
    if (!writer) failures.push({ op: className, node: layer.name, reason: 'no ONNX writer for this layer class' });
    else if (ins.every((v): v is Val => v !== null)) {
      try {
        const config = layer.getConfig() as Record<string, unknown>;
        out = writer({ w, name: w.fresh(layer.name), config, inputs: ins, weights: await layerWeights(layer, stored), outShape: t.shape });
      } catch (err) {
        if (!(err instanceof NotExportable)) throw err;
        failures.push({ op: className, node: layer.name, reason: err.message });
      }
    }
    if (node.outputTensors.length !== 1 && out) {
      failures.push({ op: className, node: layer.name, reason: 'layers with several outputs are not exported' });
      out = null;
    }
    if (out) values.set(t.id, out);
    return out;
  };
  const outputs: ValueInfo[] = [];
  for (const y of model.outputs) {
    const v = await walk(y);
    if (!v) continue;
    const logical = w.logical(v);
    const name = w.node('Identity', [logical.name], {}, y.sourceLayer.name === logical.name ? `${y.sourceLayer.name}/output` : y.sourceLayer.name);
    outputs.push(valueInfo(name, y.shape));
  }
  if (failures.length > 0) {
    const detail = failures.map((f) => `${f.op} (layer ${f.node}: ${f.reason})`).join('; ');
    throw new AppError('UNSUPPORTED_OPERATOR', `the model has layers that cannot be exported to ONNX: ${detail}`, { operators: failures });
  }
  const proto = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'modelpress',
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    graph: { name: model.name, node: w.nodes, initializer: w.initializers, input: inputs, output: outputs },
  });
  return Buffer.from(onnx.ModelProto.encode(proto).finish());
}

/** The registry's ONNX export: artifacts in, a .onnx file out. */
export async function exportOnnx(artifacts: tf.io.ModelArtifacts, opts: ExportOptions): Promise<ExportResult> {
  const model = await loadModelFromArtifacts(artifacts);
  try {
    const data = await modelToOnnx(model, artifacts, opts);
    return { data, fileName: `${opts.baseName}.onnx`, mediaType: 'application/octet-stream' };
  } finally {
    model.dispose();
  }
}

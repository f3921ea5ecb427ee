// ONNX → trainable TF.js functional model. The graph is walked once in its topological order; each node goes
// through its handler in ops/ (constants fold, computed tensors become layers). NCHW image graphs become NHWC
// models with transposed weights; the record keeps the layout and input shape the original expected. Every node
// that cannot be converted is collected, and all of them are reported in one UNSUPPORTED_OPERATOR error.
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../errors.ts';
import { importKeras } from '../keras/build.ts';
import type { ImportResult, LocalFile, SourceInfo } from '../models/types.ts';
import { OpContext, Unsupported } from './context.ts';
import { OnnxGraph } from './graph.ts';
import { identityPerm, LayersBuilder, NHWC, type Dyn, type Value } from './layers.ts';
import { OP_HANDLERS } from './ops/index.ts';
import { decodeModel, type ExternalData } from './proto.ts';

export const MIN_OPSET = 7;
export const MAX_OPSET = 21;

/** External data lives in files uploaded beside the model, found by the `location` the tensor names. */
function externalData(files: LocalFile[]): ExternalData {
  return (location, offset, length) => {
    const wanted = path.posix.basename(location.replace(/\\/g, '/'));
    const file = files.find((f) => path.posix.basename(f.path) === wanted);
    if (!file) throw new AppError('MISSING_WEIGHTS', `the model's weights are in ${location}: upload that file with the .onnx`, { path: location });
    const fd = fs.openSync(file.localPath, 'r');
    try {
      const total = fs.fstatSync(fd).size;
      const len = length ?? total - offset;
      if (offset < 0 || offset + len > total)
        throw new AppError('WEIGHTS_MISMATCH', `${location} is shorter than the model says (${offset + len} > ${total} bytes)`);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, offset);
      return buf;
    } finally {
      fs.closeSync(fd);
    }
  };
}

/** How the graph input becomes the tfjs input: NCHW images are fed NHWC; tf2onnx's NHWC input + Transpose stays NHWC. */
function inputValue(graph: OnnxGraph, builder: LayersBuilder): { value: Dyn; layout: SourceInfo['layout'] } {
  const { name, shape } = graph.input;
  const dims = shape.slice(1);
  if (dims.some((d) => d === null))
    throw new AppError('INVALID_MODEL', `the ONNX input ${name} has shape [${shape.map((d) => d ?? '?')}]: only the batch may be free`);
  const free = [null, ...dims] as (number | null)[];
  if (shape.length !== 4) {
    const layer = builder.input(name, dims as number[]);
    return { value: { kind: 'dyn', layer, shape: free, perm: identityPerm(shape.length) }, layout: null };
  }
  const consumers = graph.consumersOf(name);
  const nhwcInput =
    consumers.length > 0 && consumers.every((n) => n.op === 'Transpose' && (n.attrs.get('perm') as number[] | undefined)?.join() === '0,3,1,2');
  if (nhwcInput) {
    const layer = builder.input(name, dims as number[]);
    return { value: { kind: 'dyn', layer, shape: free, perm: identityPerm(4) }, layout: 'NHWC' };
  }
  const [c, h, w] = dims as number[];
  const layer = builder.input(name, [h, w, c]);
  return { value: { kind: 'dyn', layer, shape: free, perm: NHWC }, layout: 'NCHW' };
}

export async function importOnnx(files: LocalFile[]): Promise<ImportResult> {
  const file = files[0];
  const model = decodeModel(await fs.promises.readFile(file.localPath), file.path);
  const graph = new OnnxGraph(model, externalData(files.slice(1)));
  if (graph.opset < MIN_OPSET || graph.opset > MAX_OPSET) {
    throw new AppError('INVALID_MODEL', `${file.path} uses ONNX opset ${graph.opset}; opsets ${MIN_OPSET}-${MAX_OPSET} are supported`, {
      opset: graph.opset,
    });
  }
  const unknown = graph.nodes.filter((n) => (n.domain && n.domain !== 'ai.onnx') || !OP_HANDLERS[n.op]);
  if (unknown.length > 0) throw unsupportedError(unknown.map((n) => ({ op: n.domain ? `${n.domain}.${n.op}` : n.op, node: n.name })));

  const builder = new LayersBuilder();
  const values = new Map<string, Value>(graph.initializers);
  const { value: input, layout } = inputValue(graph, builder);
  values.set(graph.input.name, input);
  builder.named(input.layer);
  const staticBatch = graph.input.shape[0];
  const poisoned = new Set<string>();
  const failures: { op: string; node: string; reason: string }[] = [];
  for (const node of graph.nodes) {
    if (node.inputs.some((i) => poisoned.has(i))) {
      node.outputs.forEach((o) => poisoned.add(o));
      continue;
    }
    try {
      OP_HANDLERS[node.op](new OpContext(node, graph, builder, values, staticBatch));
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      failures.push({ op: node.op, node: node.name, reason: err.reason });
      node.outputs.forEach((o) => poisoned.add(o));
    }
  }
  if (failures.length > 0) throw unsupportedError(failures);

  const outputs = graph.outputs.map((name) => {
    const v = values.get(name);
    if (!v || v.kind !== 'dyn') throw new AppError('INVALID_MODEL', `the ONNX output ${name} is a constant or was never computed`);
    // Outputs keep ONNX's axis order.
    return builder.permute(v, identityPerm(v.shape.length), `output_${name}`);
  });
  const notes: string[] = [];
  if (graph.producer) notes.push(`written by ${graph.producer}`);
  if (staticBatch !== null) notes.push(`the graph's fixed batch size ${staticBatch} was made free`);
  if (layout === 'NCHW') notes.push('NCHW graph converted to an NHWC model (weights transposed); feed NHWC images');
  const lastOps = graph.outputs.map((o) => graph.nodes.find((n) => n.outputs.includes(o))?.op);
  if (lastOps.includes('LogSoftmax')) notes.push('the model outputs log-probabilities (LogSoftmax): trained and evaluated as logits');

  const result = await importKeras(builder.topology(outputs.map((o) => o.layer)), (layer) => builder.weights.get(layer.name) ?? [], {
    version: `opset ${graph.opset}`,
    notes,
  });
  return { ...result, source: { ...result.source, layout, inputShape: graph.input.shape } };
}

function unsupportedError(list: { op: string; node: string; reason?: string }[]): AppError {
  const ops = [...new Set(list.map((u) => u.op))];
  const detail = list.map((u) => `${u.op} (node ${u.node}${u.reason ? `: ${u.reason}` : ''})`).join('; ');
  return new AppError(
    'UNSUPPORTED_OPERATOR',
    `the ONNX graph uses ${ops.length === 1 ? 'an operator' : 'operators'} that cannot be converted: ${detail}`,
    {
      operators: list,
    },
  );
}

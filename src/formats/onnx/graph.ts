// An ONNX graph as the importer walks it: nodes in (the required) topological order with their attributes,
// constants (initializers and Constant nodes), who consumes each value, and which values are computable at import
// time (constants, and the static shape arithmetic — Shape/Gather/Unsqueeze/Concat — fed by them).
import { AppError } from '../../errors.ts';
import { attributes, readTensor, toNumber, valueShape, type AttrValue, type Const, type ExternalData, type ModelProto } from './proto.ts';

export interface OnnxNode {
  index: number;
  op: string;
  domain: string;
  /** The node's name, or op_index when it has none. */
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttrValue>;
}

/** Ops whose result is a constant whenever their inputs are (Shape: whenever its input's shape is static). */
const FOLDABLE = new Set([
  'Shape',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Reshape',
  'Cast',
  'Slice',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Identity',
  'Transpose',
  'ConstantOfShape',
  'Flatten',
]);

export class OnnxGraph {
  readonly nodes: OnnxNode[];
  readonly initializers = new Map<string, Const>();
  readonly consumers = new Map<string, OnnxNode[]>();
  /** Values computable at import time. */
  readonly constNames = new Set<string>();
  readonly input: { name: string; shape: (number | null)[] };
  readonly outputs: string[];
  readonly opset: number;
  readonly producer: string;

  constructor(model: ModelProto, external: ExternalData | null) {
    const graph = model.graph!;
    const opsets = model.opsetImport ?? [];
    const main = opsets.find((o) => !o.domain || o.domain === 'ai.onnx');
    this.opset = main ? toNumber(main.version) : 1;
    this.producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', readTensor(t, external));
    const inputs = (graph.input ?? []).filter((i) => !this.initializers.has(i.name ?? ''));
    if (inputs.length !== 1) {
      throw new AppError(
        'INVALID_MODEL',
        `the ONNX graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); only single-input models are supported`,
      );
    }
    const shape = valueShape(inputs[0]);
    if (!shape) throw new AppError('INVALID_MODEL', `the ONNX graph input ${inputs[0].name} has no static shape`);
    this.input = { name: inputs[0].name ?? '', shape };
    this.outputs = (graph.output ?? []).map((o) => o.name ?? '');
    this.nodes = (graph.node ?? []).map((n, index) => ({
      index,
      op: n.opType ?? '',
      domain: n.domain ?? '',
      name: n.name || `${n.opType ?? 'node'}_${index}`,
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attrs: attributes(n, external),
    }));
    for (const name of this.initializers.keys()) this.constNames.add(name);
    for (const node of this.nodes) {
      for (const i of node.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), node]);
      const constInputs = node.inputs.filter(Boolean).every((i) => this.constNames.has(i));
      if (node.op === 'Constant' || node.op === 'Shape' || (FOLDABLE.has(node.op) && constInputs))
        for (const o of node.outputs) this.constNames.add(o);
    }
  }

  consumersOf(value: string): OnnxNode[] {
    return this.consumers.get(value) ?? [];
  }

  isGraphOutput(value: string): boolean {
    return this.outputs.includes(value);
  }
}

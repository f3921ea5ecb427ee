// What an op handler sees: its node's inputs as run-time values (Dyn) or constants, its attributes with ONNX
// defaults, the layers builder, and the graph (to look at consumers before fusing). A handler that meets something
// it cannot convert throws Unsupported; the importer collects those for every node and reports them all at once.
import type { OnnxGraph, OnnxNode } from './graph.ts';
import type { LayerConfig } from '../keras/config.ts';
import type { Dyn, LayersBuilder, Value } from './layers.ts';
import type { AttrValue, Const } from './proto.ts';

export class Unsupported extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export class OpContext {
  constructor(
    readonly node: OnnxNode,
    readonly graph: OnnxGraph,
    readonly builder: LayersBuilder,
    private readonly values: Map<string, Value>,
    /** The static batch size the original graph declared (e.g. 1), or null when it was symbolic. */
    readonly staticBatch: number | null,
  ) {}

  get opset(): number {
    return this.graph.opset;
  }

  get name(): string {
    return this.node.name;
  }

  has(i: number): boolean {
    return Boolean(this.node.inputs[i]);
  }

  value(i: number): Value {
    const name = this.node.inputs[i];
    const v = name ? this.values.get(name) : undefined;
    if (!v) throw new Unsupported(`input ${i} (${name || 'missing'}) is not available`);
    return v;
  }

  dyn(i: number): Dyn {
    const v = this.value(i);
    if (v.kind !== 'dyn') throw new Unsupported(`input ${i} is a constant where a computed tensor is expected`);
    return v;
  }

  constant(i: number, what = `input ${i}`): Const {
    const v = this.value(i);
    if (v.kind !== 'const') throw new Unsupported(`${what} must be a constant (it is computed at run time)`);
    return v;
  }

  optConstant(i: number): Const | null {
    return this.has(i) ? this.constant(i) : null;
  }

  allConst(): boolean {
    return this.node.inputs.filter(Boolean).every((n) => this.values.get(n)?.kind === 'const');
  }

  attr(name: string): AttrValue | undefined {
    return this.node.attrs.get(name);
  }

  int(name: string, fallback: number): number {
    const v = this.node.attrs.get(name);
    return typeof v === 'number' ? Math.trunc(v) : fallback;
  }

  float(name: string, fallback: number): number {
    const v = this.node.attrs.get(name);
    return typeof v === 'number' ? v : fallback;
  }

  ints(name: string): number[] | null {
    const v = this.node.attrs.get(name);
    return Array.isArray(v) ? v.map(Math.trunc) : null;
  }

  string(name: string, fallback: string): string {
    const v = this.node.attrs.get(name);
    return typeof v === 'string' ? v : fallback;
  }

  out(v: Value, i = 0): void {
    const name = this.node.outputs[i];
    if (!name) return;
    this.values.set(name, v);
    if (v.kind === 'dyn') this.builder.named(v.layer);
  }

  /** This node was folded into the layer behind input `i` (see fusableLayer): its output is that layer's, rewritten. */
  outFused(i: number, v: Dyn): void {
    const input = this.values.get(this.inputName(i));
    if (input?.kind === 'dyn') this.builder.unnamed(input.layer);
    this.out(v);
  }

  /**
   * The layer behind input `i` when this node may rewrite it (fold into it): it has class `classes`, this node is
   * the only consumer of the value, and nothing else reads the layer yet.
   */
  fusableLayer(i: number, classes: readonly string[]): LayerConfig | null {
    const v = this.values.get(this.inputName(i));
    if (!v || v.kind !== 'dyn' || !this.soleConsumer(this.inputName(i)) || !this.builder.fusable(v.layer)) return null;
    const layer = this.builder.layer(v.layer);
    return layer && classes.includes(layer.class_name) ? layer : null;
  }

  /** Whether output `i` feeds exactly one node and is not a graph output (so its layer may be fused into). */
  soleConsumer(valueName: string): boolean {
    return this.graph.consumersOf(valueName).length === 1 && !this.graph.isGraphOutput(valueName);
  }

  /** The name of the ONNX value input `i` refers to. */
  inputName(i: number): string {
    return this.node.inputs[i] ?? '';
  }

  unsupported(reason: string): never {
    throw new Unsupported(reason);
  }
}

// The channel dependency graph of a tfjs model (as Torch-Pruning's DepGraph): which output channels of which layers
// must be removed together. Every channel a weighted layer creates (a Dense unit, a conv filter, an embedding
// dimension) is an *element*; every tensor's last axis is a vector of elements (one per position; several positions
// may carry the same element after Flatten or a depthwise multiplier). Layers propagate these vectors (per-channel
// layers pass them through, Concatenate joins them, Flatten repeats them per spatial position) and couple them
// (Add/Subtract/Multiply/Average/Maximum/Minimum unite position i of every input). Elements that reach the model
// output or a layer that mixes channels without weights (LayerNormalization, Softmax, Dot, RNNs, …) are pinned.
// Connected elements form a component (removed as one); components of connected layers form a group (pruned
// together at one fraction). One handler per layer class in a table, so adding a class is one entry.
import { tf } from '../../tf.ts';

/** How a layer's weights relate to its input and output vectors (see `weightAxes`). */
export type LayerRole = 'producer' | 'depthwise' | 'separable' | 'perChannel' | 'passive' | 'pinned';

export interface LayerChannels {
  layer: tf.layers.Layer;
  role: LayerRole;
  /** Element per position of the (first) input's last axis; empty for layers fed only by pinned sources. */
  input: number[];
  /** Element per position of the (first) output's last axis. */
  output: number[];
}

/** A channel source: the units of one producer layer, or a pinned tensor (model input, output of a mixing layer). */
interface Source {
  layer?: string;
  size: number;
  first: number;
}

export class ChannelGraph {
  readonly layers = new Map<string, LayerChannels>();
  /** Why elements were pinned: layer name → reason (for the error when nothing is prunable). */
  readonly pins = new Map<string, string>();
  private readonly parent: number[] = [];
  private readonly pinned: boolean[] = [];
  /** Source of each element and the element's index in it. */
  readonly elementSource: number[] = [];
  readonly elementIndex: number[] = [];
  readonly sources: Source[] = [];
  private readonly sourceParent: number[] = [];

  /** A new source of `size` elements; `layer` names the producer (undefined for pinned tensors). */
  newSource(size: number, layer?: string, pinReason?: [string, string]): number[] {
    const s = this.sources.length;
    const first = this.parent.length;
    this.sources.push({ layer, size, first });
    this.sourceParent.push(s);
    const out: number[] = [];
    for (let i = 0; i < size; i++) {
      const e = this.parent.length;
      this.parent.push(e);
      this.pinned.push(false);
      this.elementSource.push(s);
      this.elementIndex.push(i);
      out.push(e);
    }
    // A source without a producer layer (model input, output of a mixing layer) has no weights to remove.
    if (pinReason || layer === undefined) this.pin(out, ...(pinReason ?? ['', '']));
    return out;
  }

  find(e: number): number {
    while (this.parent[e] !== e) {
      this.parent[e] = this.parent[this.parent[e]];
      e = this.parent[e];
    }
    return e;
  }

  private findSource(s: number): number {
    while (this.sourceParent[s] !== s) {
      this.sourceParent[s] = this.sourceParent[this.sourceParent[s]];
      s = this.sourceParent[s];
    }
    return s;
  }

  union(a: number, b: number): void {
    const [ra, rb] = [this.find(a), this.find(b)];
    if (ra === rb) return;
    this.parent[rb] = ra;
    this.pinned[ra] = this.pinned[ra] || this.pinned[rb];
    const [sa, sb] = [this.findSource(this.elementSource[a]), this.findSource(this.elementSource[b])];
    if (sa !== sb) this.sourceParent[sb] = sa;
  }

  pin(elements: readonly number[], layer: string, reason: string): void {
    // The first reason stays, except that 'model output' (the plainest one) wins.
    if (layer && elements.length > 0 && (!this.pins.has(layer) || reason === 'model output')) this.pins.set(layer, reason);
    for (const e of elements) this.pinned[this.find(e)] = true;
  }

  isPinned(e: number): boolean {
    return this.pinned[this.find(e)];
  }

  /** The group (connected layers) an element belongs to. */
  groupOf(e: number): number {
    return this.findSource(this.elementSource[e]);
  }

  get elementCount(): number {
    return this.parent.length;
  }
}

const PASS_THROUGH = new Set([
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'ThresholdedReLU',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'MaxPooling1D',
  'MaxPooling2D',
  'MaxPooling3D',
  'AveragePooling1D',
  'AveragePooling2D',
  'AveragePooling3D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'ZeroPadding2D',
  'Cropping2D',
  'UpSampling2D',
  'RepeatVector',
]);
const ELEMENTWISE = new Set(['Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum']);
const PRODUCERS = new Set(['Dense', 'Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'Embedding']);
/** Activations that mix the channels of a position: a producer with one cannot lose units. */
const MIXING_ACTIVATIONS = new Set(['softmax', 'logsoftmax', 'logSoftmax']);

type Shape = (number | null)[];

function cfg(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig();
}

function channelsLast(layer: tf.layers.Layer): boolean {
  const format = cfg(layer).dataFormat;
  return format === undefined || format === 'channelsLast';
}

/** Whether `axis` (possibly negative, or a one-element list) is the last axis of a tensor of `rank`. */
function isLastAxis(axis: unknown, rank: number): boolean {
  const a: unknown = Array.isArray(axis) ? (axis.length === 1 ? (axis[0] as unknown) : NaN) : axis;
  return a === -1 || a === rank - 1;
}

const lastDim = (shape: Shape) => shape[shape.length - 1] ?? NaN;

/** Row-major positions of a [..., spatial, C] tensor flattened to one axis: channel c at p*C + c. */
function flattenVector(vec: number[], shape: Shape): number[] | undefined {
  const spatial = shape.slice(1, -1).reduce<number>((a, b) => a * (b ?? NaN), 1);
  if (!Number.isFinite(spatial)) return undefined;
  const out: number[] = [];
  for (let p = 0; p < spatial; p++) out.push(...vec);
  return out;
}

/** What a handler returns: the output vector(s) and the layer's role; undefined pins the layer. */
interface Handled {
  role: LayerRole;
  outputs: number[][];
}
type Handler = (g: ChannelGraph, layer: tf.layers.Layer, inputs: number[][], inShapes: Shape[], outShapes: Shape[]) => Handled | string;

function producer(g: ChannelGraph, layer: tf.layers.Layer, outShapes: Shape[]): Handled | string {
  if (!channelsLast(layer)) return 'channels-first layout';
  const size = lastDim(outShapes[0]);
  const activation = cfg(layer).activation;
  if (typeof activation === 'string' && MIXING_ACTIVATIONS.has(activation)) {
    return { role: 'producer', outputs: [g.newSource(size, layer.name, [layer.name, `${activation} activation mixes its units`])] };
  }
  return { role: 'producer', outputs: [g.newSource(size, layer.name)] };
}

/** Per layer class: how channel vectors flow through it. A string result pins the layer's inputs with that reason. */
const HANDLERS: Record<string, Handler> = {
  Dense: (g, l, _i, _s, out) => producer(g, l, out),
  Conv1D: (g, l, _i, _s, out) => producer(g, l, out),
  Conv2D: (g, l, _i, _s, out) => producer(g, l, out),
  Conv3D: (g, l, _i, _s, out) => producer(g, l, out),
  Conv2DTranspose: (g, l, _i, _s, out) => producer(g, l, out),
  Embedding: (g, l, _i, _s, out) => producer(g, l, out),
  DepthwiseConv2D: (_g, l, [vec]) => {
    if (!channelsLast(l)) return 'channels-first layout';
    const m = (cfg(l).depthMultiplier as number | undefined) ?? 1;
    // Output channel c*m + j is computed from input channel c alone.
    return { role: 'depthwise', outputs: [vec.flatMap((e) => Array<number>(m).fill(e))] };
  },
  SeparableConv2D: (g, l, _i, _s, out) =>
    channelsLast(l) ? { role: 'separable', outputs: [g.newSource(lastDim(out[0]), l.name)] } : 'channels-first layout',
  SeparableConv1D: (g, l, _i, _s, out) =>
    channelsLast(l) ? { role: 'separable', outputs: [g.newSource(lastDim(out[0]), l.name)] } : 'channels-first layout',
  BatchNormalization: (_g, l, [vec], [shape]) =>
    isLastAxis(cfg(l).axis, shape.length) ? { role: 'perChannel', outputs: [vec] } : 'normalizes over an axis other than the channels',
  PReLU: (_g, l, [vec]) => {
    const shared = (cfg(l).sharedAxes as number[] | null | undefined) ?? [];
    return { role: shared.length > 0 ? 'passive' : 'perChannel', outputs: [vec] };
  },
  Flatten: (_g, _l, [vec], [shape]) => {
    const out = flattenVector(vec, shape);
    return out ? { role: 'passive', outputs: [out] } : 'flattens an input of unknown spatial size';
  },
  Reshape: (_g, l, [vec], [inShape]) => {
    const target = cfg(l).targetShape as number[];
    // Channels stay the last axis (e.g. [H, W, C] → [H*W, C]): pass through, the target's last entry shrinks.
    if (target.at(-1) === lastDim(inShape)) return { role: 'passive', outputs: [vec] };
    // Flattening reshape: as Flatten.
    if (target.length === 1) {
      const out = flattenVector(vec, inShape);
      if (out) return { role: 'passive', outputs: [out] };
    }
    return 'reshapes across the channel axis';
  },
  Permute: (_g, l, [vec], [shape]) => {
    const dims = cfg(l).dims as number[];
    return dims.at(-1) === shape.length - 1 ? { role: 'passive', outputs: [vec] } : 'moves the channel axis';
  },
  Concatenate: (g, l, inputs, inShapes) => {
    if (isLastAxis(cfg(l).axis ?? -1, inShapes[0].length)) return { role: 'passive', outputs: [inputs.flat()] };
    for (const vec of inputs.slice(1)) vec.forEach((e, i) => g.union(inputs[0][i], e));
    return { role: 'passive', outputs: [inputs[0]] };
  },
};
for (const name of PASS_THROUGH) HANDLERS[name] = (_g, _l, [vec]) => ({ role: 'passive', outputs: [vec] });
for (const name of ELEMENTWISE) {
  HANDLERS[name] = (g, l, inputs) => {
    const width = Math.max(...inputs.map((v) => v.length));
    const full = inputs.filter((v) => v.length === width);
    // A broadcast input (one channel) cannot lose it; the full-width inputs are coupled position by position.
    g.pin(inputs.filter((v) => v.length !== width).flat(), l.name, 'broadcasts a single channel');
    for (const vec of full.slice(1)) vec.forEach((e, i) => g.union(full[0][i], e));
    return { role: 'passive', outputs: [full[0]] };
  };
}
// Activation layers with a mixing function (softmax) pin like the Softmax layer.
const activationHandler = HANDLERS.Activation;
HANDLERS.Activation = (g, l, inputs, inShapes, outShapes) => {
  const fn = cfg(l).activation;
  return typeof fn === 'string' && MIXING_ACTIVATIONS.has(fn)
    ? `${fn} activation mixes channels`
    : activationHandler(g, l, inputs, inShapes, outShapes);
};

/**
 * Narrowing (a freshly initialised student of fewer channels, distill's widthMultiplier) keeps no weights, so layers
 * whose weights cannot be sliced still narrow: a recurrent layer's units are a free width (its inputs are too), a
 * wrapper's inner layer sets the width, LayerNormalization is per channel. Only the coupling and pins remain.
 */
const NARROWING_HANDLERS: Record<string, Handler> = {
  LayerNormalization: (_g, l, [vec], [shape]) =>
    isLastAxis(cfg(l).axis ?? -1, shape.length) ? { role: 'perChannel', outputs: [vec] } : 'normalizes over an axis other than the channels',
  Bidirectional: (g, l) => {
    const inner = (l as unknown as { forwardLayer: tf.layers.Layer }).forwardLayer;
    const units = cfg(inner).units as number;
    const src = g.newSource(units, l.name);
    // concat: forward then backward units; sum/mul/ave: one vector.
    return { role: 'producer', outputs: [cfg(l).mergeMode === 'concat' ? [...src, ...src] : src] };
  },
  TimeDistributed: (g, l, _i, _s, out) => {
    const inner = (l as unknown as { layer: tf.layers.Layer }).layer;
    return inner.getClassName() in HANDLERS && isProducerClass(inner.getClassName())
      ? { role: 'producer', outputs: [g.newSource(lastDim(out[0]), l.name)] }
      : `TimeDistributed(${inner.getClassName()}) is not narrowable`;
  },
};
for (const name of ['SimpleRNN', 'LSTM', 'GRU']) NARROWING_HANDLERS[name] = (g, l, _i, _s, out) => producer(g, l, out);

const shapesOf = (tensors: tf.SymbolicTensor[]) => tensors.map((t) => t.shape);

/**
 * Builds the channel graph of `model`: vectors of every layer, couplings, pins (model inputs and outputs too).
 * `narrowing`: the graph for a re-initialised narrower copy (NARROWING_HANDLERS), not for slicing weights.
 */
export function channelGraph(model: tf.LayersModel, opts: { narrowing?: boolean } = {}): ChannelGraph {
  const g = new ChannelGraph();
  const vectors = new Map<number, number[]>();
  for (const input of model.inputs) vectors.set(input.id, g.newSource(lastDim(input.shape), undefined, [input.name, 'model input']));

  type Pending = { layer: tf.layers.Layer; node: (typeof model.layers)[number]['inboundNodes'][number] };
  let pending: Pending[] = model.layers.flatMap((layer) => layer.inboundNodes.map((node) => ({ layer, node })));
  while (pending.length > 0) {
    const next: Pending[] = [];
    for (const item of pending) {
      const { layer, node } = item;
      if (layer.getClassName() === 'InputLayer') continue;
      const inputs = node.inputTensors.map((t) => vectors.get(t.id));
      if (inputs.some((v) => v === undefined)) {
        next.push(item);
        continue;
      }
      const ins = inputs as number[][];
      const inShapes = shapesOf(node.inputTensors);
      const outShapes = shapesOf(node.outputTensors);
      const handler = (opts.narrowing ? NARROWING_HANDLERS[layer.getClassName()] : undefined) ?? HANDLERS[layer.getClassName()];
      let result = handler ? handler(g, layer, ins, inShapes, outShapes) : `${layer.getClassName()} is not channel-prunable`;
      if (typeof result === 'string') {
        g.pin(ins.flat(), layer.name, result);
        result = { role: 'pinned', outputs: outShapes.map((s) => g.newSource(lastDim(s))) };
      }
      const known = g.layers.get(layer.name);
      if (known) {
        // A shared layer: its inputs (and its per-channel weights) are the same channels on every call.
        known.input.forEach((e, i) => ins[0]?.[i] !== undefined && g.union(e, ins[0][i]));
        if (known.role !== 'producer' && known.role !== 'separable' && known.role !== 'pinned') {
          known.output.forEach((e, i) => result.outputs[0][i] !== undefined && g.union(e, result.outputs[0][i]));
        } else if (result.role === 'producer' || result.role === 'separable') {
          // Same kernel, so the new call's units are the first call's units.
          result.outputs[0].forEach((e, i) => g.union(known.output[i], e));
        }
      } else {
        g.layers.set(layer.name, { layer, role: result.role, input: ins[0] ?? [], output: result.outputs[0] });
      }
      node.outputTensors.forEach((t, i) => vectors.set(t.id, result.outputs[i] ?? g.newSource(lastDim(t.shape))));
    }
    if (next.length === pending.length) break; // nodes of other models sharing these layers
    pending = next;
  }
  for (const output of model.outputs) {
    const vec = vectors.get(output.id);
    if (vec) g.pin(vec, output.sourceLayer.name, 'model output');
  }
  return g;
}

/** Producers: layers whose kernels create the elements (their names key `removed`). */
export const isProducerClass = (className: string) => PRODUCERS.has(className) || className.startsWith('SeparableConv');

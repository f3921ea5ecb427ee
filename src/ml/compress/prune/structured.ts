// Structured pruning on any functional graph: remove whole channel groups (Dense units, conv filters, embedding
// dimensions together with every channel coupled to them: residual Adds, BatchNorm, depthwise convs, Concatenate
// slices, Flatten blocks) chosen by group importance, and rebuild a physically smaller model with the same
// topology and layer names. The coupling comes from the channel dependency graph (channel-graph.ts).
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';
import { assertSparsity } from './magnitude.ts';
import { channelGraph, type ChannelGraph, type LayerChannels } from './channel-graph.ts';

export type UnitNorm = 'l1' | 'l2';
/** Group importance: L1/L2 norm of the coupled weights, or the sum of |gamma| of the batch norms in the group. */
export type ChannelImportance = UnitNorm | 'bn';

export interface StructuredPruneOptions {
  /** Share of the removable channels of each group removed (0..1); every layer keeps at least one unit. */
  fraction: number;
  norm: UnitNorm;
  /** Overrides `norm`; 'bn' ranks by batch-norm |gamma| (groups without a batch norm: L2). */
  importance?: ChannelImportance;
  excludeLayers?: readonly string[];
}

export interface StructuredPruneResult {
  model: tf.LayersModel;
  /** Original indices of the removed units, per producer layer name (sorted ascending). */
  removed: Record<string, number[]>;
  /** Layers whose channels could not be removed, with the reason (model output, channel-mixing layer, …). */
  pinned: Record<string, string>;
}

function invalid(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('INVALID_JOB_PARAMS', message, details);
}

/** Per-output-unit norm of a kernel whose last axis indexes the units (Dense [in, out], Conv2D [kh, kw, in, out]). */
export function unitNorms(kernel: tf.Tensor, norm: UnitNorm): Float32Array {
  return axisNorms(kernel, kernel.rank - 1, norm === 'l1' ? 'l1' : 'sq');
}

/** Per-index sum of |w| (l1) or of w² (sq) along `axis`. */
function axisNorms(w: tf.Tensor, axis: number, kind: 'l1' | 'sq'): Float32Array {
  return tf.tidy(() => {
    const perm = [...Array(w.rank).keys()].filter((a) => a !== axis).concat(axis);
    const flat = w.transpose(perm).reshape([-1, w.shape[axis]]);
    const n = kind === 'l1' ? flat.abs().sum(0) : flat.square().sum(0);
    return n.dataSync() as Float32Array;
  });
}

const suffix = (w: tf.LayerVariable) => w.originalName.slice(w.originalName.lastIndexOf('/') + 1);

/** Kept positions of the layer's input, output and (separable convs) depthwise output. */
interface Kept {
  input: number[];
  output: number[];
  mid: number[];
}

/** For each weight of a layer: the axes it is sliced along and the positions kept on each. */
function weightAxes(info: LayerChannels, w: tf.LayerVariable, kept: Kept): [number, number[]][] {
  const rank = w.shape.length;
  const name = suffix(w);
  const cls = info.layer.getClassName();
  if (name === 'bias') return info.role === 'pinned' || info.role === 'passive' ? [] : [[0, kept.output]];
  switch (info.role) {
    case 'producer':
      if (cls === 'Embedding') return [[1, kept.output]];
      if (cls === 'Conv2DTranspose')
        return [
          [rank - 2, kept.output],
          [rank - 1, kept.input],
        ];
      return [
        [rank - 2, kept.input],
        [rank - 1, kept.output],
      ];
    case 'depthwise':
      return [[2, kept.input]];
    case 'separable':
      return name === 'depthwise_kernel'
        ? [[rank - 2, kept.input]]
        : [
            [rank - 2, kept.mid],
            [rank - 1, kept.output],
          ];
    case 'perChannel':
      return [[rank - 1, kept.output]];
    default:
      return [];
  }
}

function keptPositions(g: ChannelGraph, vec: readonly number[], removed: ReadonlySet<number>): number[] {
  const out: number[] = [];
  vec.forEach((e, p) => removed.has(g.find(e)) || out.push(p));
  return out;
}

function keptOf(g: ChannelGraph, info: LayerChannels, removed: ReadonlySet<number>): Kept {
  const input = keptPositions(g, info.input, removed);
  const m = (info.layer.getConfig().depthMultiplier as number | undefined) ?? 1;
  return { input, output: keptPositions(g, info.output, removed), mid: input.flatMap((c) => Array.from({ length: m }, (_, j) => c * m + j)) };
}

/** Score per element: the coupled weights' L1 / squared L2 norms, and batch-norm |gamma| sums. */
function elementScores(g: ChannelGraph, importance: ChannelImportance): { norm: Float64Array; gamma: Float64Array; hasGamma: Uint8Array } {
  const norm = new Float64Array(g.elementCount);
  const gamma = new Float64Array(g.elementCount);
  const hasGamma = new Uint8Array(g.elementCount);
  const kind = importance === 'l1' ? 'l1' : 'sq';
  const add = (target: Float64Array, vec: readonly number[], values: Float32Array) => vec.forEach((e, p) => (target[e] += values[p]));
  for (const info of g.layers.values()) {
    for (const w of info.layer.weights) {
      const name = suffix(w);
      const v = w.read();
      if (info.role === 'producer' && name !== 'bias') {
        const axis = info.layer.getClassName() === 'Conv2DTranspose' ? v.rank - 2 : v.rank - 1;
        add(norm, info.output, axisNorms(v, axis, kind));
      } else if (info.role === 'separable' && name === 'pointwise_kernel') {
        add(norm, info.output, axisNorms(v, v.rank - 1, kind));
      } else if (info.role === 'depthwise' && name === 'depthwise_kernel') {
        add(norm, info.input, axisNorms(v, 2, kind));
      } else if (info.role === 'perChannel' && info.layer.getClassName() === 'BatchNormalization' && name === 'gamma') {
        add(gamma, info.output, axisNorms(v, 0, 'l1'));
        info.output.forEach((e) => (hasGamma[e] = 1));
      }
    }
  }
  return { norm, gamma, hasGamma };
}

interface Component {
  root: number;
  elements: number[];
  score: number;
}

/** Component roots to remove: per group, `fraction` of its removable components with the lowest importance. */
function selectRemoved(g: ChannelGraph, fraction: number, importance: ChannelImportance | 'none'): { removed: Set<number>; removableGroups: number } {
  const zeros = () => ({ norm: new Float64Array(g.elementCount), gamma: new Float64Array(g.elementCount), hasGamma: new Uint8Array(g.elementCount) });
  // 'none' (narrowing): every score 0, so the channels are taken in graph order.
  const { norm, gamma, hasGamma } = importance === 'none' ? zeros() : elementScores(g, importance);
  const components = new Map<number, Component>();
  for (let e = 0; e < g.elementCount; e++) {
    const root = g.find(e);
    const c = components.get(root) ?? { root, elements: [], score: 0 };
    c.elements.push(e);
    components.set(root, c);
  }
  const groups = new Map<number, { free: Component[]; bn: boolean }>();
  for (const c of components.values()) {
    const key = g.groupOf(c.root);
    const group = groups.get(key) ?? { free: [], bn: false };
    if (!g.isPinned(c.root)) group.free.push(c);
    group.bn ||= c.elements.some((e) => hasGamma[e] === 1);
    groups.set(key, group);
  }
  const removed = new Set<number>();
  const left = new Map<number, number>(); // source → elements still kept
  let removableGroups = 0;
  for (const group of groups.values()) {
    if (group.free.length === 0) continue;
    removableGroups++;
    for (const c of group.free) {
      // Several positions can carry one element (Flatten, depthwise multiplier); each element counts once.
      const raw = c.elements.reduce((s, e) => s + (importance === 'bn' && group.bn ? gamma[e] : norm[e]), 0);
      c.score = importance === 'l1' || (importance === 'bn' && group.bn) ? raw : Math.sqrt(raw);
    }
    const count = Math.round(fraction * group.free.length);
    const order = [...group.free].sort((a, b) => a.score - b.score || a.root - b.root);
    let taken = 0;
    for (const c of order) {
      if (taken >= count) break;
      // Every source (a producer's units) keeps at least one channel: a layer with 0 units is no layer.
      const sources = new Map<number, number>();
      for (const e of c.elements) sources.set(g.elementSource[e], (sources.get(g.elementSource[e]) ?? 0) + 1);
      if ([...sources].some(([s, n]) => (left.get(s) ?? g.sources[s].size) - n < 1)) continue;
      for (const [s, n] of sources) left.set(s, (left.get(s) ?? g.sources[s].size) - n);
      removed.add(c.root);
      taken++;
    }
  }
  return { removed, removableGroups };
}

/** Component roots of the (producer name → unit indices) map, on a fresh graph of the same model. */
function rootsOf(g: ChannelGraph, removed: Record<string, number[]>): Set<number> {
  const roots = new Set<number>();
  for (const info of g.layers.values()) {
    const gone = removed[info.layer.name];
    if (!gone || (info.role !== 'producer' && info.role !== 'separable')) continue;
    for (const i of gone) roots.add(g.find(info.output[i]));
  }
  return roots;
}

function removedRecord(g: ChannelGraph, roots: ReadonlySet<number>): Record<string, number[]> {
  const removed: Record<string, number[]> = {};
  for (const info of g.layers.values()) {
    if (info.role !== 'producer' && info.role !== 'separable') continue;
    const gone = info.output.flatMap((e, i) => (roots.has(g.find(e)) ? [i] : []));
    if (gone.length > 0) removed[info.layer.name] = gone;
  }
  return removed;
}

/** Pins the channels leaving each excluded layer. */
function exclude(g: ChannelGraph, names: readonly string[]): void {
  for (const name of names) {
    const info = g.layers.get(name);
    if (!info) throw invalid(`excludeLayers names an unknown layer: ${name}`, { layer: name });
    g.pin(info.output, name, 'excluded');
  }
}

type TopologyLayer = { class_name: string; config: Record<string, unknown> };

/** The model's topology with each layer's unit count (and Reshape targets) set to what `kept` leaves. */
function resizedTopology(model: tf.LayersModel, g: ChannelGraph, kept: Map<string, Kept>): tf.io.ModelJSON {
  const topology = model.toJSON(null, false) as unknown as { config: { layers: TopologyLayer[] } };
  for (const entry of topology.config.layers) {
    const name = entry.config.name as string;
    const info = g.layers.get(name);
    const k = kept.get(name);
    if (!info || !k || k.output.length === info.output.length) continue;
    if (info.role === 'producer' || info.role === 'separable') {
      for (const key of ['units', 'filters', 'output_dim']) if (key in entry.config) entry.config[key] = k.output.length;
      // Wrappers (Bidirectional, TimeDistributed; narrowing only) size their inner layer; concat repeats each unit.
      const inner = (entry.config.layer as TopologyLayer | undefined)?.config;
      const units = entry.config.merge_mode === 'concat' ? k.output.length / 2 : k.output.length;
      if (inner) for (const key of ['units', 'filters']) if (key in inner) inner[key] = units;
    } else if (entry.class_name === 'Reshape') {
      const target = [...(entry.config.target_shape as number[])];
      if (target.at(-1) !== -1) target[target.length - 1] = k.output.length;
      entry.config.target_shape = target;
    }
  }
  return { modelTopology: topology } as unknown as tf.io.ModelJSON;
}

/**
 * Removes, in every channel group of the model, `fraction` of its removable channels (lowest importance first) and
 * returns a new, smaller model with the same topology and layer names. The input model is left unchanged. Refuses
 * (422) a model where no channel at all can be removed, naming the layers that pin them.
 */
export async function structuredPrune(model: tf.LayersModel, opts: StructuredPruneOptions): Promise<StructuredPruneResult> {
  assertSparsity(opts.fraction, 'fraction');
  if (opts.norm !== 'l1' && opts.norm !== 'l2') throw invalid(`norm must be 'l1' or 'l2', got ${String(opts.norm)}`, { field: 'norm' });
  const importance = opts.importance ?? opts.norm;
  if (!['l1', 'l2', 'bn'].includes(importance))
    throw invalid(`importance must be 'l1', 'l2' or 'bn', got ${String(importance)}`, { field: 'importance' });
  const g = channelGraph(model);
  exclude(g, opts.excludeLayers ?? []);
  const pinned = Object.fromEntries(g.pins);
  const { removed: roots, removableGroups } = selectRemoved(g, opts.fraction, importance);
  if (removableGroups === 0 && opts.fraction > 0) {
    const reasons = [...g.pins].map(([layer, why]) => `${layer} (${why})`).join('; ');
    throw new AppError('NOT_PRUNABLE', `structured pruning: no channel of this model can be removed: ${reasons}`, { layers: pinned });
  }
  const kept = new Map([...g.layers].map(([name, info]) => [name, keptOf(g, info, roots)]));
  const pruned = await tf.models.modelFromJSON(resizedTopology(model, g, kept));
  try {
    for (const layer of model.layers) {
      const info = g.layers.get(layer.name);
      const k = kept.get(layer.name);
      const weights = tf.tidy(() =>
        layer.weights.map((w) => {
          let v = w.read();
          if (info && k)
            for (const [axis, positions] of weightAxes(info, w, k)) if (positions.length !== v.shape[axis]) v = tf.gather(v, positions, axis);
          // A fresh tensor, not gather's output: on wasm, gather's result keeps a rank-4 shape in the backend's
          // data map, which fused matmul/conv kernels then reject as a bias ("only supports rank-1 bias").
          return tf.tensor(v.dataSync(), v.shape, v.dtype);
        }),
      );
      pruned.getLayer(layer.name).setWeights(weights);
      tf.dispose(weights);
    }
  } catch (e) {
    pruned.dispose();
    throw e;
  }
  return { model: pruned, removed: removedRecord(g, roots), pinned };
}

/**
 * Zeroes, in place, every weight `structuredPrune` deletes for `removed` (kernel columns and rows, biases, batch-norm
 * entries of the removed channels). The result computes the same function as the rebuilt model.
 */
export function zeroRemovedUnits(model: tf.LayersModel, removed: Record<string, number[]>): void {
  const g = channelGraph(model);
  const roots = rootsOf(g, removed);
  for (const info of g.layers.values()) {
    const k = keptOf(g, info, roots);
    for (const w of info.layer.weights) {
      const axes = weightAxes(info, w, k);
      if (axes.every(([axis, positions]) => positions.length === w.shape[axis])) continue;
      tf.tidy(() => {
        let v = w.read();
        for (const [axis, positions] of axes) {
          const mask = new Float32Array(v.shape[axis]);
          for (const p of positions) mask[p] = 1;
          v = v.mul(
            tf.tensor(
              mask,
              v.shape.map((d, a) => (a === axis ? d : 1)),
            ),
          );
        }
        w.write(v);
      });
    }
  }
}

/**
 * The model's topology narrowed to about `widthMultiplier` of the channels of every channel group (coupled layers
 * narrowed together: residual Adds, BatchNorm, depthwise convs, Concatenate slices, Flatten blocks, recurrent units;
 * model inputs and outputs keep their width), with every layer trainable, as a fresh model: the teacher's
 * initializer configs give its weights (distill's widthMultiplier student). The input model is left unchanged.
 */
export async function narrowedModel(model: tf.LayersModel, widthMultiplier: number): Promise<tf.LayersModel> {
  if (!(widthMultiplier > 0 && widthMultiplier <= 1))
    throw invalid(`widthMultiplier must be in (0, 1], got ${widthMultiplier}`, { field: 'widthMultiplier' });
  const g = channelGraph(model, { narrowing: true });
  const { removed } = selectRemoved(g, 1 - widthMultiplier, 'none');
  const kept = new Map([...g.layers].map(([name, info]) => [name, keptOf(g, info, removed)]));
  const json = resizedTopology(model, g, kept) as unknown as { modelTopology: { config: { layers: TopologyLayer[] } } };
  for (const layer of json.modelTopology.config.layers) layer.config.trainable = true;
  return tf.models.modelFromJSON(json as unknown as tf.io.ModelJSON);
}

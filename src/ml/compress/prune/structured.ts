// Structured pruning: remove whole Dense units / Conv2D filters with the smallest kernel norm and rebuild a
// physically smaller model. Removing unit u of layer P also removes the matching input rows/channels of the
// next weighted layer (the consumer) and u's slice of every per-channel layer in between (batch norm).
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';
import { assertSparsity } from './magnitude.ts';

export type UnitNorm = 'l1' | 'l2';

export interface StructuredPruneOptions {
  /** Share of units/filters removed from each prunable layer (0..1); at least one unit always stays. */
  fraction: number;
  norm: UnitNorm;
  excludeLayers?: readonly string[];
}

export interface StructuredPruneResult {
  model: tf.LayersModel;
  /** Original indices of the removed units, per pruned layer name (sorted ascending). */
  removed: Record<string, number[]>;
}

const WEIGHTED = new Set(['Dense', 'Conv2D']);
// Layers that act on each channel independently (or only spatially): channel c in → channel c out.
const PER_CHANNEL = new Set([
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'ThresholdedReLU',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'ZeroPadding2D',
  'Cropping2D',
  'UpSampling2D',
  'BatchNormalization',
  'Flatten',
]);

/** A prunable layer, the layers its units pass through, and the layer that consumes them. */
interface UnitLink {
  producer: tf.layers.Layer;
  between: tf.layers.Layer[];
  consumer: tf.layers.Layer;
  /** Positions per channel in the consumer's input (H*W when a Flatten sits between a conv and a dense). */
  spatial: number;
  units: number;
}

function invalid(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('INVALID_JOB_PARAMS', message, details);
}

function config(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig();
}

function isChannelsLast(layer: tf.layers.Layer): boolean {
  const format = config(layer).dataFormat;
  return format === undefined || format === 'channelsLast';
}

/** The model's layers (input layers left out), checked to form a single chain. */
function chainLayers(model: tf.LayersModel): tf.layers.Layer[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw invalid('structured pruning supports single-input, single-output models only');
  }
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  layers.forEach((layer, i) => {
    const inbound = layer.inboundNodes.flatMap((n) => n.inboundLayers);
    const ok = layer.inboundNodes.length === 1 && (i === 0 ? inbound.length <= 1 : inbound.length === 1 && inbound[0] === layers[i - 1]);
    if (!ok) throw invalid(`structured pruning supports chain (sequential) models only; layer ${layer.name} is not`, { layer: layer.name });
  });
  return layers;
}

function linkFor(layers: tf.layers.Layer[], i: number): UnitLink | undefined {
  const producer = layers[i];
  if (!WEIGHTED.has(producer.getClassName()) || !isChannelsLast(producer)) return undefined;
  const between: tf.layers.Layer[] = [];
  let spatial = 1;
  for (let j = i + 1; j < layers.length; j++) {
    const layer = layers[j];
    const cls = layer.getClassName();
    if (WEIGHTED.has(cls)) {
      if (!isChannelsLast(layer)) return undefined;
      const units = producer.getWeights()[0].shape.at(-1)!;
      return { producer, between, consumer: layer, spatial, units };
    }
    if (!PER_CHANNEL.has(cls) || !isChannelsLast(layer)) return undefined;
    if (cls === 'BatchNormalization') {
      const axis = config(layer).axis as number;
      const rank = (layer.input as tf.SymbolicTensor).shape.length;
      if (axis !== -1 && axis !== rank - 1) return undefined;
    }
    if (cls === 'Flatten') {
      // Flatten is row-major over [H, W, C]: channel c lands on rows p*C + c for each position p.
      const shape = (layer.input as tf.SymbolicTensor).shape;
      spatial *= shape.slice(1, -1).reduce((a: number, b) => a * (b ?? NaN), 1);
      if (!Number.isFinite(spatial)) return undefined;
    }
    between.push(layer);
  }
  return undefined; // feeds the model output: its units are the output, never pruned
}

function links(model: tf.LayersModel, excludeLayers: readonly string[] = []): UnitLink[] {
  const layers = chainLayers(model);
  const known = new Set(layers.map((l) => l.name));
  for (const name of excludeLayers) if (!known.has(name)) throw invalid(`excludeLayers names an unknown layer: ${name}`, { layer: name });
  return layers.map((_, i) => linkFor(layers, i)).filter((l): l is UnitLink => l !== undefined && !excludeLayers.includes(l.producer.name));
}

/** Per-output-unit norm of a kernel whose last axis indexes the units (Dense [in, out], Conv2D [kh, kw, in, out]). */
export function unitNorms(kernel: tf.Tensor, norm: UnitNorm): Float32Array {
  return tf.tidy(() => {
    const flat = kernel.reshape([-1, kernel.shape.at(-1)!]);
    const n = norm === 'l1' ? flat.abs().sum(0) : flat.square().sum(0).sqrt();
    return n.dataSync() as Float32Array;
  });
}

/** Indices of the `count` smallest norms (ties: lower index first), ascending. */
function smallest(norms: Float32Array, count: number): number[] {
  const order = Array.from(norms.keys()).sort((a, b) => norms[a] - norms[b] || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

function complement(n: number, removed: readonly number[]): number[] {
  const gone = new Set(removed);
  return Array.from({ length: n }, (_, i) => i).filter((i) => !gone.has(i));
}

/** Input positions of the consumer that carry the given producer channels. */
function consumerRows(link: UnitLink, channels: readonly number[]): number[] {
  const rows: number[] = [];
  for (let p = 0; p < link.spatial; p++) for (const c of channels) rows.push(p * link.units + c);
  return rows;
}

/** Axis of the consumer's kernel that indexes its inputs. */
function inputAxis(consumer: tf.layers.Layer): number {
  return consumer.getClassName() === 'Dense' ? 0 : 2;
}

/**
 * Removes `fraction` of the units of every Dense/Conv2D layer that feeds another Dense/Conv2D through
 * per-channel layers only (so never the output layer), chosen by smallest L1/L2 kernel norm, and returns a new,
 * smaller model with the same layer names. The input model is left unchanged.
 */
export async function structuredPrune(model: tf.LayersModel, opts: StructuredPruneOptions): Promise<StructuredPruneResult> {
  assertSparsity(opts.fraction, 'fraction');
  if (opts.norm !== 'l1' && opts.norm !== 'l2') throw invalid(`norm must be 'l1' or 'l2', got ${String(opts.norm)}`, { field: 'norm' });
  const removed: Record<string, number[]> = {};
  const plan = links(model, opts.excludeLayers);
  for (const link of plan) {
    const count = Math.min(link.units - 1, Math.round(opts.fraction * link.units));
    if (count > 0) removed[link.producer.name] = smallest(unitNorms(link.producer.getWeights()[0], opts.norm), count);
  }

  // Per layer: kept output units (producer, and the per-channel layers after it) and kept input rows (consumer).
  const keepOut = new Map<string, number[]>();
  const keepIn = new Map<string, number[]>();
  for (const link of plan) {
    const gone = removed[link.producer.name];
    if (!gone) continue;
    const kept = complement(link.units, gone);
    for (const layer of [link.producer, ...link.between]) keepOut.set(layer.name, kept);
    keepIn.set(link.consumer.name, consumerRows(link, kept));
  }

  const topology = model.toJSON(null, false) as unknown as { config: { layers: { config: Record<string, unknown> }[] } };
  for (const entry of topology.config.layers) {
    const name = entry.config.name as string;
    const kept = keepOut.get(name);
    if (!kept) continue;
    if ('units' in entry.config) entry.config.units = kept.length;
    if ('filters' in entry.config) entry.config.filters = kept.length;
  }
  const pruned = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);

  for (const layer of model.layers) {
    const target = pruned.getLayer(layer.name);
    const out = keepOut.get(layer.name);
    const rows = keepIn.get(layer.name);
    const weights = tf.tidy(() =>
      layer.getWeights().map((w, idx) => {
        let v = w;
        const isKernel = idx === 0 && WEIGHTED.has(layer.getClassName());
        if (rows && isKernel) v = tf.gather(v, rows, inputAxis(layer));
        if (out) v = tf.gather(v, out, v.rank - 1); // kernels' last axis, and biases / batch-norm vectors
        // A fresh tensor, not gather's output: on wasm, gather's result keeps a rank-4 shape in the backend's
        // data map, which fused matmul/conv kernels then reject as a bias ("only supports rank-1 bias").
        return tf.tensor(v.dataSync(), v.shape, v.dtype);
      }),
    );
    target.setWeights(weights);
    tf.dispose(weights);
  }
  return { model: pruned, removed };
}

/**
 * Zeroes, in place, what `structuredPrune` removes for `removed`: the units' kernel columns and biases and the
 * consumer's matching input rows. The result computes the same function as the rebuilt model.
 */
export function zeroRemovedUnits(model: tf.LayersModel, removed: Record<string, number[]>): void {
  for (const link of links(model)) {
    const gone = removed[link.producer.name];
    if (!gone?.length) continue;
    const zeroAlong = (layer: tf.layers.Layer, idx: number, axis: number, positions: number[]) => {
      const variable = layer.weights[idx];
      tf.tidy(() => {
        const v = variable.read();
        const keep = new Uint8Array(v.shape[axis]).fill(1);
        for (const p of positions) keep[p] = 0;
        const shape = v.shape.map((_, a) => (a === axis ? v.shape[axis] : 1));
        variable.write(tf.where(tf.tensor(keep, shape, 'bool'), v, tf.zerosLike(v)));
      });
    };
    zeroAlong(link.producer, 0, link.producer.weights[0].shape.length - 1, gone);
    if (link.producer.weights.length > 1) zeroAlong(link.producer, 1, 0, gone);
    zeroAlong(link.consumer, 0, inputAxis(link.consumer), consumerRows(link, gone));
  }
}

// Keras 3 weight files (model.weights.h5 inside a .keras zip, or a .weights.h5): variables sit in
// `layers/<name>/vars/<i>`, where <name> is NOT the layer's name but its class in snake_case, numbered per class in
// layer order (dense, dense_1, …); nested models repeat the pattern under `layers/<name>/layers/…`, RNN cells under
// `…/cell/vars`. Newer Keras also writes the layer's real name as the `name` attribute of `vars`: used when present.
import { AppError } from '../../errors.ts';
import type { tf } from '../../ml/tf.ts';
import type { ImportResult } from '../models/types.ts';
import { importKeras } from './build.ts';
import type { TranslatedTopology } from './config.ts';
import type { H5Array, H5Reader } from './h5-file.ts';

/** Keras's naming.to_snake_case. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export const isKeras3WeightsFile = (reader: H5Reader) => reader.hasGroup('layers') || reader.hasGroup('_layer_checkpoint_dependencies');

/** Group names of a container's layers, in order: snake_case class, then _1, _2 … for repeats (InputLayers skipped). */
export function keras3GroupNames(layers: readonly tf.layers.Layer[]): Map<tf.layers.Layer, string> {
  const used = new Map<string, number>();
  const out = new Map<tf.layers.Layer, string>();
  for (const layer of layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const base = toSnakeCase(layer.getClassName());
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    out.set(layer, n === undefined ? base : `${base}_${n + 1}`);
  }
  return out;
}

/** Sort order of a leaf layer's variables: its own vars, then forward/backward (Bidirectional), then the rest. */
function varOrder(path: string): (string | number)[] {
  const rank = (seg: string) => (seg === 'vars' ? '0' : seg === 'forward_layer' ? '1' : seg === 'backward_layer' ? '2' : `3${seg}`);
  return path.split('/').map((seg) => (/^\d+$/.test(seg) ? Number(seg) : rank(seg)));
}

function compareVarPaths(a: string, b: string): number {
  const x = varOrder(a);
  const y = varOrder(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    if (typeof x[i] === 'number' && typeof y[i] === 'number') return (x[i] as number) - (y[i] as number);
    return String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

const byNameCache = new WeakMap<H5Reader, Map<string, Map<string, string>>>();

/** Groups under `parent` whose `vars` carry a `name` attribute: layer name → group path (computed once per parent). */
function groupsByLayerName(reader: H5Reader, parent: string): Map<string, string> {
  const cache = byNameCache.get(reader) ?? new Map<string, Map<string, string>>();
  byNameCache.set(reader, cache);
  const cached = cache.get(parent);
  if (cached) return cached;
  const out = new Map<string, string>();
  cache.set(parent, out);
  for (const child of reader.children(parent)) {
    const group = `${parent}/${child}`;
    const name = reader.attr(`${group}/vars`, 'name');
    if (typeof name === 'string') out.set(name, group);
  }
  return out;
}

/** The arrays of one layer stored under `group` (a container's layers recursively, in their order). */
function layerArrays(reader: H5Reader, group: string, layer: tf.layers.Layer): H5Array[] {
  const sub = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
  if (Array.isArray(sub)) return containerArrays(reader, `${group}/layers`, sub);
  const paths = reader.datasetsUnder(group).map((p) => p.slice(group.length + 1));
  return paths.sort(compareVarPaths).map((p) => reader.array(`${group}/${p}`));
}

function containerArrays(reader: H5Reader, parent: string, layers: readonly tf.layers.Layer[]): H5Array[] {
  return layers.flatMap((l) => (l.weights.length === 0 ? [] : layerArrays(reader, groupFor(reader, parent, layers, l), l)));
}

/** The group holding `layer`'s variables under `parent` (by recorded name, else by class order). */
export function groupFor(reader: H5Reader, parent: string, layers: readonly tf.layers.Layer[], layer: tf.layers.Layer): string {
  const named = groupsByLayerName(reader, parent).get(layer.name);
  if (named) return named;
  const byClass = keras3GroupNames(layers).get(layer);
  const group = `${parent}/${byClass}`;
  if (!byClass || !reader.hasGroup(group)) {
    throw new AppError('MISSING_WEIGHTS', `the weights file has no group for layer ${layer.name} (looked for ${group})`, {
      layer: layer.name,
      group,
    });
  }
  return group;
}

/** Imports a topology whose weights are in Keras 3's layout. */
export async function importKeras3Weights(
  reader: H5Reader,
  topology: TranslatedTopology,
  info: { version: string | null; notes: string[] },
): Promise<ImportResult> {
  return importKeras(topology, (layer, layers) => layerArrays(reader, groupFor(reader, 'layers', layers, layer), layer), info);
}

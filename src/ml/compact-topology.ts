// model.json without what tfjs-layers fills in itself: layer-config keys at their constructor default (null
// regularizers and constraints, trainable: true, use_bias: true, strides and dilation of 1, padding "valid",
// data_format "channels_last", activation "linear", zero bias initializers, a pooling stride equal to its pool
// size) and the modelTopology's keras_version/backend (written back on every save, read by no loader). For a small
// compressed model the topology is a large part of the artifact (LeNet-5: ~3.7 KB raw, ~0.7 KB gzip of a ~6.5 KB
// artifact). Lossless by construction and checked every time: the compact topology is rebuilt by stock
// tf.models.modelFromJSON (shape-only weights: no initializer runs) and its toJSON must equal the original
// byte for byte, so stock tf.loadLayersModel builds exactly the same model; otherwise the original is kept.
import { tf } from './tf.ts';
import { withShapeOnlyWeights } from './shape-only.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const allOnes = (v: Json | undefined) => (Array.isArray(v) && v.length > 0 && v.every((x) => x === 1)) || v === 1;
const isZeros = (v: Json | undefined) => isObject(v) && v.class_name === 'Zeros' && isObject(v.config) && Object.keys(v.config).length === 0;

/** Whether `key` of a layer config holds the value its constructor would give it anyway. */
function isDefault(key: string, value: Json, config: JsonObject): boolean {
  if (value === null) return key.endsWith('_regularizer') || key.endsWith('_constraint');
  switch (key) {
    case 'trainable':
    case 'use_bias':
      return value === true;
    case 'data_format':
      return value === 'channels_last';
    case 'padding':
      return value === 'valid';
    case 'activation':
      return value === 'linear';
    case 'dilation_rate':
      return allOnes(value);
    case 'strides':
      // Pooling layers default their strides to the pool size, convolutions to 1.
      return 'pool_size' in config ? JSON.stringify(value) === JSON.stringify(config.pool_size) : allOnes(value);
    case 'bias_initializer':
      return isZeros(value);
    default:
      return false;
  }
}

/** Drops default-valued keys from every layer config in `node` (layers of nested models too); in place. */
function dropDefaults(node: Json): void {
  if (Array.isArray(node)) {
    for (const x of node) dropDefaults(x);
    return;
  }
  if (!isObject(node)) return;
  const config = node.config;
  if (typeof node.class_name === 'string' && isObject(config)) {
    for (const key of Object.keys(config)) if (isDefault(key, config[key], config)) delete config[key];
  }
  for (const value of Object.values(node)) dropDefaults(value);
}

const MEMO_SIZE = 32;
const memo = new Map<string, string>();

/**
 * The topology to write to model.json: `topology` (a model.toJSON) with the defaults tfjs-layers fills in left
 * out when stock modelFromJSON rebuilds exactly the same model from it (its toJSON is byte-identical), else
 * `topology` itself. Memoised per topology (a search saves many models of one architecture).
 */
export async function compactTopology(topology: object): Promise<object> {
  const original = JSON.stringify(topology);
  let compact = memo.get(original);
  if (compact === undefined) {
    const candidate = JSON.parse(original) as JsonObject;
    delete candidate.keras_version;
    delete candidate.backend;
    dropDefaults(candidate);
    compact = original;
    try {
      const rebuilt = await withShapeOnlyWeights(() =>
        tf.models.modelFromJSON({ modelTopology: structuredClone(candidate) as tf.io.ModelJSON['modelTopology'] }),
      );
      if (JSON.stringify(rebuilt.toJSON(null, false)) === original) compact = JSON.stringify(candidate);
    } catch {
      // Not rebuildable this way (a layer class registered elsewhere, a topology tfjs rewrites): keep it whole.
    }
    if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value!);
    memo.set(original, compact);
  }
  return JSON.parse(compact) as object;
}

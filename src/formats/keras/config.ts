// Keras model configs (Keras 2.0-2.15 and Keras 3) → the TF.js Layers topology tfjs-layers deserialises.
// tfjs-layers reads Keras 2 JSON natively; what differs is translated here, generically (module/registered_name
// wrappers, dtype-policy objects, Keras 3's `__keras_tensor__` functional connections, list-only Sequential configs
// of Keras ≤ 2.1) and per layer class through LAYER_FIXES, one small function per class, like tfjs-converter.
import { AppError } from '../../errors.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export interface LayerConfig {
  class_name: string;
  config: JsonObject;
  name?: string;
  inbound_nodes?: Json[];
  [key: string]: Json | undefined;
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys Keras 3 adds that carry nothing tfjs needs (and some tfjs would not accept). */
const DROP_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id', 'optional']);

/** Activation names Keras writes that tfjs registers under another name. */
const ACTIVATIONS: Record<string, string> = { hard_sigmoid: 'hardSigmoid', log_softmax: 'logSoftmax', silu: 'swish', swish: 'swish' };

/** Per-class fixes of a layer's (already generically cleaned) config. */
const LAYER_FIXES: Record<string, (c: JsonObject) => void> = {
  InputLayer(c) {
    // Keras 3 names it batch_shape; a fixed batch (Input(batch_size=32)) would stop training at other batch sizes.
    const shape = c.batch_shape ?? c.batch_input_shape;
    delete c.batch_shape;
    if (Array.isArray(shape)) c.batch_input_shape = [null, ...shape.slice(1)];
  },
  BatchNormalization(c) {
    // tf.keras writes axis as a one-element list; Keras 3 adds options tfjs does not have.
    if (Array.isArray(c.axis) && c.axis.length === 1) c.axis = c.axis[0];
    for (const k of ['synchronized', 'renorm', 'renorm_clipping', 'renorm_momentum', 'fused', 'virtual_batch_size', 'adjustment']) delete c[k];
  },
  LayerNormalization(c) {
    if (Array.isArray(c.axis) && c.axis.length === 1) c.axis = c.axis[0];
    delete c.rms_scaling;
  },
  LeakyReLU(c) {
    // Keras 3 calls the slope negative_slope; tfjs (like Keras 2) calls it alpha.
    if (c.negative_slope !== undefined) {
      c.alpha = c.negative_slope;
      delete c.negative_slope;
    }
  },
  Dense(c) {
    delete c.lora_rank;
    delete c.lora_alpha;
    delete c.quantization_config;
  },
};
for (const conv of ['Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'DepthwiseConv2D', 'SeparableConv2D']) {
  LAYER_FIXES[conv] = (c) => {
    delete c.lora_rank;
    if (c.groups === 1) delete c.groups;
  };
}

/** A dtype-policy object ({class_name: 'DTypePolicy', config: {name: 'mixed_float16'}}) → the variable dtype. */
function dtypeName(v: Json): Json {
  if (!isObject(v)) return v;
  const config = isObject(v.config) ? v.config : {};
  const name = typeof config.name === 'string' ? config.name : 'float32';
  return name.startsWith('mixed_') ? 'float32' : name;
}

/** Recursively drops Keras 3 wrapper keys and turns dtype-policy objects into plain dtype names. */
function clean(v: Json): Json {
  if (Array.isArray(v)) return v.map(clean);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v)) {
    if (DROP_KEYS.has(k)) continue;
    if (k === 'dtype') out[k] = dtypeName(val);
    else if (k === 'activation' && typeof val === 'string') out[k] = ACTIVATIONS[val] ?? val;
    else out[k] = clean(val);
  }
  return out;
}

/** Keras 3 writes a tensor reference as {class_name: '__keras_tensor__', config: {keras_history: [layer, node, index]}}. */
function kerasTensorRef(v: Json): [string, number, number] | null {
  if (!isObject(v) || v.class_name !== '__keras_tensor__' || !isObject(v.config)) return null;
  const h = v.config.keras_history;
  if (!Array.isArray(h) || typeof h[0] !== 'string') return null;
  return [h[0], Number(h[1] ?? 0), Number(h[2] ?? 0)];
}

/**
 * One Keras 3 inbound node {args: [...], kwargs: {...}} → the Keras 2 list [[layer, node, tensor, kwargs], ...].
 * Merge layers take a list of tensors as their first argument; other layers take one tensor.
 */
function keras3Node(node: JsonObject): Json {
  const args = Array.isArray(node.args) ? node.args : [];
  const kwargs = isObject(node.kwargs) ? node.kwargs : {};
  const tensors: [string, number, number][] = [];
  const collect = (a: Json) => {
    const ref = kerasTensorRef(a);
    if (ref) tensors.push(ref);
    else if (Array.isArray(a)) a.forEach(collect);
  };
  args.forEach(collect);
  // tfjs passes kwargs to call(); Keras 3 puts e.g. {mask: null} or {training: false} there: keep only non-tensor literals.
  const literalKwargs: JsonObject = {};
  for (const [k, val] of Object.entries(kwargs)) if (val !== null && !kerasTensorRef(val) && typeof val !== 'object') literalKwargs[k] = val;
  return tensors.map(([layer, n, t]) => [layer, n, t, literalKwargs]);
}

function translateInboundNodes(nodes: Json): Json[] {
  if (!Array.isArray(nodes)) return [];
  return nodes.map((n) => (isObject(n) && ('args' in n || 'kwargs' in n) ? keras3Node(n) : n));
}

/** input_layers / output_layers: Keras 3 writes a single [name, node, index] triple unnested. */
function layerRefs(v: Json | undefined): Json {
  if (!Array.isArray(v)) return [];
  return typeof v[0] === 'string' ? [v] : v;
}

function translateLayer(layer: Json, where: string): LayerConfig {
  if (!isObject(layer) || typeof layer.class_name !== 'string')
    throw new AppError('INVALID_MODEL', `${where}: every layer needs a class_name and a config`);
  const cleaned = clean(layer) as JsonObject;
  const config = isObject(cleaned.config) ? cleaned.config : {};
  const className = layer.class_name;
  if (className === 'Sequential' || className === 'Functional' || className === 'Model') {
    return { ...cleaned, class_name: className, config: translateModelConfig(className, layer.config, where) as JsonObject };
  }
  // Wrappers (TimeDistributed, Bidirectional) hold whole layer configs.
  const rawConfig = isObject(layer.config) ? layer.config : {};
  for (const k of ['layer', 'forward_layer', 'backward_layer']) {
    if (isObject(rawConfig[k])) config[k] = translateLayer(rawConfig[k], where) as unknown as JsonObject;
  }
  LAYER_FIXES[className]?.(config);
  const out: LayerConfig = { ...cleaned, class_name: className, config };
  if ('inbound_nodes' in layer) out.inbound_nodes = translateInboundNodes(layer.inbound_nodes);
  if (typeof config.name === 'string' && out.name === undefined && 'inbound_nodes' in layer) out.name = config.name;
  return out;
}

function translateModelConfig(className: string, raw: Json | undefined, where: string): Json {
  // Keras ≤ 2.1 stored a Sequential as its bare list of layers.
  const config: JsonObject = Array.isArray(raw) ? { layers: raw } : isObject(raw) ? { ...raw } : {};
  if (!Array.isArray(config.layers)) throw new AppError('INVALID_MODEL', `${where}: the ${className} config has no layers list`);
  const layers = config.layers.map((l, i) => translateLayer(l, `${where} layer ${i}`));
  const out = clean({ ...config, layers: [] }) as JsonObject;
  out.layers = layers as unknown as Json[];
  if (className === 'Sequential') {
    fixSequentialInput(layers, config.build_input_shape);
  } else {
    out.input_layers = layerRefs(config.input_layers);
    out.output_layers = layerRefs(config.output_layers);
  }
  delete out.build_input_shape;
  return out;
}

/**
 * A Sequential needs its input shape on the first layer (or an InputLayer). Keras 3 Sequentials built with build()
 * carry it only as build_input_shape; a fixed batch size is freed (training uses other batch sizes).
 */
function fixSequentialInput(layers: LayerConfig[], buildInputShape: Json | undefined): void {
  const first = layers[0];
  if (!first || first.class_name === 'InputLayer') return;
  const c = first.config;
  if (Array.isArray(c.batch_input_shape)) c.batch_input_shape = [null, ...c.batch_input_shape.slice(1)];
  else if (Array.isArray(c.input_shape)) return;
  else if (Array.isArray(buildInputShape)) c.batch_input_shape = [null, ...buildInputShape.slice(1)];
}

export interface TranslatedTopology {
  class_name: string;
  config: JsonObject;
  keras_version?: string;
  backend?: string;
}

/** A Keras model config (parsed JSON of model_config / config.json / model.to_json()) → a tfjs modelTopology. */
export function translateKerasConfig(raw: unknown, kerasVersion: string | null): TranslatedTopology {
  const where = 'Keras model config';
  const top = isObject(raw) && isObject(raw.model_config) ? raw.model_config : raw;
  if (!isObject(top) || typeof top.class_name !== 'string') throw new AppError('INVALID_MODEL', `${where} has no class_name`);
  const className = top.class_name === 'Model' ? 'Functional' : top.class_name;
  if (className !== 'Sequential' && className !== 'Functional') {
    throw new AppError('INVALID_MODEL', `${where}: the model is a ${top.class_name}; only Sequential and functional models can be imported`, {
      className: top.class_name,
    });
  }
  return {
    class_name: className,
    config: translateModelConfig(className, top.config, where) as JsonObject,
    keras_version: kerasVersion ?? undefined,
    backend: 'tensor_flow.js',
  };
}

/** Every layer of a translated topology, nested models and wrapped layers included: [className, layerName]. */
export function layerClasses(topology: { config: JsonObject }): { className: string; name: string }[] {
  const out: { className: string; name: string }[] = [];
  const visit = (l: Json) => {
    if (!isObject(l) || typeof l.class_name !== 'string') return;
    const config = isObject(l.config) ? l.config : {};
    out.push({ className: l.class_name, name: typeof config.name === 'string' ? config.name : l.class_name });
    if (Array.isArray(config.layers)) config.layers.forEach(visit);
    for (const k of ['layer', 'forward_layer', 'backward_layer', 'cell']) visit(config[k]);
  };
  if (Array.isArray(topology.config.layers)) topology.config.layers.forEach(visit);
  return out;
}

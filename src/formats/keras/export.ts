// TF.js model → Keras files: Keras 2 HDF5 (.h5, the layout model.save('x.h5') writes: root `model_config` +
// `model_weights/<layer>/<layer>/<weight>:0` listed by each group's `weight_names`) and Keras 3 .keras (a zip of
// config.json in Keras 3's serialization — module/registered_name, dtype policies, `__keras_tensor__` inbound
// nodes, an InputLayer with batch_shape — metadata.json, and model.weights.h5 with `layers/<class_n>/vars/<i>`).
// HDF5 is written with h5wasm into a temp file. Quantized models are written with the float32 weights tfjs decodes.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { loadModelFromArtifacts } from '../../ml/model-io.ts';
import type { tf } from '../../ml/tf.ts';
import type { ExportOptions, ExportResult } from '../models/types.ts';
import { zipBuffers } from '../zip.ts';
import { isObject, type Json, type JsonObject } from './config.ts';
import { keras3GroupNames } from './keras3-weights.ts';

type H5File = InstanceType<typeof h5wasm.File>;

/** The Keras version whose file layout we write (both are read by that Keras and later ones). */
const KERAS2_VERSION = '2.15.0';
const KERAS3_VERSION = '3.13.0';

/** tfjs activation names → Keras's. */
const ACTIVATIONS: Record<string, string> = { hardSigmoid: 'hard_sigmoid', logSoftmax: 'log_softmax' };

async function withTempH5(write: (file: H5File) => Promise<void> | void): Promise<Buffer> {
  await h5wasm.ready;
  const file = path.join(os.tmpdir(), `modelpress-export-${crypto.randomUUID()}.h5`);
  const h5 = new h5wasm.File(file, 'w');
  try {
    await write(h5);
  } finally {
    h5.close();
  }
  try {
    return await fs.readFile(file);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** A layer's weights with their short names (kernel, bias, gamma, ...), float32. */
async function weightsOf(layer: tf.layers.Layer): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
  const values = layer.getWeights();
  const out = [];
  for (let i = 0; i < values.length; i++) {
    const original = layer.weights[i].originalName;
    out.push({ name: original.split('/').pop() ?? original, shape: values[i].shape, data: (await values[i].data()) as Float32Array });
  }
  return out;
}

function renameActivations(v: Json): Json {
  if (Array.isArray(v)) return v.map(renameActivations);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v))
    out[k] = k === 'activation' && typeof val === 'string' ? (ACTIVATIONS[val] ?? val) : renameActivations(val);
  return out;
}

async function loaded<T>(artifacts: tf.io.ModelArtifacts, f: (m: tf.LayersModel) => Promise<T>): Promise<T> {
  const model = await loadModelFromArtifacts(artifacts);
  try {
    return await f(model);
  } finally {
    model.dispose();
  }
}

// ── Keras 2 .h5 ──

export function exportKerasH5(artifacts: tf.io.ModelArtifacts, opts: ExportOptions): Promise<ExportResult> {
  return loaded(artifacts, async (model) => {
    const topology = renameActivations(model.toJSON(null, false)) as JsonObject;
    const data = await withTempH5(async (h5) => {
      h5.create_attribute('keras_version', KERAS2_VERSION);
      h5.create_attribute('backend', 'tensorflow');
      h5.create_attribute('model_config', JSON.stringify({ ...topology, keras_version: KERAS2_VERSION, backend: 'tensorflow' }));
      const root = h5.create_group('model_weights');
      root.create_attribute('keras_version', KERAS2_VERSION);
      root.create_attribute('backend', 'tensorflow');
      root.create_attribute(
        'layer_names',
        model.layers.map((l) => l.name),
      );
      for (const layer of model.layers) {
        const group = root.create_group(layer.name);
        const weights = await weightsOf(layer);
        if (weights.length === 0) continue;
        group.create_attribute(
          'weight_names',
          weights.map((w) => `${layer.name}/${w.name}:0`),
        );
        const scope = group.create_group(layer.name);
        for (const w of weights) scope.create_dataset({ name: `${w.name}:0`, data: w.data, shape: w.shape, dtype: '<f' });
      }
    });
    return { data, fileName: `${opts.baseName}.h5`, mediaType: 'application/x-hdf5' };
  });
}

// ── Keras 3 .keras ──

const DTYPE_POLICY = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };

/** Initializer/regularizer/constraint objects ({class_name, config}) get Keras 3's module wrapper. */
const OBJECT_MODULES: Record<string, string> = {
  kernel_initializer: 'keras.initializers',
  bias_initializer: 'keras.initializers',
  depthwise_initializer: 'keras.initializers',
  pointwise_initializer: 'keras.initializers',
  gamma_initializer: 'keras.initializers',
  beta_initializer: 'keras.initializers',
  moving_mean_initializer: 'keras.initializers',
  moving_variance_initializer: 'keras.initializers',
  embeddings_initializer: 'keras.initializers',
  kernel_regularizer: 'keras.regularizers',
  bias_regularizer: 'keras.regularizers',
  activity_regularizer: 'keras.regularizers',
  kernel_constraint: 'keras.constraints',
  bias_constraint: 'keras.constraints',
};

function keras3LayerConfig(className: string, config: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'batch_input_shape' || k === 'input_dtype') continue;
    if (k === 'dtype') out.dtype = DTYPE_POLICY;
    else if (OBJECT_MODULES[k] && isObject(v)) out[k] = { module: OBJECT_MODULES[k], ...v, registered_name: null };
    else if (k === 'activation' && typeof v === 'string') out[k] = ACTIVATIONS[v] ?? v;
    else out[k] = v;
  }
  if (className === 'LeakyReLU' && 'alpha' in out) {
    out.negative_slope = out.alpha;
    delete out.alpha;
  }
  return out;
}

const kerasTensor = (t: tf.SymbolicTensor, history: [string, number, number]): JsonObject => ({
  class_name: '__keras_tensor__',
  config: { shape: t.shape, dtype: 'float32', keras_history: history },
});

const inputLayer = (name: string, shape: (number | null)[]): JsonObject => ({
  module: 'keras.layers',
  class_name: 'InputLayer',
  config: { batch_shape: shape, dtype: 'float32', sparse: false, name },
  registered_name: null,
});

/** `configs`: each layer's config as model.json holds it (Keras 2 snake_case), by layer name. */
function keras3Config(model: tf.LayersModel, configs: Map<string, JsonObject>): JsonObject {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const entry = (l: tf.layers.Layer): JsonObject => ({
    module: 'keras.layers',
    class_name: l.getClassName(),
    config: keras3LayerConfig(l.getClassName(), configs.get(l.name) ?? {}),
    registered_name: null,
    build_config: { input_shape: l.inboundNodes[0]?.inputTensors.length === 1 ? l.inboundNodes[0].inputTensors[0].shape : null },
  });
  if (model.getClassName() === 'Sequential') {
    const input = model.inputs[0];
    return {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: model.name,
        trainable: true,
        dtype: DTYPE_POLICY,
        layers: [inputLayer(input.sourceLayer.name, input.shape), ...layers.map(entry)],
      },
      registered_name: null,
      build_config: { input_shape: input.shape },
    };
  }
  // Functional: every call of a layer is one inbound node {args, kwargs}; merges take a list of tensors.
  const ref = (t: tf.SymbolicTensor) => kerasTensor(t, [t.sourceLayer.name, t.nodeIndex, t.tensorIndex]);
  const all = model.layers.map((l): JsonObject => {
    if (l.getClassName() === 'InputLayer')
      return { ...inputLayer(l.name, l.inboundNodes[0].outputTensors[0].shape), name: l.name, inbound_nodes: [] };
    const nodes = l.inboundNodes.map((n) => {
      const ins = n.inputTensors.map(ref);
      return { args: ins.length === 1 ? [ins[0]] : [ins], kwargs: {} };
    });
    return { ...entry(l), name: l.name, inbound_nodes: nodes };
  });
  const triple = (t: tf.SymbolicTensor) => [t.sourceLayer.name, t.nodeIndex, t.tensorIndex];
  const ios = (ts: tf.SymbolicTensor[]) => (ts.length === 1 ? triple(ts[0]) : ts.map(triple));
  return {
    module: 'keras',
    class_name: 'Functional',
    config: { name: model.name, trainable: true, layers: all, input_layers: ios(model.inputs), output_layers: ios(model.outputs) },
    registered_name: null,
  };
}

export function exportKeras(artifacts: tf.io.ModelArtifacts, opts: ExportOptions): Promise<ExportResult> {
  return loaded(artifacts, async (model) => {
    // model.toJSON gives every layer's config in Keras (snake_case) form.
    const topology = model.toJSON(null, false) as unknown as { config: { layers: { config: JsonObject }[] } };
    const configs = new Map(topology.config.layers.map((l) => [typeof l.config.name === 'string' ? l.config.name : '', l.config]));
    const config = keras3Config(model, configs);
    const groups = keras3GroupNames(model.layers);
    const weightsH5 = await withTempH5(async (h5) => {
      h5.create_group('vars');
      const layersGroup = h5.create_group('layers');
      for (const layer of model.layers) {
        const groupName = groups.get(layer);
        if (!groupName) continue;
        const vars = layersGroup.create_group(groupName).create_group('vars');
        vars.create_attribute('name', layer.name);
        const weights = await weightsOf(layer);
        weights.forEach((w, i) => vars.create_dataset({ name: String(i), data: w.data, shape: w.shape, dtype: '<f' }));
      }
    });
    const metadata = { keras_version: KERAS3_VERSION, date_saved: '2020-01-01@00:00:00', written_by: 'modelpress' };
    const data = await zipBuffers([
      { path: 'metadata.json', data: Buffer.from(JSON.stringify(metadata)) },
      { path: 'config.json', data: Buffer.from(JSON.stringify(config)) },
      { path: 'model.weights.h5', data: weightsH5 },
    ]);
    return { data, fileName: `${opts.baseName}.keras`, mediaType: 'application/zip' };
  });
}

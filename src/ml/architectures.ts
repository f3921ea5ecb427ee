// Model architectures: a small JSON layer list (schemas in src/schemas/architecture.ts) built as tf.Sequential, its
// graph form (named layers with `inputs`) built as a functional model, and presets: the LeNets as layer lists,
// resnet-20 / mobilenet-v2 / text-cnn / lstm-classifier as functional builders (src/ml/presets.ts). The builder adds
// what a spec leaves implicit: a reshape/flatten where the input rank demands one and the final dense softmax.
import { Value } from 'typebox/value';
import { AppError } from '../errors.ts';
import {
  LAYER_SCHEMAS,
  MERGE_TYPES,
  PRESET_NAMES,
  type ArchitectureSpec,
  type GraphLayerSpec,
  type LayerSpec,
  type PresetName,
  type PresetSpec,
} from '../schemas/architecture.ts';
import { validationField } from '../schemas/validation-field.ts';
import { GRAPH_PRESETS, type PresetOptions } from './presets.ts';
import { tf } from './tf.ts';

export type { ArchitectureSpec, LayerSpec, PresetName, PresetSpec };
export const LAYER_TYPES = Object.keys(LAYER_SCHEMAS);
/** Presets over integer token sequences: they need a vocabulary size. */
export const TEXT_PRESETS: ReadonlySet<PresetName> = new Set(['text-cnn', 'lstm-classifier']);

export const PRESETS: Partial<Record<PresetName, ArchitectureSpec>> = {
  'lenet-300-100': {
    layers: [
      { type: 'dense', units: 300, activation: 'relu' },
      { type: 'dense', units: 100, activation: 'relu' },
    ],
  },
  'lenet-5': {
    layers: [
      { type: 'conv2d', filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 5, activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 120, activation: 'relu' },
      { type: 'dense', units: 84, activation: 'relu' },
    ],
  },
};

const invalid = (field: string, message: string) => new AppError('INVALID_JOB_PARAMS', `${field}: ${message}`, { field });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks `spec` one layer at a time against its schema (src/schemas/architecture.ts) so the error names the failing
 * field (e.g. "architecture.layers[2].units"); in the graph form also names (unique) and inputs (earlier layers or
 * "input"; merges take two or more). Throws AppError INVALID_JOB_PARAMS with details.field.
 */
export function validateArchitecture(spec: unknown, field = 'architecture'): asserts spec is ArchitectureSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalid(field, 'must be an object with a "layers" array');
  const extra = Object.keys(spec).filter((k) => k !== 'layers');
  if (extra.length > 0) throw invalid(`${field}.${extra[0]}`, 'unknown property');
  const layers = (spec as { layers?: unknown }).layers;
  if (!Array.isArray(layers) || layers.length === 0) throw invalid(`${field}.layers`, 'must be a non-empty array');
  if (layers.length > 256) throw invalid(`${field}.layers`, 'at most 256 layers');
  const names = new Set(['input']);
  const graph = layers.some((l) => isObject(l) && ('inputs' in l || MERGE_TYPES.has(String(l.type))));
  layers.forEach((raw, i) => {
    const at = `${field}.layers[${i}]`;
    const { name, inputs, ...layer } = isObject(raw) ? raw : {};
    const type = layer.type;
    const schema = typeof type === 'string' ? LAYER_SCHEMAS[type] : undefined;
    if (!schema) throw invalid(`${at}.type`, `must be one of ${LAYER_TYPES.join(', ')}`);
    if (name !== undefined) {
      if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name))
        throw invalid(`${at}.name`, 'must match ^[A-Za-z][A-Za-z0-9_]{0,63}$');
      if (names.has(name)) throw invalid(`${at}.name`, `duplicate layer name ${name}`);
    }
    if (inputs !== undefined) {
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 16)
        throw invalid(`${at}.inputs`, 'must be an array of 1 to 16 layer names');
      inputs.forEach((n, j) => {
        if (typeof n !== 'string' || !names.has(n))
          throw invalid(`${at}.inputs[${j}]`, `must name an earlier layer or "input", got ${JSON.stringify(n)}`);
      });
    }
    const arity = Array.isArray(inputs) ? inputs.length : 1;
    if (graph && MERGE_TYPES.has(type as string) && arity < 2) throw invalid(`${at}.inputs`, `${String(type)} merges two or more inputs: name them`);
    if (!MERGE_TYPES.has(type as string) && arity > 1) throw invalid(`${at}.inputs`, `${String(type)} takes one input`);
    names.add(typeof name === 'string' ? name : `${String(type)}_${i}`);
    const first = Value.Errors(schema, layer)[0];
    if (first) {
      const params = first.params as { additionalProperties?: string[] };
      const unknownKey = first.keyword === 'additionalProperties' ? params.additionalProperties?.[0] : undefined;
      if (unknownKey) throw invalid(`${at}.${unknownKey}`, 'unknown property');
      throw invalid(validationField(at, first), first.keyword === 'required' ? 'is required' : first.message);
    }
  });
}

type LayerBase = { name: string; inputShape?: number[] };
type Init = { kernelInitializer?: ReturnType<typeof tf.initializers.glorotUniform> };

type ConvSpec = Extract<LayerSpec, { type: 'conv2d' | 'depthwiseConv2d' | 'separableConv2d' | 'conv1d' }>;
/** What every convolution layer takes alike (src/schemas/architecture.ts convLayer). */
function convArgs(spec: ConvSpec) {
  return { kernelSize: spec.kernelSize, strides: spec.strides, padding: spec.padding, activation: spec.activation, useBias: spec.useBias };
}

// `base` holds the name and, for the model's first layer, its inputShape; `init` an optional seeded initializer.
function layerFromSpec(spec: LayerSpec, base: LayerBase, init: Init): tf.layers.Layer {
  switch (spec.type) {
    case 'dense':
      return tf.layers.dense({ ...base, ...init, units: spec.units, activation: spec.activation, useBias: spec.useBias });
    case 'conv2d':
      return tf.layers.conv2d({ ...base, ...init, filters: spec.filters, ...convArgs(spec) });
    case 'maxPooling2d':
      return tf.layers.maxPooling2d({ ...base, poolSize: spec.poolSize, strides: spec.strides, padding: spec.padding });
    case 'averagePooling2d':
      return tf.layers.averagePooling2d({ ...base, poolSize: spec.poolSize, strides: spec.strides, padding: spec.padding });
    case 'flatten':
      return tf.layers.flatten(base);
    case 'dropout':
      return tf.layers.dropout({ ...base, rate: spec.rate });
    case 'batchNormalization':
      return tf.layers.batchNormalization({ ...base, momentum: spec.momentum, epsilon: spec.epsilon });
    case 'activation':
      return tf.layers.activation({ ...base, activation: spec.activation });
    case 'depthwiseConv2d':
      return tf.layers.depthwiseConv2d({
        ...base,
        ...(init.kernelInitializer ? { depthwiseInitializer: init.kernelInitializer } : {}),
        depthMultiplier: spec.depthMultiplier,
        ...convArgs(spec),
      });
    case 'separableConv2d':
      return tf.layers.separableConv2d({
        ...base,
        ...(init.kernelInitializer ? { depthwiseInitializer: init.kernelInitializer, pointwiseInitializer: init.kernelInitializer } : {}),
        filters: spec.filters,
        ...convArgs(spec),
      });
    case 'conv1d':
      return tf.layers.conv1d({ ...base, ...init, filters: spec.filters, ...convArgs(spec) });
    case 'globalAveragePooling2d':
      return tf.layers.globalAveragePooling2d(base);
    case 'globalMaxPooling2d':
      return tf.layers.globalMaxPooling2d(base);
    case 'globalAveragePooling1d':
      return tf.layers.globalAveragePooling1d(base);
    case 'globalMaxPooling1d':
      return tf.layers.globalMaxPooling1d(base);
    case 'relu':
      return tf.layers.reLU({ ...base, maxValue: spec.maxValue });
    case 'embedding':
      return tf.layers.embedding({ ...base, inputDim: spec.inputDim, outputDim: spec.outputDim, maskZero: spec.maskZero });
    case 'add':
      return tf.layers.add(base);
    case 'concatenate':
      return tf.layers.concatenate(base);
    case 'multiply':
      return tf.layers.multiply(base);
    case 'average':
      return tf.layers.average(base);
  }
}

const SPATIAL_TYPES = new Set([
  'conv2d',
  'maxPooling2d',
  'averagePooling2d',
  'depthwiseConv2d',
  'separableConv2d',
  'globalAveragePooling2d',
  'globalMaxPooling2d',
]);

/** Shape a conv/pool layer needs: [h, w] gets a channel axis, a flat square vector becomes [s, s, 1]. */
function imageShapeFor(shape: number[]): number[] | null {
  if (shape.length === 3) return shape;
  if (shape.length === 2) return [...shape, 1];
  const side = Math.round(Math.sqrt(shape[0]));
  return shape.length === 1 && side * side === shape[0] ? [side, side, 1] : null;
}

/** What train jobs and distill students name: a preset, a preset object, or a layer-list / graph spec. */
export type Architecture = PresetName | PresetSpec | ArchitectureSpec;

export interface BuildOptions {
  /** Seeded weight initialisation (Glorot-uniform kernels seeded per layer, zero biases). */
  seed?: number;
  /** Text presets: token ids 0 … vocabSize − 1, when the architecture does not say. */
  vocabSize?: number;
}

/** Whether a spec uses the graph form (named inputs or merge layers). */
export const isGraphSpec = (spec: ArchitectureSpec) => spec.layers.some((l) => l.inputs !== undefined || MERGE_TYPES.has(l.type));

/** The preset an architecture names (a name or a { preset } object), or null for a layer spec. */
export function presetOf(spec: Architecture): PresetSpec | null {
  if (typeof spec === 'string') return { preset: spec };
  return 'preset' in spec ? spec : null;
}

/** Converts a builder's failure into INCOMPATIBLE_INPUTS (AppErrors pass through). */
function incompatible(e: unknown, inputShape: number[], field = 'architecture'): AppError {
  if (e instanceof AppError) return e;
  return new AppError('INCOMPATIBLE_INPUTS', `architecture does not fit input shape [${inputShape}]: ${(e as Error).message}`, { field });
}

/**
 * Builds a classifier for `inputShape` (per example, no batch axis) and `numClasses`. A flatten goes in front
 * of any dense layer that would see a multi-dimensional input; conv/pool layers over [h, w] or square flat inputs
 * get a reshape to [h, w, 1]; a dense softmax with numClasses units is appended unless the spec ends in a dense
 * layer with numClasses units (whose activation, e.g. linear logits, is then kept).
 * `opts.seed` makes the weight initialisation reproducible (Glorot-uniform kernels seeded per layer, zero biases).
 */
export function buildModel(spec: Architecture, inputShape: number[], numClasses: number, opts: BuildOptions = {}): tf.LayersModel {
  const preset = presetOf(spec);
  if (preset && !(PRESET_NAMES as readonly string[]).includes(preset.preset))
    throw invalid('architecture', `unknown preset ${JSON.stringify(preset.preset)}`);
  if (!preset) validateArchitecture(spec);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw invalid('numClasses', 'must be an integer >= 2');
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new AppError('INCOMPATIBLE_INPUTS', `input shape [${inputShape}] is not a positive per-example shape`);
  }
  if (preset) {
    const builder = GRAPH_PRESETS[preset.preset];
    const presetOpts: PresetOptions = {
      widthMultiplier: preset.widthMultiplier ?? 1,
      vocabSize: preset.vocabSize ?? opts.vocabSize,
      seed: opts.seed,
    };
    if (builder) {
      try {
        return builder(inputShape, numClasses, presetOpts);
      } catch (e) {
        throw incompatible(e, inputShape);
      }
    }
    return buildSequential(scaled(PRESETS[preset.preset]!, presetOpts.widthMultiplier!), inputShape, numClasses, opts);
  }
  const arch = spec as ArchitectureSpec;
  return isGraphSpec(arch) ? buildGraph(arch, inputShape, numClasses, opts) : buildSequential(arch, inputShape, numClasses, opts);
}

/** A layer-list preset with every units/filters count scaled by `width` (at least 1). */
function scaled(arch: ArchitectureSpec, width: number): ArchitectureSpec {
  if (width === 1) return arch;
  const w = (n: number) => Math.max(1, Math.round(n * width));
  return { layers: arch.layers.map((l) => ('units' in l ? { ...l, units: w(l.units) } : 'filters' in l ? { ...l, filters: w(l.filters) } : l)) };
}

/**
 * The graph form as a functional model: each layer takes the outputs its `inputs` name (default: the previous
 * layer's), "input" being the model input. Single-input layers get the same implicit reshape/flatten as in the
 * layer list; the classifier is appended to the last layer as there.
 */
function buildGraph(arch: ArchitectureSpec, inputShape: number[], numClasses: number, opts: BuildOptions): tf.LayersModel {
  const created: tf.layers.Layer[] = [];
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => {
    created.push(layer);
    return layer.apply(x) as tf.SymbolicTensor;
  };
  const input = tf.input({ shape: inputShape, name: 'input' });
  const outputs = new Map<string, tf.SymbolicTensor>([['input', input]]);
  let prev = input;
  let at = 'architecture';
  const layers: GraphLayerSpec[] = [...arch.layers];
  const last = layers[layers.length - 1];
  if (!(last.type === 'dense' && last.units === numClasses)) layers.push({ type: 'dense', units: numClasses, activation: 'softmax' });
  try {
    layers.forEach((spec, i) => {
      at = `architecture.layers[${i}]`;
      const { name, inputs, ...layerSpec } = spec;
      const ins = inputs ? inputs.map((n) => outputs.get(n)!) : [prev];
      const layerName = name ?? `${layerSpec.type}_${i}`;
      let y: tf.SymbolicTensor;
      if (MERGE_TYPES.has(layerSpec.type)) {
        y = apply(layerFromSpec(layerSpec, { name: layerName }, {}), ins);
      } else {
        let x = ins[0];
        const shape = x.shape.slice(1) as number[];
        if (layerSpec.type === 'dense' && shape.length > 1) x = apply(tf.layers.flatten({ name: `flatten_auto_${i}` }), x);
        if (SPATIAL_TYPES.has(layerSpec.type) && shape.length !== 3) {
          const target = imageShapeFor(shape);
          if (!target)
            throw new AppError('INCOMPATIBLE_INPUTS', `layer ${i} (${layerSpec.type}) needs image-shaped input, got [${shape}]`, { field: at });
          x = apply(tf.layers.reshape({ name: `reshape_auto_${i}`, targetShape: target }), x);
        }
        const init = opts.seed === undefined ? {} : { kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed * 1000 + i }) };
        y = apply(layerFromSpec(layerSpec, { name: layerName }, init), x);
      }
      if (y.shape.some((d) => d !== null && d < 1))
        throw new AppError('INCOMPATIBLE_INPUTS', `layer ${i} (${layerSpec.type}) shrinks its input to [${y.shape.slice(1)}]`, { field: at });
      outputs.set(layerName, y);
      prev = y;
    });
    return tf.model({ inputs: input, outputs: prev });
  } catch (e) {
    for (const l of created) for (const w of l.weights) w.dispose();
    throw incompatible(e, inputShape, at);
  }
}

function buildSequential(arch: ArchitectureSpec, inputShape: number[], numClasses: number, opts: { seed?: number }): tf.Sequential {
  const model = tf.sequential();
  let shape = [...inputShape];
  const base = (name: string) => (model.layers.length === 0 ? { name, inputShape } : { name });
  let adding: tf.layers.Layer | null = null;
  const add = (layer: tf.layers.Layer) => {
    adding = layer;
    model.add(layer);
    adding = null;
    shape = (model.outputs[0].shape as number[]).slice(1);
  };
  const layers: LayerSpec[] = [...arch.layers];
  const last = layers[layers.length - 1];
  if (!(last.type === 'dense' && last.units === numClasses)) layers.push({ type: 'dense', units: numClasses, activation: 'softmax' });
  try {
    layers.forEach((layerSpec, i) => {
      const isSpatial = SPATIAL_TYPES.has(layerSpec.type);
      if (layerSpec.type === 'dense' && shape.length > 1) add(tf.layers.flatten(base(`flatten_auto_${i}`)));
      if (isSpatial && shape.length !== 3) {
        const target = imageShapeFor(shape);
        if (!target) {
          throw new AppError('INCOMPATIBLE_INPUTS', `layer ${i} (${layerSpec.type}) needs image-shaped input, got [${shape}]`, {
            field: `architecture.layers[${i}]`,
          });
        }
        add(tf.layers.reshape({ ...base(`reshape_auto_${i}`), targetShape: target }));
      }
      const init = opts.seed === undefined ? {} : { kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed * 1000 + i }) };
      add(layerFromSpec(layerSpec, base(`${layerSpec.type}_${i}`), init));
      if (shape.some((d) => d !== null && d < 1)) {
        throw new AppError('INCOMPATIBLE_INPUTS', `layer ${i} (${layerSpec.type}) shrinks the input to [${shape}]`, {
          field: `architecture.layers[${i}]`,
        });
      }
    });
  } catch (e) {
    // Sequential.add can fail after the layer created its weights (e.g. a negative output size).
    for (const w of (adding as tf.layers.Layer | null)?.weights ?? []) w.dispose();
    model.dispose();
    if (e instanceof AppError) throw e;
    throw new AppError('INCOMPATIBLE_INPUTS', `architecture does not fit input shape [${inputShape}]: ${(e as Error).message}`, {
      field: 'architecture',
    });
  }
  return model;
}

// Model architectures: a small JSON layer list (validated with TypeBox) and two presets, built as tf.Sequential.
// The builder adds what a spec leaves implicit: a reshape/flatten where the input rank demands one and the final
// dense softmax classifier.
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { AppError } from '../errors.ts';
import { validationField } from '../schemas/validation-field.ts';
import { tf } from './tf.ts';

const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
] as const;
const Activation = Type.Enum(ACTIVATIONS);
const Size2 = Type.Union([
  Type.Integer({ minimum: 1, maximum: 4096 }),
  Type.Tuple([Type.Integer({ minimum: 1, maximum: 4096 }), Type.Integer({ minimum: 1, maximum: 4096 })]),
]);
const Padding = Type.Union([Type.Literal('same'), Type.Literal('valid')]);
const strict = { additionalProperties: false } as const;

const DenseLayer = Type.Object(
  {
    type: Type.Literal('dense'),
    units: Type.Integer({ minimum: 1, maximum: 65536 }),
    activation: Type.Optional(Activation),
    useBias: Type.Optional(Type.Boolean()),
  },
  strict,
);
const Conv2dLayer = Type.Object(
  {
    type: Type.Literal('conv2d'),
    filters: Type.Integer({ minimum: 1, maximum: 4096 }),
    kernelSize: Size2,
    strides: Type.Optional(Size2),
    padding: Type.Optional(Padding),
    activation: Type.Optional(Activation),
    useBias: Type.Optional(Type.Boolean()),
  },
  strict,
);
const PoolLayer = Type.Object(
  {
    type: Type.Union([Type.Literal('maxPooling2d'), Type.Literal('averagePooling2d')]),
    poolSize: Size2,
    strides: Type.Optional(Size2),
    padding: Type.Optional(Padding),
  },
  strict,
);
const FlattenLayer = Type.Object({ type: Type.Literal('flatten') }, strict);
const DropoutLayer = Type.Object({ type: Type.Literal('dropout'), rate: Type.Number({ minimum: 0, exclusiveMaximum: 1 }) }, strict);
const BatchNormLayer = Type.Object(
  {
    type: Type.Literal('batchNormalization'),
    momentum: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  },
  strict,
);
const ActivationLayer = Type.Object({ type: Type.Literal('activation'), activation: Activation }, strict);

const LAYER_SCHEMAS: Record<string, TSchema> = {
  dense: DenseLayer,
  conv2d: Conv2dLayer,
  maxPooling2d: PoolLayer,
  averagePooling2d: PoolLayer,
  flatten: FlattenLayer,
  dropout: DropoutLayer,
  batchNormalization: BatchNormLayer,
  activation: ActivationLayer,
};
export const LAYER_TYPES = Object.keys(LAYER_SCHEMAS);

export const LayerSpecSchema = Type.Union([DenseLayer, Conv2dLayer, PoolLayer, FlattenLayer, DropoutLayer, BatchNormLayer, ActivationLayer]);
export const ArchitectureSpecSchema = Type.Object({ layers: Type.Array(LayerSpecSchema, { minItems: 1, maxItems: 256 }) }, strict);
export type LayerSpec = Static<typeof LayerSpecSchema>;
export type ArchitectureSpec = Static<typeof ArchitectureSpecSchema>;
export type PresetName = 'lenet-300-100' | 'lenet-5';

export const PRESETS: Record<PresetName, ArchitectureSpec> = {
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

/**
 * Checks `spec` against ArchitectureSpecSchema, one layer at a time so the error names the failing field
 * (e.g. "architecture.layers[2].units"). Throws AppError INVALID_JOB_PARAMS with details.field.
 */
export function validateArchitecture(spec: unknown, field = 'architecture'): asserts spec is ArchitectureSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalid(field, 'must be an object with a "layers" array');
  const extra = Object.keys(spec).filter((k) => k !== 'layers');
  if (extra.length > 0) throw invalid(`${field}.${extra[0]}`, 'unknown property');
  const layers = (spec as { layers?: unknown }).layers;
  if (!Array.isArray(layers) || layers.length === 0) throw invalid(`${field}.layers`, 'must be a non-empty array');
  if (layers.length > 256) throw invalid(`${field}.layers`, 'at most 256 layers');
  layers.forEach((layer, i) => {
    const at = `${field}.layers[${i}]`;
    const type = (layer as { type?: unknown } | null)?.type;
    const schema = typeof type === 'string' ? LAYER_SCHEMAS[type] : undefined;
    if (!schema) throw invalid(`${at}.type`, `must be one of ${LAYER_TYPES.join(', ')}`);
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

// `base` holds the name and, for the model's first layer, its inputShape; `init` an optional seeded initializer.
function layerFromSpec(spec: LayerSpec, base: LayerBase, init: Init): tf.layers.Layer {
  switch (spec.type) {
    case 'dense':
      return tf.layers.dense({ ...base, ...init, units: spec.units, activation: spec.activation, useBias: spec.useBias });
    case 'conv2d':
      return tf.layers.conv2d({
        ...base,
        ...init,
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        strides: spec.strides,
        padding: spec.padding,
        activation: spec.activation,
        useBias: spec.useBias,
      });
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
  }
}

/** Shape a conv/pool layer needs: [h, w] gets a channel axis, a flat square vector becomes [s, s, 1]. */
function imageShapeFor(shape: number[]): number[] | null {
  if (shape.length === 3) return shape;
  if (shape.length === 2) return [...shape, 1];
  const side = Math.round(Math.sqrt(shape[0]));
  return shape.length === 1 && side * side === shape[0] ? [side, side, 1] : null;
}

/**
 * Builds a classifier for `inputShape` (per example, no batch axis) and `numClasses`. A flatten goes in front
 * of any dense layer that would see a multi-dimensional input; conv/pool layers over [h, w] or square flat inputs
 * get a reshape to [h, w, 1]; a dense softmax with numClasses units is appended unless the spec ends in a dense
 * layer with numClasses units (whose activation, e.g. linear logits, is then kept).
 * `opts.seed` makes the weight initialisation reproducible (Glorot-uniform kernels seeded per layer, zero biases).
 */
export function buildModel(
  spec: ArchitectureSpec | PresetName,
  inputShape: number[],
  numClasses: number,
  opts: { seed?: number } = {},
): tf.Sequential {
  const arch = typeof spec === 'string' ? PRESETS[spec] : spec;
  if (!arch) throw invalid('architecture', `unknown preset ${typeof spec === 'string' ? spec : JSON.stringify(spec)}`);
  if (typeof spec !== 'string') validateArchitecture(spec);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw invalid('numClasses', 'must be an integer >= 2');
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new AppError('INCOMPATIBLE_INPUTS', `input shape [${inputShape}] is not a positive per-example shape`);
  }
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
  const layers = [...arch.layers];
  const last = layers[layers.length - 1];
  if (!(last.type === 'dense' && last.units === numClasses)) layers.push({ type: 'dense', units: numClasses, activation: 'softmax' });
  try {
    layers.forEach((layerSpec, i) => {
      const isSpatial = layerSpec.type === 'conv2d' || layerSpec.type === 'maxPooling2d' || layerSpec.type === 'averagePooling2d';
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

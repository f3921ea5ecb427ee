// Architecture specs for train jobs and distill students, the one schema source: preset names, the preset object
// form ({ preset, widthMultiplier, vocabSize }), the layer-list spec and its graph form (layers with `name` and
// `inputs`). ArchitectureParam is what request validation and OpenAPI see (layers loosely, so the kind's validate()
// names the failing field); the per-layer schemas are what validateArchitecture (src/ml/architectures.ts) checks.
import { Type, type Static, type TSchema } from 'typebox';

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
const Filters = Type.Integer({ minimum: 1, maximum: 4096 });
const Size1 = Type.Integer({ minimum: 1, maximum: 4096 });
/** The convolution family shares kernel/strides/padding/activation/useBias; `extra` adds what each one has more. */
function convLayer<T extends string, S extends TSchema, E extends Record<string, TSchema>>(type: T, size: S, extra: E) {
  return Type.Object(
    {
      type: Type.Literal(type),
      ...extra,
      kernelSize: size,
      strides: Type.Optional(size),
      padding: Type.Optional(Padding),
      activation: Type.Optional(Activation),
      useBias: Type.Optional(Type.Boolean()),
    },
    strict,
  );
}
const Conv2dLayer = convLayer('conv2d', Size2, { filters: Filters });
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

const DepthwiseConv2dLayer = convLayer('depthwiseConv2d', Size2, {
  depthMultiplier: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
});
const SeparableConv2dLayer = convLayer('separableConv2d', Size2, { filters: Filters });
const Conv1dLayer = convLayer('conv1d', Size1, { filters: Filters });
const GlobalPoolLayer = Type.Object(
  {
    type: Type.Union([
      Type.Literal('globalAveragePooling2d'),
      Type.Literal('globalMaxPooling2d'),
      Type.Literal('globalAveragePooling1d'),
      Type.Literal('globalMaxPooling1d'),
    ]),
  },
  strict,
);
const ReluLayer = Type.Object({ type: Type.Literal('relu'), maxValue: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) }, strict);
const EmbeddingLayer = Type.Object(
  {
    type: Type.Literal('embedding'),
    inputDim: Type.Integer({ minimum: 2, maximum: 10_000_000, description: 'Vocabulary size: token ids are 0 … inputDim − 1' }),
    outputDim: Type.Integer({ minimum: 1, maximum: 65536 }),
    maskZero: Type.Optional(Type.Boolean()),
  },
  strict,
);
const MergeLayer = Type.Object(
  {
    type: Type.Union([Type.Literal('add'), Type.Literal('concatenate'), Type.Literal('multiply'), Type.Literal('average')]),
  },
  strict,
);

export const LAYER_SCHEMAS: Record<string, TSchema> = {
  dense: DenseLayer,
  conv2d: Conv2dLayer,
  maxPooling2d: PoolLayer,
  averagePooling2d: PoolLayer,
  flatten: FlattenLayer,
  dropout: DropoutLayer,
  batchNormalization: BatchNormLayer,
  activation: ActivationLayer,
  depthwiseConv2d: DepthwiseConv2dLayer,
  separableConv2d: SeparableConv2dLayer,
  conv1d: Conv1dLayer,
  globalAveragePooling2d: GlobalPoolLayer,
  globalMaxPooling2d: GlobalPoolLayer,
  globalAveragePooling1d: GlobalPoolLayer,
  globalMaxPooling1d: GlobalPoolLayer,
  relu: ReluLayer,
  embedding: EmbeddingLayer,
  add: MergeLayer,
  concatenate: MergeLayer,
  multiply: MergeLayer,
  average: MergeLayer,
};
/** Layers that take two or more inputs (graph form). */
export const MERGE_TYPES = new Set(['add', 'concatenate', 'multiply', 'average']);
export const LAYER_TYPES = Object.keys(LAYER_SCHEMAS);

export const LayerSpecSchema = Type.Union([
  DenseLayer,
  Conv2dLayer,
  PoolLayer,
  FlattenLayer,
  DropoutLayer,
  BatchNormLayer,
  ActivationLayer,
  DepthwiseConv2dLayer,
  SeparableConv2dLayer,
  Conv1dLayer,
  GlobalPoolLayer,
  ReluLayer,
  EmbeddingLayer,
  MergeLayer,
]);
/** Graph form: a layer may be named and name its inputs (earlier layers' names, or "input" for the model input). */
export const GraphFields = {
  name: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$', description: 'Layer name that later layers list in inputs' })),
  inputs: Type.Optional(
    Type.Array(Type.String(), {
      minItems: 1,
      maxItems: 16,
      description: 'Names of the layers feeding this one ("input" = the model input); default: the previous layer',
    }),
  ),
};
export type LayerSpec = Static<typeof LayerSpecSchema>;
/** A layer of a spec: its own fields plus the graph fields. */
export type GraphLayerSpec = LayerSpec & { name?: string; inputs?: string[] };
export interface ArchitectureSpec {
  layers: GraphLayerSpec[];
}

export const PRESET_NAMES = ['lenet-300-100', 'lenet-5', 'resnet-20', 'mobilenet-v2', 'text-cnn', 'lstm-classifier'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const PresetNameSchema = Type.Enum(PRESET_NAMES, {
  description:
    'lenet-300-100 / lenet-5 (MLP / LeNet), resnet-20 (CIFAR basic blocks 16/32/64), mobilenet-v2 (inverted residuals), text-cnn and lstm-classifier (Embedding + Conv1D / LSTM over integer token ids, input [T])',
});
export const PresetSpecSchema = Type.Object(
  {
    preset: PresetNameSchema,
    widthMultiplier: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 4,
        description: 'Channel width factor (mobilenet-v2, resnet-20, text-cnn, lstm-classifier); default 1',
      }),
    ),
    vocabSize: Type.Optional(
      Type.Integer({
        minimum: 2,
        maximum: 10_000_000,
        description: 'Text presets: token ids 0 … vocabSize − 1 (default: largest id in the data + 1)',
      }),
    ),
  },
  strict,
);
export type PresetSpec = Static<typeof PresetSpecSchema>;

/** A preset name, a preset object, or a layer-list spec ({ layers: [...] }, checked in detail by the kind's validate()). */
export const ArchitectureParam = Type.Union(
  [
    PresetNameSchema,
    PresetSpecSchema,
    Type.Object(
      {
        layers: Type.Array(Type.Object({ type: Type.String(), ...GraphFields }), { minItems: 1, maxItems: 256 }),
      },
      strict,
    ),
  ],
  {
    description:
      'Preset name, { preset, widthMultiplier?, vocabSize? }, or a { layers: [...] } spec (graph form: layers with name and inputs); ignored when modelId continues an uploaded model (default lenet-300-100)',
  },
);
export type ArchitectureParam = Static<typeof ArchitectureParam>;

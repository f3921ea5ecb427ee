import { Type, type Static } from 'typebox';
import { SOURCE_FORMATS } from '../formats/models/registry.ts';
import { FileInfo, Page, Shape } from './common.ts';
import { modelExample } from './examples.ts';
import { Preprocessing, PreprocessingInput } from './preprocessing.ts';

export const LayerSummary = Type.Object({
  name: Type.String(),
  className: Type.String(),
  params: Type.Integer(),
  flops: Type.Optional(Type.Integer({ description: 'Multiply-adds per example (absent on models stored before FLOPs were counted)' })),
  outputShape: Type.Unknown({ description: 'Output shape (nested for layers with several outputs)' }),
});

export const Model = Type.Object(
  {
    id: Type.String(),
    projectId: Type.String({ description: "The project it belongs to (read-only: the caller's project at creation; job results: the job's)" }),
    name: Type.String(),
    format: Type.Literal('tfjs-layers'),
    params: Type.Integer(),
    flops: Type.Union([Type.Integer(), Type.Null()], { description: 'Multiply-adds per example; null for models stored before FLOPs were counted' }),
    sizeBytes: Type.Integer(),
    inputShape: Shape,
    outputShape: Shape,
    layers: Type.Array(LayerSummary),
    files: Type.Array(FileInfo),
    producedByJobId: Type.Union([Type.String(), Type.Null()]),
    parentModelId: Type.Union([Type.String(), Type.Null()]),
    report: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Compression report for models produced by a job' }),
    sourceFormat: Type.Union(
      SOURCE_FORMATS.map((f) => Type.Literal(f)),
      {
        description:
          "Format of the uploaded original (converted to TF.js Layers on upload; kept under files source/…). Job results inherit their parent's.",
      },
    ),
    sourceVersion: Type.Union([Type.String(), Type.Null()], {
      description: 'Keras version (e.g. "2.6.0") or ONNX opset (e.g. "opset 9") of the original',
    }),
    sourceLayout: Type.Union([Type.Literal('NHWC'), Type.Literal('NCHW'), Type.Null()], {
      description: 'Image layout the original expected (NCHW graphs are converted to NHWC models); null for non-image inputs',
    }),
    sourceInputShape: Type.Union([Shape, Type.Null()], { description: 'Input shape the original declared, in its own layout' }),
    preprocessing: Type.Union([Preprocessing, Type.Null()], {
      description:
        "What the model expects as input: evaluate and every job feed the dataset this way (null: the dataset's normalization, 0-1 for image bytes). Job results inherit it",
    }),
    importNotes: Type.Array(Type.String(), { description: 'What the import changed (e.g. a fixed batch size made free)' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Model', examples: [modelExample] },
);
export type ModelDto = Static<typeof Model>;

export const ModelPage = Type.Object({ items: Type.Array(Type.Ref('Model')), nextCursor: Page(Model).properties.nextCursor }, { $id: 'ModelPage' });

export const ModelListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String()),
  name: Type.Optional(Type.String({ description: 'Exact name, or a prefix when it ends with *' })),
  parentModelId: Type.Optional(Type.String({ format: 'uuid' })),
});
export type ModelListQuery = Static<typeof ModelListQuery>;

/** PATCH /v1/models/{id}: the fields a client may change. */
export const ModelPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Display name' })),
    preprocessing: Type.Optional(
      Type.Union([PreprocessingInput, Type.Null()], {
        description: "What the model expects as input; null clears it (the dataset's normalization is fed)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ModelPatch = Static<typeof ModelPatch>;

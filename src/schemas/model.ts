import { Type, type Static } from 'typebox';
import { FileInfo, Page, Shape } from './common.ts';

export const LayerSummary = Type.Object({
  name: Type.String(),
  className: Type.String(),
  params: Type.Integer(),
  outputShape: Type.Unknown({ description: 'Output shape (nested for layers with several outputs)' }),
});

export const Model = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    format: Type.Literal('tfjs-layers'),
    params: Type.Integer(),
    sizeBytes: Type.Integer(),
    inputShape: Shape,
    outputShape: Shape,
    layers: Type.Array(LayerSummary),
    files: Type.Array(FileInfo),
    producedByJobId: Type.Union([Type.String(), Type.Null()]),
    parentModelId: Type.Union([Type.String(), Type.Null()]),
    report: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Compression report for models produced by a job' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Model' },
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

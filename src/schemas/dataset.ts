// Dataset schemas: the REST shapes of datasets, their pages and list filters. The format enum is derived from the
// dataset-format registry (so registered formats must be registered before this module is imported).
import { Type, type Static } from 'typebox';
import { datasetFormats } from '../domain/datasets/formats/registry.ts';
import { FileInfo, Page } from './common.ts';
import { datasetExample } from './examples.ts';

export const DatasetFormat = Type.Union(datasetFormats().map((f) => Type.Literal(f.name)));

export const Dataset = Type.Object(
  {
    id: Type.String(),
    projectId: Type.String({
      description: "The project it belongs to (read-only: the caller's project at creation; built-in datasets: default, readable from every project)",
    }),
    name: Type.String(),
    format: DatasetFormat,
    examples: Type.Integer(),
    featureShape: Type.Array(Type.Integer()),
    dtype: Type.String(),
    numClasses: Type.Integer(),
    classNames: Type.Array(Type.String()),
    splits: Type.Object({ train: Type.Integer(), test: Type.Optional(Type.Integer()) }),
    normalization: Type.Union([Type.Object({ scale: Type.Number(), offset: Type.Number() }), Type.Null()]),
    sizeBytes: Type.Integer(),
    sha256: Type.String({ description: 'sha256 over the uploaded files (sorted by path, hashes concatenated)' }),
    files: Type.Array(Type.Object({ ...FileInfo.properties, role: Type.String() })),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Dataset', examples: [datasetExample] },
);
export type DatasetDto = Static<typeof Dataset>;

export const DatasetPage = Type.Object(
  { items: Type.Array(Type.Ref('Dataset')), nextCursor: Page(Dataset).properties.nextCursor },
  { $id: 'DatasetPage' },
);

export const DatasetListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String()),
  name: Type.Optional(Type.String({ description: 'Exact name, or a prefix when it ends with *' })),
  format: Type.Optional(DatasetFormat),
});
export type DatasetListQuery = Static<typeof DatasetListQuery>;

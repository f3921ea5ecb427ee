import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
import { DatasetListQuery } from '../../schemas/dataset.ts';
import { registerFileResourceRoutes } from './file-resource.ts';

export const datasetRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  registerFileResourceRoutes(app, {
    plural: 'datasets',
    singular: 'dataset',
    schemaId: 'Dataset',
    pageSchemaId: 'DatasetPage',
    listQuery: DatasetListQuery,
    uploadDescription:
      'A labelled classification dataset: CSV (header row, `label` column or the one named by `labelColumn`), NumPy `x.npy` + `y.npy` ' +
      '(or x_train/y_train/x_test/y_test), one `.npz` with those arrays, MNIST-style IDX files (optionally .gz), or a `.zip` of images in one folder per class. ' +
      'Files stream to the object store and are parsed into canonical tensors; a rejected upload leaves nothing behind (422 INVALID_DATASET).',
    uploadFields: {
      name: Type.Optional(Type.String()),
      format: Type.Optional(Type.String({ enum: ['csv', 'npy', 'npz', 'idx', 'images'], description: 'Detected from file names when omitted' })),
      labelColumn: Type.Optional(Type.String({ description: 'CSV label column (default "label")' })),
    },
    service: services.datasets,
  });
};

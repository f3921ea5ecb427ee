// /v1/datasets: upload, list, read, download, archive and delete datasets (the shared file-resource routes); the
// upload's `format` field and its documentation list the uploadable formats of the dataset-format registry.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { uploadableDatasetFormats } from '../../domain/datasets/formats/registry.ts';
import type { Services } from '../../runtime.ts';
import { DatasetListQuery } from '../../schemas/dataset.ts';
import { registerFileResourceRoutes } from './file-resource.ts';

/** "a, b, or c" */
const listed = (phrases: string[]) =>
  phrases.length < 2 ? phrases.join('') : `${phrases.slice(0, -1).join(', ')}, or ${phrases[phrases.length - 1]}`;

export const datasetRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const formats = uploadableDatasetFormats();
  registerFileResourceRoutes(app, {
    plural: 'datasets',
    singular: 'dataset',
    schemaId: 'Dataset',
    pageSchemaId: 'DatasetPage',
    listQuery: DatasetListQuery,
    uploadDescription:
      `A labelled classification dataset: ${listed(formats.map((f) => f.description))}. ` +
      'Files stream to the object store and are parsed into canonical tensors; a rejected upload leaves nothing behind (422 INVALID_DATASET).',
    uploadFields: {
      name: Type.Optional(Type.String()),
      format: Type.Optional(Type.String({ enum: formats.map((f) => f.name), description: 'Detected from file names when omitted' })),
      labelColumn: Type.Optional(Type.String({ description: 'CSV label column (default "label")' })),
      classNames: Type.Optional(
        Type.String({
          description:
            'Readable class names in class-index order, one per class: a JSON array (["zero","one"]) or comma-separated (zero,one). ' +
            'Replaces the names the files imply (numbers for IDX and NumPy labels).',
          examples: ['["setosa","versicolor","virginica"]'],
        }),
      ),
    },
    service: services.datasets,
  });
};

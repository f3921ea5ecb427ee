import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
import { MODEL_FORMATS } from '../../formats/models/registry.ts';
import { ModelListQuery } from '../../schemas/model.ts';
import { registerFileResourceRoutes } from './file-resource.ts';

export const modelRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  registerFileResourceRoutes(app, {
    plural: 'models',
    singular: 'model',
    schemaId: 'Model',
    pageSchemaId: 'ModelPage',
    listQuery: ModelListQuery,
    uploadDescription:
      `A model in one of these formats, recognised from the files' content: ${MODEL_FORMATS.map((f) => f.title).join('; ')}. ` +
      'TF.js Layers: `model.json` plus every weight shard its weightsManifest names, or one `.zip` holding them. ' +
      'Keras: one `.h5` (or a weights-only `.h5` with the architecture JSON from model.to_json()), or one `.keras`. ' +
      'Other formats are converted to a trainable TF.js Layers model on upload; the original is kept under `source/`. ' +
      'Files stream to the object store; nothing is kept if validation fails ' +
      '(422 INVALID_MODEL, MISSING_WEIGHTS, WEIGHTS_MISMATCH, UNSUPPORTED_OPERATOR naming every layer or operator that cannot be converted; 413 over the size limits).',
    uploadFields: { name: Type.Optional(Type.String({ description: 'Display name' })) },
    service: services.models,
  });
};

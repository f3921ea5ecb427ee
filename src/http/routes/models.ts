import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
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
      'A TF.js Layers model: `model.json` plus every weight shard its weightsManifest names, or one `.zip` holding them. ' +
      'Files stream to the object store; nothing is kept if validation fails (422 INVALID_MODEL, MISSING_WEIGHTS, WEIGHTS_MISMATCH; 413 over the size limits).',
    uploadFields: { name: Type.Optional(Type.String({ description: 'Display name' })) },
    service: services.models,
  });
};

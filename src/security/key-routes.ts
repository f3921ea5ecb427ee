// /v1/keys (a global admin key): create, list and revoke API keys. The plain key is in the create response only.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, IdParams } from '../schemas/common.ts';
import type { ApiKeyService } from './api-keys.ts';
import { SCOPES } from './scopes.ts';

const tags = ['keys'];
const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  scope: Type.Enum(SCOPES),
  projectId: Type.Union([Type.String(), Type.Null()], { description: 'The one project the key sees; null: a global key (every project)' }),
  prefix: Type.String({ description: 'First characters of the key' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const keyRoutes: FastifyPluginAsync<{ keys: ApiKeyService }> = async (fastify, { keys }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags,
        summary: 'Create an API key (admin)',
        description:
          'Returns the plain key once, in `key`; only its sha256 is stored. Send it as `Authorization: Bearer <key>`. ' +
          "With `projectId` the key sees only that project (other projects' resources are 404 to it); without, it is global.",
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            scope: Type.Enum(SCOPES),
            projectId: Type.Optional(
              Type.String({
                description: 'Bind the key to this project (it sees and creates only there); absent: a global key that sees every project',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ key: Type.String(), apiKey: ApiKey }), ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const created = await keys.create(req.body);
      return reply.status(201).header('location', `/v1/keys/${created.apiKey.id}`).send(created);
    },
  );
  app.get(
    '/keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags,
        summary: 'List API keys (admin)',
        description: 'Every key with its prefix, scope and last use; never the key itself.',
        response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ items: await keys.list() }),
  );
  app.delete(
    '/keys/:id',
    {
      schema: {
        operationId: 'revokeApiKey',
        tags,
        summary: 'Revoke an API key (admin)',
        description: 'The key stops working at once; the revoked key is returned with revokedAt set.',
        params: IdParams,
        response: { 200: ApiKey, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => keys.revoke(req.params.id),
  );
};

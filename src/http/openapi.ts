// OpenAPI 3.1 generated from the route schemas (@fastify/swagger), served at /openapi.json with Swagger UI
// at /docs. `npm run openapi` writes the same document to openapi/openapi.json. Not encapsulated
// (fastify-plugin): @fastify/swagger must see every route of the app, so buildApp registers it first.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

export const API_VERSION = '1.0.0';

const docs: FastifyPluginAsync = async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'modelpress',
        version: API_VERSION,
        description:
          'Model-compression service: upload TF.js Layers models and datasets, run train / evaluate / prune / distill / quantize / pipeline jobs, ' +
          'and read results and metrics. Errors are RFC 9457 problem documents (application/problem+json) with a stable `code`.',
      },
      servers: [{ url: 'http://127.0.0.1:3000' }],
      tags: [
        { name: 'models', description: 'TF.js Layers models' },
        { name: 'datasets', description: 'Training and evaluation data' },
        { name: 'jobs', description: 'Training and compression jobs' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export const docsPlugin = fp(docs, { name: 'modelpress-docs', fastify: '5.x' });

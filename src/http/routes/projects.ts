// /v1/projects (a global admin key, like /v1/keys): create and list projects. Thin adapters over ProjectService;
// what a project scopes is described in src/domain/projects.ts.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
import { errorResponses } from '../../schemas/common.ts';

const tags = ['projects'];
const Project = Type.Object({
  id: Type.String({ description: "Slug: what keys (projectId) and resources' projectId name it by" }),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

export const projectRoutes: FastifyPluginAsync<{ services: Services }> = async (fastify, { services }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/projects',
    {
      schema: {
        operationId: 'createProject',
        tags,
        summary: 'Create a project (global admin)',
        description:
          'A tenant: keys created with its `projectId` see and create models, datasets and jobs in it only. ' +
          'The `default` project always exists: callers without a key (auth off) work there. 409 CONFLICT when the id is taken.',
        body: Type.Object(
          {
            id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Lowercase letters, digits and dashes' }),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Display name (default: the id)' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Project, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      const project = await services.projects.create(req.body);
      return reply.status(201).header('location', `/v1/projects/${project.id}`).send(project);
    },
  );
  app.get(
    '/projects',
    {
      schema: {
        operationId: 'listProjects',
        tags,
        summary: 'List projects (global admin)',
        description: 'Every project, oldest first.',
        response: { 200: Type.Object({ items: Type.Array(Project) }), ...errorResponses(401, 403) },
      },
    },
    async (req) => ({ items: await services.projects.list(req.projectScope) }),
  );
};

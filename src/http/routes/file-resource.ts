// Routes shared by the two uploaded-file resources (models, datasets): multipart upload, list, get,
// streamed file download, zip archive, delete. Each resource plugin supplies its service and schemas.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static, type TSchema } from 'typebox';
import type { UploadPart } from '../../domain/uploads.ts';
import { AppError } from '../../errors.ts';
import { errorResponses, IdParams } from '../../schemas/common.ts';

interface FileResourceService<Dto, Query> {
  upload(parts: AsyncIterable<UploadPart>): Promise<Dto>;
  list(q: Query): Promise<{ items: Dto[]; nextCursor: string | null }>;
  get(id: string): Promise<Dto>;
  openFile(id: string, path: string): Promise<{ body: Readable; sizeBytes: number; sha256: string; path: string }>;
  archive(id: string): Promise<{ body: Readable; name: string }>;
  delete(id: string): Promise<void>;
}

interface ResourceSpec<Dto, Q extends TSchema> {
  /** URL segment and OpenAPI tag, e.g. "models". */
  plural: string;
  singular: string;
  schemaId: string;
  pageSchemaId: string;
  listQuery: Q;
  uploadDescription: string;
  uploadFields: Record<string, TSchema>;
  service: FileResourceService<Dto, Static<Q>>;
}

const contentDisposition = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

function sendDownload(reply: FastifyReply, file: { body: Readable; sizeBytes: number; sha256: string; path: string }) {
  return reply
    .header('content-type', file.path.endsWith('.json') ? 'application/json' : 'application/octet-stream')
    .header('content-length', file.sizeBytes)
    .header('etag', `"${file.sha256}"`)
    .header('x-content-sha256', file.sha256)
    .header('content-disposition', contentDisposition(file.path.split('/').pop() ?? file.path))
    .send(file.body); // streamed, never serialized
}

export function registerFileResourceRoutes<Dto, Q extends TSchema>(fastify: FastifyInstance, spec: ResourceSpec<Dto, Q>) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { plural, singular, service } = spec;
  const tags = [plural];
  const one = { $ref: `${spec.schemaId}#` };

  app.post(
    `/${plural}`,
    {
      schema: {
        tags,
        summary: `Upload a ${singular}`,
        description: spec.uploadDescription,
        consumes: ['multipart/form-data'],
        body: Type.Object({
          ...spec.uploadFields,
          files: Type.Array(Type.String({ format: 'binary' }), { description: 'One or more file parts (any field name)' }),
        }),
        response: { 201: one, ...errorResponses(400, 413, 415, 422) },
      },
      // The body is a multipart stream consumed by the service; the schema above only documents it.
      validatorCompiler: () => () => true,
    },
    async (req, reply) => {
      if (!req.isMultipart()) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `upload a ${singular} as multipart/form-data`);
      }
      const dto = await service.upload(req.parts() as AsyncIterable<UploadPart>);
      reply.status(201);
      return dto;
    },
  );

  app.get(
    `/${plural}`,
    {
      schema: {
        tags,
        summary: `List ${plural}, newest first`,
        querystring: spec.listQuery,
        response: { 200: { $ref: `${spec.pageSchemaId}#` }, ...errorResponses(400) },
      },
    },
    // The type provider cannot resolve Static<Q> for a generic Q; the schema validated it.
    async (req) => service.list(req.query as Static<Q>),
  );

  app.get(
    `/${plural}/:id`,
    { schema: { tags, summary: `Get a ${singular}`, params: IdParams, response: { 200: one, ...errorResponses(400, 404) } } },
    async (req) => service.get(req.params.id),
  );

  app.get(
    `/${plural}/:id/files/:path`,
    {
      schema: {
        tags,
        summary: `Download one file of a ${singular} (streamed)`,
        params: Type.Object({
          id: IdParams.properties.id,
          path: Type.String({ description: 'File path as listed in files[].path (URL-encode any "/" as %2F)' }),
        }),
        response: {
          200: Type.String({ format: 'binary', description: 'File content; ETag and x-content-sha256 carry its sha256' }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => sendDownload(reply, await service.openFile(req.params.id, req.params.path)),
  );

  app.get(
    `/${plural}/:id/archive`,
    {
      schema: {
        tags,
        summary: `Download all files of a ${singular} as one zip (streamed)`,
        params: IdParams,
        response: { 200: Type.String({ format: 'binary' }), ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const { body, name } = await service.archive(req.params.id);
      return reply
        .header('content-type', 'application/zip')
        .header('content-disposition', contentDisposition(name))
        .send(body as unknown as string); // streamed, never serialized
    },
  );

  app.delete(
    `/${plural}/:id`,
    {
      schema: {
        tags,
        summary: `Delete a ${singular} and its files`,
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await service.delete(req.params.id);
      return reply.status(204).send(null);
    },
  );
}

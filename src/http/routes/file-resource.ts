// Routes shared by the two uploaded-file resources (models, datasets): multipart upload, list, get,
// streamed file download (ETag/If-None-Match → 304, Range/If-Range → 206), deterministic zip archive (strong
// ETag, Content-Length), delete. Each resource plugin supplies its service, schemas and examples.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static, type TSchema } from 'typebox';
import type { Archive } from '../../domain/archive.ts';
import type { ProjectScope } from '../../domain/projects.ts';
import type { OpenedFile } from '../../domain/stored-files.ts';
import type { ByteRange } from '../../storage/object-store.ts';
import type { UploadPart } from '../../domain/uploads.ts';
import { AppError, isAppError } from '../../errors.ts';
import { errorResponses, IdParams } from '../../schemas/common.ts';
import { notModified, requestedRange } from '../conditional.ts';
import { nextLink } from '../pagination.ts';

interface FileResourceService<Dto, Query> {
  upload(scope: ProjectScope, parts: AsyncIterable<UploadPart>): Promise<Dto>;
  list(scope: ProjectScope, q: Query): Promise<{ items: Dto[]; nextCursor: string | null }>;
  get(scope: ProjectScope, id: string): Promise<Dto>;
  openFile(scope: ProjectScope, id: string, path: string): Promise<OpenedFile>;
  archive(scope: ProjectScope, id: string): Promise<Archive>;
  delete(scope: ProjectScope, id: string): Promise<void>;
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

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

const ConditionalHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'ETag(s) of a copy you hold: 304 when one is current' })),
});
const RangeHeaders = Type.Object({
  ...ConditionalHeaders.properties,
  range: Type.Optional(Type.String({ description: 'One byte range, e.g. bytes=0-1023 or bytes=-500 (206)', examples: ['bytes=0-1023'] })),
  'if-range': Type.Optional(Type.String({ description: 'The ETag your partial copy came from: a mismatch sends the whole file (200)' })),
});

const header = (req: FastifyRequest, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

async function sendFile(req: FastifyRequest, reply: FastifyReply, file: OpenedFile) {
  const etag = `"${file.sha256}"`;
  reply.header('etag', etag).header('accept-ranges', 'bytes').header('x-content-sha256', file.sha256);
  if (notModified(header(req, 'if-none-match'), etag)) return reply.status(304).send();
  let range: ByteRange | null;
  try {
    range = requestedRange(header(req, 'range'), header(req, 'if-range'), etag, file.sizeBytes);
  } catch (err) {
    if (isAppError(err) && err.code === 'RANGE_NOT_SATISFIABLE') reply.header('content-range', `bytes */${file.sizeBytes}`);
    throw err;
  }
  reply
    .header('content-type', file.path.endsWith('.json') && !range ? 'application/json' : 'application/octet-stream')
    .header('content-disposition', contentDisposition(file.path.split('/').pop() ?? file.path));
  if (range) {
    reply
      .status(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${file.sizeBytes}`)
      .header('content-length', range.end - range.start + 1);
  } else reply.header('content-length', file.sizeBytes);
  return reply.send(await file.open(range ?? undefined)); // streamed, never serialized
}

function sendArchive(req: FastifyRequest, reply: FastifyReply, archive: Archive) {
  reply.header('etag', archive.etag);
  if (notModified(header(req, 'if-none-match'), archive.etag)) return reply.status(304).send();
  const { body, sizeBytes } = archive.open();
  return reply
    .header('content-type', 'application/zip')
    .header('content-length', sizeBytes)
    .header('content-disposition', contentDisposition(archive.name))
    .send(body); // streamed, never serialized
}

export function registerFileResourceRoutes<Dto, Q extends TSchema>(fastify: FastifyInstance, spec: ResourceSpec<Dto, Q>) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { plural, singular, service } = spec;
  const Singular = cap(singular);
  const tags = [plural];
  const one = { $ref: `${spec.schemaId}#` };

  app.post(
    `/${plural}`,
    {
      schema: {
        operationId: `upload${Singular}`,
        tags,
        summary: `Upload a ${singular}`,
        description: spec.uploadDescription,
        consumes: ['multipart/form-data'],
        body: Type.Object({
          ...spec.uploadFields,
          files: Type.Array(Type.String({ format: 'binary' }), {
            description: 'One or more file parts (any field name); each part needs a file name, which is how files are told apart',
          }),
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
      const dto = (await service.upload(req.projectScope, req.parts() as AsyncIterable<UploadPart>)) as Dto & { id: string };
      return reply.status(201).header('location', `/v1/${plural}/${dto.id}`).send(dto);
    },
  );

  app.get(
    `/${plural}`,
    {
      schema: {
        operationId: `list${Singular}s`,
        tags,
        summary: `List ${plural}, newest first`,
        description: `One page of ${plural}; follow nextCursor (or the Link rel="next" header) for the next one.`,
        querystring: spec.listQuery,
        response: { 200: { $ref: `${spec.pageSchemaId}#` }, ...errorResponses(400) },
      },
    },
    async (req, reply) => {
      // The type provider cannot resolve Static<Q> for a generic Q; the schema validated it.
      const page = await service.list(req.projectScope, req.query as Static<Q>);
      nextLink(req, reply, page.nextCursor);
      return page;
    },
  );

  app.get(
    `/${plural}/:id`,
    {
      schema: {
        operationId: `get${Singular}`,
        tags,
        summary: `Get a ${singular}`,
        description: `The ${singular} with its files (path, size, sha256).`,
        params: IdParams,
        response: { 200: one, ...errorResponses(400, 404) },
      },
    },
    async (req) => service.get(req.projectScope, req.params.id),
  );

  app.get(
    `/${plural}/:id/files/:path`,
    {
      schema: {
        operationId: `download${Singular}File`,
        tags,
        summary: `Download one file of a ${singular} (streamed)`,
        description:
          'The bytes of one file. `ETag` is the quoted sha256: send it in If-None-Match for 304, or in If-Range with a Range for the rest ' +
          'of a partial download (206). JSON files (model.json) are served as application/json, everything else as application/octet-stream.',
        params: Type.Object({
          id: IdParams.properties.id,
          path: Type.String({ description: 'File path as listed in files[].path (URL-encode any "/" as %2F)', examples: ['model.json'] }),
        }),
        headers: RangeHeaders,
        response: {
          200: {
            description: 'The file',
            content: {
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              'application/json': { schema: { type: 'string', format: 'binary' } },
            },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => sendFile(req, reply, await service.openFile(req.projectScope, req.params.id, req.params.path)),
  );

  app.get(
    `/${plural}/:id/archive`,
    {
      schema: {
        operationId: `download${Singular}Archive`,
        tags,
        summary: `Download all files of a ${singular} as one zip (streamed)`,
        description:
          'A zip of every file (stored, not compressed, in path order, fixed timestamps): the same files give the same bytes, so the ETag is ' +
          'strong and If-None-Match answers 304.',
        params: IdParams,
        headers: ConditionalHeaders,
        response: {
          200: { description: 'The zip archive', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } },
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => sendArchive(req, reply, await service.archive(req.projectScope, req.params.id)),
  );

  app.delete(
    `/${plural}/:id`,
    {
      schema: {
        operationId: `delete${Singular}`,
        tags,
        summary: `Delete a ${singular} and its files`,
        description: `Removes the ${singular} and its stored files. 409 while a queued or running job uses it.`,
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await service.delete(req.projectScope, req.params.id);
      return reply.status(204).send(null);
    },
  );
}

// OpenAPI 3.1 generated from the route schemas (@fastify/swagger), served at /openapi.json with Swagger UI
// at /docs. `npm run openapi` writes the same document to openapi/openapi.json. Not encapsulated
// (fastify-plugin): @fastify/swagger must see every route of the app, so buildApp registers it first.
// Routes declare what is theirs (operationId, body, success schema, examples); documentOperation() adds
// what every operation shares, from one set of rules, so clients see it everywhere: the bearer scheme with its
// 401/403, 429 with its rate-limit headers, Location on 201, ETag/Content-Length/Range headers and 206/304 on
// downloads, Link on pages. Those additions are documentation only: serialization uses the route schemas.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { problemExample } from '../schemas/common.ts';
import { createJobExample } from '../schemas/examples.ts';
import { requiredScope } from '../security/scopes.ts';

export const API_VERSION = '1.0.0';
export const BEARER_SCHEME = 'bearerAuth';

type Json = Record<string, unknown>;
type Responses = Record<string, Json>;

const header = (description: string, schema: Json = { type: 'string' }) => ({ description, ...schema });

const RATE_LIMIT_HEADERS = {
  'retry-after': header('Seconds until the limit resets', { type: 'integer' }),
  'x-ratelimit-limit': header('Requests allowed per minute for this key (or client address)', { type: 'integer' }),
  'x-ratelimit-remaining': header('Requests left in the current window', { type: 'integer' }),
  'x-ratelimit-reset': header('Seconds until the window resets', { type: 'integer' }),
};
const DOWNLOAD_HEADERS = {
  etag: header('Strong entity tag: the quoted sha256 of the bytes. Send it back in If-None-Match (304) or If-Range'),
  'content-length': header('Size in bytes', { type: 'integer' }),
  'content-disposition': header('attachment; filename=… (RFC 6266)'),
};
const FILE_HEADERS = {
  ...DOWNLOAD_HEADERS,
  'x-content-sha256': header('sha256 of the whole file (hex), also on partial responses'),
  'accept-ranges': header('Byte ranges are supported', { type: 'string', enum: ['bytes'] }),
};
const LINK_HEADER = { link: header('`<…?cursor=…>; rel="next"` when there is a next page (the same cursor as nextCursor)') };
const LOCATION_HEADER = { location: header('URL of the created resource', { type: 'string', format: 'uri-reference' }) };

const BINARY = { type: 'string', format: 'binary' };

const problemResponse = (status: number, extra: Json = {}) => ({
  description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem details (RFC 9457)',
  ...extra,
  content: { 'application/problem+json': { schema: { $ref: 'Problem#' }, example: problemExample(status) } },
});
const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (VALIDATION_FAILED names the field; enum errors list the allowed values)',
  401: 'No API key, or an invalid or revoked one (UNAUTHENTICATED)',
  403: "The key's scope does not cover this operation (FORBIDDEN)",
  404: 'No such resource (NOT_FOUND)',
  409: 'Conflicts with the current state (INVALID_STATE, IDEMPOTENCY_CONFLICT, IN_USE)',
  413: 'Over the size limits (PAYLOAD_TOO_LARGE)',
  415: 'Wrong Content-Type (UNSUPPORTED_MEDIA_TYPE)',
  416: 'The Range cannot be satisfied (RANGE_NOT_SATISFIABLE)',
  422: 'The upload or request is well-formed but unusable (e.g. INVALID_MODEL, INVALID_DATASET)',
  429: 'Rate limit exceeded (RATE_LIMITED); retry after Retry-After seconds',
};

/** A success response with headers: a content-carrying response object (headers are documentation only). */
function withHeaders(response: Json | undefined, headers: Json): Json {
  if (!response) return { description: 'Success', headers };
  if ('content' in response || response.type === 'null') return { ...response, headers: { ...(response.headers as Json), ...headers } };
  const { description, ...schema } = response;
  return { description: typeof description === 'string' ? description : 'Success', headers, content: { 'application/json': { schema } } };
}

/** Adds the shared parts of one operation (see the file comment). Exported for tests. */
export function documentOperation(schema: Json, method: string, url: string): Json {
  const path = url.replace(/:(\w+)/g, '{$1}');
  const scope = requiredScope(method, path, false);
  const operationId = typeof schema.operationId === 'string' ? schema.operationId : '';
  const responses: Responses = { ...(schema.response as Responses) };
  for (const [status, r] of Object.entries(responses)) {
    if (Number(status) >= 400 && JSON.stringify(r).includes('problem+json')) responses[status] = problemResponse(Number(status));
    else if (status === '201') responses[status] = withHeaders(r, LOCATION_HEADER);
  }
  if (/^download\w+File$/.test(operationId)) {
    responses['200'] = withHeaders(responses['200'], FILE_HEADERS);
    responses['206'] = {
      description: 'The requested byte range (Range: bytes=…; an If-Range that does not match gives 200 and the whole file)',
      headers: { ...FILE_HEADERS, 'content-range': header('bytes first-last/size') },
      content: { 'application/octet-stream': { schema: BINARY } },
    };
    responses['304'] = { description: 'Not modified: If-None-Match matched the ETag', headers: { etag: DOWNLOAD_HEADERS.etag } };
    responses['416'] = problemResponse(416, { headers: { 'content-range': header('bytes */size') } });
  } else if (/^download\w+Archive$/.test(operationId)) {
    responses['200'] = withHeaders(responses['200'], DOWNLOAD_HEADERS);
    responses['304'] = { description: 'Not modified: If-None-Match matched the ETag', headers: { etag: DOWNLOAD_HEADERS.etag } };
  } else if (JSON.stringify(responses['200'] ?? {}).match(/nextCursor|Page#/)) {
    responses['200'] = withHeaders(responses['200'], LINK_HEADER);
  }
  if (path.startsWith('/v1/')) responses['429'] = problemResponse(429, { headers: RATE_LIMIT_HEADERS });
  if (scope) {
    responses['401'] = problemResponse(401);
    responses['403'] = problemResponse(403);
  }
  // createJob documents its body as the oneOf of the kinds' variants (schemas/job-create.ts); it validates with CreateJobBody.
  const body = operationId === 'createJob' ? { body: { $ref: 'CreateJobRequest#' } } : {};
  return { ...schema, ...body, response: responses, security: scope ? [{ [BEARER_SCHEME]: [] }] : [] };
}

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
        license: { name: 'UNLICENSED', identifier: 'LicenseRef-modelpress-private' },
        contact: { name: 'modelpress maintainers' },
      },
      // Relative: the document is right wherever it is served (behind a proxy, on another port).
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: [
        { name: 'models', description: 'TF.js Layers models' },
        { name: 'datasets', description: 'Training and evaluation data' },
        { name: 'jobs', description: 'Training and compression jobs' },
        { name: 'keys', description: 'API keys (admin scope)' },
        { name: 'projects', description: 'Projects (tenants): what a project-bound key sees (global admin)' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'mp_…',
            description:
              'An API key from POST /v1/keys, sent as `Authorization: Bearer mp_…`. Scopes: read (GET), write (other methods), admin (/v1/keys). ' +
              'Required when the server runs with MODELPRESS_AUTH=true (the default with an external database).',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const method = Array.isArray(route.method) ? route.method[0] : route.method;
      if (!schema || schema.hide) return { schema, url };
      return { schema: documentOperation(schema as Json, method, url), url };
    },
    // A $ref body loses its example on the way to the document: put createJob's back on its media type.
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const post = doc.openapiObject.paths?.['/v1/jobs']?.post as { requestBody?: { content?: Record<string, Json> } } | undefined;
      const json = post?.requestBody?.content?.['application/json'];
      if (json) json.example = createJobExample;
      return doc.openapiObject;
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export const docsPlugin = fp(docs, { name: 'modelpress-docs', fastify: '5.x' });

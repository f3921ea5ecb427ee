import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { generateOpenApi as generate } from '../helpers/openapi.ts';

// One app start for the whole file: every test reads the same generated document.
let docPromise: Promise<unknown> | undefined;
const generateOpenApi = () => (docPromise ??= generate());

test('committed openapi/openapi.json equals the document generated from the route schemas (run `npm run openapi`)', async () => {
  const generated = await generateOpenApi();
  const committed = JSON.parse(await fs.readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'));
  assert.deepEqual(committed, generated);
});

test('every /v1 operation documents its responses and problem+json errors', async () => {
  const doc = (await generateOpenApi()) as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }>; tags?: string[] }>>;
  };
  const ops = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/v1/'))
    .flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ id: `${m.toUpperCase()} ${p}`, op })));
  assert.ok(ops.length >= 10);
  for (const { id, op } of ops) {
    assert.ok(op.tags?.length, `${id} has a tag`);
    const errors = Object.entries(op.responses).filter(([s]) => Number(s) >= 400);
    assert.ok(errors.length > 0, `${id} documents error responses`);
    for (const [s, r] of errors) assert.ok(r.content?.['application/problem+json'], `${id} ${s} is problem+json`);
  }
});

interface Resp {
  headers?: Record<string, unknown>;
  content?: Record<string, { schema: Record<string, unknown> }>;
}

test('operations: unique verb-noun operationIds, bearer security with 401/403/429, binary downloads, relative server', async () => {
  const doc = (await generateOpenApi()) as {
    servers: { url: string }[];
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    paths: Record<string, Record<string, { operationId?: string; security?: Record<string, string[]>[]; responses: Record<string, Resp> }>>;
  };
  assert.deepEqual(
    doc.servers.map((s) => s.url),
    ['/'],
  );
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, { ...doc.components.securitySchemes.bearerAuth, type: 'http', scheme: 'bearer' });
  const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([m, op]) => ({ id: `${m.toUpperCase()} ${p}`, p, op })),
  );
  const ids = ops.map((o) => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  for (const { id, p, op } of ops) {
    assert.match(
      op.operationId ?? '',
      /^(get|list|create|update|upload|download|delete|cancel|retry|revoke|stream|export)[A-Z][A-Za-z]+$/,
      `${id}: verb-noun operationId`,
    );
    if (!p.startsWith('/v1/')) continue;
    assert.deepEqual(op.security, [{ bearerAuth: [] }], `${id}: bearer`);
    for (const s of ['401', '403', '429']) assert.ok(op.responses[s], `${id} documents ${s}`);
    const created = op.responses['201'];
    if (created) assert.ok(created.headers?.location, `${id}: 201 documents Location`);
  }
  const file = doc.paths['/v1/models/{id}/files/{path}'].get.responses;
  assert.deepEqual(file['200'].content?.['application/octet-stream'].schema, { type: 'string', format: 'binary' });
  assert.ok(file['200'].headers?.etag && file['206'] && file['304']);
  const archive = doc.paths['/v1/datasets/{id}/archive'].get.responses;
  assert.deepEqual(archive['200'].content?.['application/zip'].schema, { type: 'string', format: 'binary' });
  const events = doc.paths['/v1/jobs/{id}/events'].get.responses['200'].content?.['text/event-stream'].schema;
  assert.equal(events?.$ref, '#/components/schemas/JobStreamEvent');
});

test('createJob body: oneOf discriminated by type, one variant per registered kind with its own params schema', async () => {
  const { jobKindSchemas } = await import('../../src/jobs/registry.ts');
  const { requestView } = await import('../../src/schemas/job-create.ts');
  type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[] };
  const doc = (await generateOpenApi()) as {
    components: { schemas: Record<string, Schema> };
    paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { $ref: string }; example: { type: string } }> } }>>;
  };
  const media = doc.paths['/v1/jobs'].post.requestBody.content['application/json'];
  assert.equal(media.schema.$ref, '#/components/schemas/CreateJobRequest');
  const request = doc.components.schemas.CreateJobRequest as {
    oneOf: { $ref: string }[];
    discriminator: { propertyName: string; mapping: Record<string, string> };
  };
  const kinds = jobKindSchemas();
  assert.equal(request.discriminator.propertyName, 'type');
  assert.deepEqual(
    Object.keys(request.discriminator.mapping),
    kinds.map((k) => k.type),
  );
  assert.deepEqual(request.oneOf.map((r) => r.$ref).sort(), Object.values(request.discriminator.mapping).sort());
  for (const { type, paramsSchema } of kinds) {
    const variant = doc.components.schemas[request.discriminator.mapping[type].split('/').pop()!];
    assert.deepEqual(variant.properties?.type.enum, [type], `${type}: type is its constant`);
    assert.deepEqual(variant.required, ['type'], `${type}: only type is required`);
    // The kind's own params schema, as a request sees it (defaulted properties may be omitted).
    const params = variant.properties.params;
    const own = requestView(JSON.parse(JSON.stringify(paramsSchema))) as Schema;
    assert.match(String(params.description), new RegExp(type));
    assert.deepEqual(Object.keys(params.properties ?? {}), Object.keys(own.properties ?? {}), `${type}: params from the registry`);
    assert.deepEqual(params.required, own.required, `${type}: required params are those without a default`);
  }
  const prune = doc.components.schemas.CreatePruneJob.properties!.params;
  assert.equal(prune.required, undefined, 'prune: every param has a default or is optional');
  assert.equal(prune.additionalProperties, false);
  assert.equal(media.example.type, 'prune');
});

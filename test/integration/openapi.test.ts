import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { generateOpenApi } from '../helpers/openapi.ts';

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

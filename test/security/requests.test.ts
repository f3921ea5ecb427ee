// Hostile requests (issue 18): malformed GraphQL-over-HTTP, alias / field / fragment floods, cost with aliases,
// GET mutations, batched bodies, subscription floods, forged REST cursors, broken multipart, oversize URLs and
// headers. Each answer is a 4xx problem+json or GraphQL error (never 500), /healthz stays fast meanwhile, and
// nothing is stored.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { npyBytes } from '../fixtures/datasets/helpers.ts';
import { gql } from '../helpers/graphql.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { assertGraphqlError, assertNothingLeft, assertProblem, underProbe } from '../helpers/hostile.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';
import { MAX_SQL } from '../../src/graphql/limits.ts';

const PER_SOCKET = 4;
const PER_KEY = 6;

const post = (ctx: TestContext, body: string, contentType: string | null = 'application/json') =>
  fetch(`${ctx.baseUrl}/graphql`, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body }).then(async (r) => ({
    status: r.status,
    headers: Object.fromEntries(r.headers),
    body: await r.json(),
  }));

const get = (ctx: TestContext, path: string, headers: Record<string, string> = {}) =>
  fetch(`${ctx.baseUrl}${path}`, { headers }).then(async (r) => ({ status: r.status, headers: Object.fromEntries(r.headers), body: await r.json() }));

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** One raw HTTP/1.1 exchange (fetch cannot send a request line or headers this large). */
function rawRequest(ctx: TestContext, head: string): Promise<{ status: number; type: string; body: any }> {
  const { port } = new URL(ctx.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(head));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headers, body] = text.split('\r\n\r\n');
      resolve({ status: Number(headers.split(' ')[1]), type: /content-type: ([^\r\n]+)/i.exec(headers)?.[1] ?? '', body: JSON.parse(body) });
    });
  });
}

/** A graphql-transport-ws socket that starts `count` subscriptions and reports the first answer of each. */
async function subscribeMany(ctx: TestContext, query: string, count: number) {
  const ws = new WebSocket(`${ctx.baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const first = new Map<string, { type: string; payload: any }>();
  let wake: () => void = () => {};
  let acked = false;
  ws.on('message', (raw: Buffer) => {
    const msg = JSON.parse(raw.toString('utf8'));
    if (msg.type === 'connection_ack') {
      acked = true;
      wake();
    } else if (msg.id && !first.has(msg.id)) {
      first.set(msg.id, msg);
      wake();
    }
  });
  const until = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      if (cond()) return resolve();
      wake = () => cond() && resolve();
    });
  const ack = until(() => acked);
  ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await ack;
  for (let i = 1; i <= count; i++) ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query } }));
  await until(() => first.size === count);
  const answers = [...first.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, m]) => m);
  return {
    answers,
    close: () => new Promise<void>((resolve) => (ws.once('close', () => resolve()), ws.close())),
  };
}

await forEachTarget('hostile requests', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_SUBSCRIPTIONS_PER_SOCKET: String(PER_SOCKET), MODELPRESS_SUBSCRIPTIONS_PER_KEY: String(PER_KEY) });
  });
  after(async () => ctx?.close());

  test('malformed GraphQL requests are 4xx GraphQL errors, never 500', async () => {
    const q = '{ models { items { id } } }';
    const cases: [string, () => ReturnType<typeof post>, number, string][] = [
      ['empty query', () => post(ctx, JSON.stringify({ query: '' })), 400, 'VALIDATION_FAILED'],
      ['non-string query', () => post(ctx, JSON.stringify({ query: 5 })), 400, 'VALIDATION_FAILED'],
      ['null body', () => post(ctx, 'null'), 400, 'VALIDATION_FAILED'],
      ['number body', () => post(ctx, '42'), 400, 'VALIDATION_FAILED'],
      ['string body', () => post(ctx, '"x"'), 400, 'VALIDATION_FAILED'],
      ['array body (batch)', () => post(ctx, JSON.stringify([{ query: q }])), 400, 'VALIDATION_FAILED'],
      ['empty array', () => post(ctx, '[]'), 400, 'VALIDATION_FAILED'],
      ['invalid JSON', () => post(ctx, '{"query":'), 400, 'VALIDATION_FAILED'],
      ['text/plain', () => post(ctx, q, 'text/plain'), 400, 'VALIDATION_FAILED'],
      ['no content type', () => post(ctx, q, null), 400, 'VALIDATION_FAILED'],
      ['unknown content type', () => post(ctx, q, 'application/x-evil'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['variables not an object', () => post(ctx, JSON.stringify({ query: q, variables: [1] })), 400, 'VALIDATION_FAILED'],
      ['operationName a number', () => post(ctx, JSON.stringify({ query: q, operationName: 3 })), 400, 'VALIDATION_FAILED'],
      ['unknown operationName', () => post(ctx, JSON.stringify({ query: q, operationName: 'Nope' })), 400, 'VALIDATION_FAILED'],
      ['two operations, no name', () => post(ctx, JSON.stringify({ query: `query A ${q} query B ${q}` })), 400, 'VALIDATION_FAILED'],
      [
        'JSON AST as query',
        () => post(ctx, JSON.stringify({ query: JSON.stringify({ kind: 'Document', definitions: [] }) })),
        400,
        'VALIDATION_FAILED',
      ],
      ['body over 1 MB', () => post(ctx, JSON.stringify({ query: q, variables: { x: 'a'.repeat(1_100_000) } })), 413, 'PAYLOAD_TOO_LARGE'],
      ['query over 64 KiB', () => post(ctx, JSON.stringify({ query: `{ ${'__typename '.repeat(7000)}}` })), 413, 'PAYLOAD_TOO_LARGE'],
      ['GET without query', () => get(ctx, '/graphql'), 400, 'VALIDATION_FAILED'],
      ['GET with broken variables', () => get(ctx, `/graphql?query=${encodeURIComponent(q)}&variables=%7Bx`), 400, 'VALIDATION_FAILED'],
    ];
    await underProbe(ctx, 'malformed graphql', async () => {
      for (const [name, send, status, code] of cases) {
        const res = await send();
        assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
        assertGraphqlError(res, status, code);
      }
    });
    await assertNothingLeft(ctx);
  });

  test('GET serves queries only: a mutation is 405 with Allow: POST', async () => {
    const ok = await get(ctx, `/graphql?query=${encodeURIComponent('{ models { items { id } } }')}`);
    assert.equal(ok.status, 200);
    const mutation = `mutation { cancelJob(id: "00000000-0000-4000-8000-000000000000") { id } }`;
    const res = await get(ctx, `/graphql?query=${encodeURIComponent(mutation)}`);
    assertGraphqlError(res, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, 'POST');
  });

  test('alias, field and fragment floods are refused before validation, also 10 at once', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: models(first: 1) { items { id } }`).join(' ')} }`;
    const fields = `{ models { items { ${'id name '.repeat(600)}} } }`;
    const frags =
      Array.from({ length: 20 }, (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`).join(' ') +
      ' fragment F0 on Query { models { items { id } } }';
    await underProbe(ctx, 'graphql floods', async () => {
      // The flood (4,900 aliases, ~200 KB) is over the query size cap; 1,000 aliases fit and hit the alias cap.
      const huge = await Promise.all(Array.from({ length: 10 }, () => post(ctx, JSON.stringify({ query: aliases(4900) }))));
      for (const a of huge) assertGraphqlError(a, 413, 'PAYLOAD_TOO_LARGE');
      const many = await Promise.all(Array.from({ length: 10 }, () => post(ctx, JSON.stringify({ query: aliases(1000) }))));
      for (const a of many) assertGraphqlError(a, 422, 'RESOURCE_LIMIT');
      assert.equal(many[0].body.errors[0].extensions.details.what, 'aliases');
      const f = await post(ctx, JSON.stringify({ query: fields }));
      assertGraphqlError(f, 422, 'RESOURCE_LIMIT');
      assert.equal(f.body.errors[0].extensions.details.what, 'fields');
      const x = await post(ctx, JSON.stringify({ query: `{ ...F20 } ${frags}` }));
      assertGraphqlError(x, 422, 'RESOURCE_LIMIT');
    });
  });

  test('cost counts every alias and the SQL each runs; SQL queries per request are capped', async () => {
    const q = gql(ctx);
    const one = 'jobs(first: 200) { items { id model { id } } }';
    const few = await q(`{ ${Array.from({ length: 3 }, (_, i) => `a${i}: ${one}`).join(' ')} }`);
    assert.equal(few.status, 200, JSON.stringify(few.body));
    const many = await q(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: ${one}`).join(' ')} }`);
    assertGraphqlError(many, 422, 'RESOURCE_LIMIT');
    assert.ok(many.body.errors[0].extensions.details.cost > 10_000);
    // Each root field is one SQL query: at most MAX_SQL per request, however cheap each one is.
    const roots = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: models(first: 1) { items { id } }`).join(' ')} }`;
    assert.equal((await q(roots(MAX_SQL))).status, 200);
    const over = await q(roots(MAX_SQL + 1));
    assertGraphqlError(over, 422, 'RESOURCE_LIMIT');
    assert.deepEqual(over.body.errors[0].extensions.details, { sql: MAX_SQL + 1, limit: MAX_SQL, what: 'sql' });
  });

  test('subscriptions are capped per socket and per client; closing a socket gives its slots back', async () => {
    const { job } = await ctx.runtime.services.jobs.create(ALL_PROJECTS, { type: 'noop', params: { steps: 1 } });
    const sub = `subscription { jobUpdated(id: "${job.id}") { id status } }`;
    await underProbe(ctx, 'subscription flood', async () => {
      const a = await subscribeMany(ctx, sub, PER_SOCKET + 1);
      assert.deepEqual(
        a.answers.map((m) => m.type),
        [...Array(PER_SOCKET).fill('next'), 'error'],
      );
      assert.equal(a.answers[PER_SOCKET].payload[0].extensions.code, 'RATE_LIMITED');
      const b = await subscribeMany(ctx, sub, PER_SOCKET);
      assert.deepEqual(
        b.answers.map((m) => m.type),
        [...Array(PER_KEY - PER_SOCKET).fill('next'), ...Array(2 * PER_SOCKET - PER_KEY).fill('error')],
      );
      await a.close();
      const c = await subscribeMany(ctx, sub, PER_SOCKET);
      assert.deepEqual(
        c.answers.map((m) => m.type),
        Array(PER_SOCKET).fill('next'),
      );
      await Promise.all([b.close(), c.close()]);
    });
    await ctx.runtime.services.jobs.cancel(ALL_PROJECTS, job.id);
  });

  test('forged REST cursors are 400 BAD_CURSOR', async () => {
    const { job } = await ctx.runtime.services.jobs.create(ALL_PROJECTS, { type: 'noop', params: { steps: 1 } });
    const cursors: [string, string][] = [
      ['/v1/models', b64(['+275760-09-13T00:00:00.000Z', 'x'])],
      ['/v1/datasets', b64(['-000001-01-01T00:00:00.000Z', 'x'])],
      ['/v1/jobs', b64(['2020-01-01T00:00:00.000Z', 'x'.repeat(10_000)]).slice(0, 2000)],
      [`/v1/jobs/${job.id}/metrics`, b64([2 ** 40, '1'])],
      [`/v1/jobs/${job.id}/metrics`, b64([1, '99999999999999999999999'])],
      [`/v1/jobs/${job.id}/logs`, b64(['9'.repeat(30)])],
      [`/v1/jobs/${job.id}/logs`, b64(['9223372036854775808'])],
    ];
    for (const [path, cursor] of cursors) assertProblem(await get(ctx, `${path}?cursor=${cursor}`), 400, 'BAD_CURSOR');
    const metrics = await get(ctx, `/v1/jobs/${job.id}/metrics?fromStep=${2 ** 40}`);
    assert.equal(metrics.status, 200);
    const events = await fetch(`${ctx.baseUrl}/v1/jobs/${job.id}/events`, { headers: { 'last-event-id': '9'.repeat(30) } });
    assert.equal(events.status, 400);
    await ctx.runtime.services.jobs.cancel(ALL_PROJECTS, job.id);
  });

  test('malformed multipart, oversize URLs and headers are problem+json', async () => {
    await underProbe(ctx, 'multipart and http', async () => {
      for (const resource of ['models', 'datasets']) {
        const truncated = await fetch(`${ctx.baseUrl}/v1/${resource}`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
          body: '--xyz\r\nContent-Disposition: form-data; name="files"; filename="model.json"\r\n\r\n{"a":',
        });
        assertProblem(
          { status: truncated.status, headers: Object.fromEntries(truncated.headers), body: await truncated.json() },
          400,
          'INVALID_UPLOAD',
        );
        const noBoundary = await fetch(`${ctx.baseUrl}/v1/${resource}`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data' },
          body: 'x',
        });
        assertProblem(
          { status: noBoundary.status, headers: Object.fromEntries(noBoundary.headers), body: await noBoundary.json() },
          400,
          'INVALID_UPLOAD',
        );
      }
      assertProblem(await get(ctx, `/v1/models?name=${'a'.repeat(10_000)}`), 414, 'URI_TOO_LONG');
      const longLine = await rawRequest(ctx, `GET /v1/models?name=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(longLine.status, 414);
      assert.match(longLine.type, /application\/problem\+json/);
      assert.equal(longLine.body.code, 'URI_TOO_LONG');
      const bigHeaders = await rawRequest(ctx, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(bigHeaders.status, 431);
      assert.match(bigHeaders.type, /application\/problem\+json/);
      assert.equal(bigHeaders.body.code, 'HEADERS_TOO_LARGE');
    });
    await assertNothingLeft(ctx);
  });

  test('job estimates cannot be bypassed: spec-built params and activations × batch are refused at create', async () => {
    const npy = (dtype: 'uint8' | 'int32', shape: number[]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return npyBytes(
        dtype,
        shape,
        Array.from({ length: n }, (_, i) => i % 2),
      );
    };
    const dataset = await ctx.http
      .post('/v1/datasets')
      .attach('files', npy('uint8', [4, 28, 28]), 'x.npy')
      .attach('files', npy('int32', [4]), 'y.npy')
      .expect(201);
    const create = async (params: Record<string, unknown>) => {
      const res = await ctx.http.post('/v1/jobs').send({ type: 'train', datasetId: dataset.body.id, params });
      return { status: res.status, headers: res.headers as Record<string, string>, body: res.body as { code?: string; details?: any } };
    };
    const jobsBefore = await ctx.runtime.db.job.count();
    await underProbe(ctx, 'job estimates', async () => {
      // Two Dense 40000: 1.6e9 parameters, counted from a shape-only build (the spec used to count 0).
      const dense = await create({
        architecture: {
          layers: [
            { type: 'dense', units: 40000 },
            { type: 'dense', units: 40000 },
          ],
        },
      });
      assertProblem(dense, 422, 'RESOURCE_LIMIT');
      assert.equal(dense.body.details.field, 'params.architecture');
      assert.equal(dense.body.details.params, 1_631_520_002); // 784·40000 + 40000 + 40000² + 40000 + 40000·2 + 2
      // 2 M parameters, but 200,704 activation floats per example × batch 65536 × 2 (training) ≈ 105 GB.
      const conv = await create({ architecture: { layers: [{ type: 'conv2d', filters: 256, kernelSize: 3, padding: 'same' }] }, batchSize: 65536 });
      assertProblem(conv, 422, 'RESOURCE_LIMIT');
      assert.ok(conv.body.details.activationsPerExample >= 200_704, JSON.stringify(conv.body.details));
      // A preset (the default lenet-300-100) passes.
      assert.equal((await create({ epochs: 1 })).status, 201);
    });
    // The last test of the file: the dataset and the queued job stay (no worker runs here).
    assert.equal(await ctx.runtime.db.job.count(), jobsBefore + 1, 'only the preset job was queued');
  });
});

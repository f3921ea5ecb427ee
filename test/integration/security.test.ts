// API keys, scopes, rate limits, CORS, security headers and /metrics through the real app, on both targets.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import type supertest from 'supertest';
import WebSocket from 'ws';
import { ApiKeyService, hashKey } from '../../src/security/api-keys.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { eventually } from '../helpers/wait.ts';

const MISSING = '00000000-0000-4000-8000-000000000000';
const RATE_LIMIT = 40;
const FAILED_AUTH_LIMIT = 60;

/** GET from a given loopback source address (its own per-IP counters), with optional headers. */
function getFrom(baseUrl: string, source: string, path: string, headers: Record<string, string> = {}) {
  const { port } = new URL(baseUrl);
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress: source, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }),
      );
    });
    req.on('error', reject);
  });
}

/** Opens a graphql-transport-ws socket and subscribes; resolves with the first message after `subscribe`. */
async function wsFirstMessage(baseUrl: string, query: string, o: { header?: string; payload?: Record<string, unknown> }) {
  const ws = new WebSocket(
    `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    'graphql-transport-ws',
    o.header ? { headers: { authorization: o.header } } : {},
  );
  try {
    const opened = await new Promise<{ ok: true } | { ok: false; status: number }>((resolve) => {
      ws.once('open', () => resolve({ ok: true }));
      ws.once('unexpected-response', (_req, res) => resolve({ ok: false, status: res.statusCode ?? 0 }));
      ws.once('error', () => resolve({ ok: false, status: 0 }));
    });
    if (!opened.ok) return { rejectedWith: opened.status };
    // A graphql-transport-ws frame, or the close that ended the socket instead. Only `error` frames' payload
    // (an array of GraphQL errors) is read here.
    type Frame = { type: string; code?: number; payload?: { message: string; extensions?: { code?: string } }[] };
    const next = () =>
      new Promise<Frame>((resolve) => {
        ws.once('message', (raw: Buffer) => resolve(JSON.parse(raw.toString('utf8')) as Frame));
        ws.once('close', (code) => resolve({ type: 'closed', code }));
      });
    ws.send(JSON.stringify({ type: 'connection_init', payload: o.payload ?? {} }));
    const ack = await next();
    if (ack.type !== 'connection_ack') return { init: ack };
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
    return { message: await next() };
  } finally {
    ws.terminate();
  }
}

await forEachTarget('security', (target) => {
  let ctx: TestContext;
  let keys: ApiKeyService;
  const key: Record<'read' | 'write' | 'admin', string> = { read: '', write: '', admin: '' };
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

  before(async () => {
    ctx = await startTestApp(target, {
      MODELPRESS_AUTH: 'on',
      MODELPRESS_RATE_LIMIT: String(RATE_LIMIT),
      MODELPRESS_RATE_LIMIT_UNAUTHENTICATED: String(FAILED_AUTH_LIMIT),
      MODELPRESS_CORS_ORIGINS: 'https://dash.example',
      MODELPRESS_METRICS: 'auth',
    });
    keys = new ApiKeyService(ctx.runtime.db);
    for (const scope of ['read', 'write', 'admin'] as const) key[scope] = (await keys.create({ name: `test-${scope}`, scope })).key;
  });
  after(async () => ctx?.close());

  test('no key: 401 problem+json on REST, SSE, downloads and GraphQL; probes and docs stay open', async () => {
    for (const [method, url] of [
      ['get', '/v1/models'],
      ['post', '/v1/models'],
      ['get', `/v1/jobs/${MISSING}/events`],
      ['get', `/v1/models/${MISSING}/files/model.json`],
      ['post', '/v1/jobs'],
      ['get', '/v1/keys'],
    ] as const) {
      const res = await ctx.http[method](url);
      assert.equal(res.status, 401, `${method} ${url}`);
      assert.match(res.headers['content-type'], /application\/problem\+json/);
      assert.equal(JSON.parse(res.text).code, 'UNAUTHENTICATED', `${method} ${url}: ${res.text}`);
    }
    const gqlRes = await ctx.http.post('/graphql').send({ query: '{ models { items { id } } }' });
    assert.equal(gqlRes.status, 401);
    assert.equal(gqlRes.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    const bad = await ctx.http.get('/v1/models').set(bearer('mp_' + 'x'.repeat(43)));
    assert.equal(bad.status, 401);
    for (const open of ['/healthz', '/readyz', '/docs/', '/openapi.json']) assert.equal((await ctx.http.get(open)).status, 200, open);
    assert.equal((await ctx.http.get('/metrics')).status, 401, '/metrics is protected with MODELPRESS_METRICS=auth');
  });

  test('keys are stored hashed; lastUsedAt is recorded', async () => {
    const rows = await ctx.runtime.db.apiKey.findMany();
    assert.equal(rows.length >= 3, true);
    for (const k of Object.values(key)) {
      assert.match(k, /^mp_[A-Za-z0-9_-]{43}$/);
      const row = rows.find((r) => r.hash === hashKey(k));
      assert.ok(row, 'row found by hash');
      assert.ok(!JSON.stringify(row).includes(k.slice(3)), 'the plain key is stored nowhere');
    }
    assert.equal((await ctx.http.get('/v1/models').set(bearer(key.read))).status, 200);
    // Written after the response: wait for the row rather than a guessed time.
    await eventually(async () => {
      const used = await ctx.runtime.db.apiKey.findUnique({ where: { hash: hashKey(key.read) } });
      assert.ok(used?.lastUsedAt, 'lastUsedAt set');
    });
  });

  test('scopes: read reads, write uploads and creates jobs, admin manages keys', async () => {
    const m = await tinyModelFiles(4);
    const upload = (k: string) =>
      ctx.http.post('/v1/models').set(bearer(k)).attach('files', m.modelJson, 'model.json').attach('files', m.shards[0].data, m.shards[0].name);
    const denied = await upload(key.read);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'FORBIDDEN');
    const created = await upload(key.write);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    assert.equal((await ctx.http.get(`/v1/models/${id}/files/model.json`).set(bearer(key.read))).status, 200, 'download with read');
    assert.equal((await ctx.http.delete(`/v1/models/${id}`).set(bearer(key.read))).status, 403);
    assert.equal(
      (
        await ctx.http
          .post('/v1/jobs')
          .set(bearer(key.read))
          .send({ type: 'noop', params: { steps: 1 } })
      ).status,
      403,
    );
    const job = await ctx.http
      .post('/v1/jobs')
      .set(bearer(key.write))
      .send({ type: 'noop', params: { steps: 1 } });
    assert.equal(job.status, 201);
    const sse = await ctx.http.get(`/v1/jobs/${MISSING}/events`).set(bearer(key.read));
    assert.equal(sse.status, 404, 'SSE passes auth with read (then 404 for a missing job)');

    // GraphQL over HTTP
    const gq = (k: string, query: string) => ctx.http.post('/graphql').set(bearer(k)).send({ query });
    const q = await gq(key.read, `{ model(id: "${id}") { id } }`);
    assert.equal(q.status, 200);
    assert.equal(q.body.data.model.id, id);
    const mut = await gq(key.read, `mutation { createJob(input: { type: NOOP, params: { steps: 1 } }) { id } }`);
    assert.equal(mut.body.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const mutOk = await gq(key.write, `mutation { createJob(input: { type: NOOP, params: { steps: 1 } }) { id } }`);
    assert.equal(mutOk.body.errors, undefined, JSON.stringify(mutOk.body.errors));

    // Admin routes
    assert.equal((await ctx.http.get('/v1/keys').set(bearer(key.write))).status, 403);
    const made = await ctx.http.post('/v1/keys').set(bearer(key.admin)).send({ name: 'ci', scope: 'read' });
    assert.equal(made.status, 201);
    assert.match(made.body.key, /^mp_/);
    const list = await ctx.http.get('/v1/keys').set(bearer(key.admin));
    assert.ok(list.body.items.some((k: { id: string }) => k.id === made.body.apiKey.id));
    assert.ok(!JSON.stringify(list.body).includes(made.body.key), 'list never shows a key');
    assert.equal((await ctx.http.get('/v1/models').set(bearer(made.body.key))).status, 200);
    const revoked = await ctx.http.delete(`/v1/keys/${made.body.apiKey.id}`).set(bearer(key.admin));
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revokedAt);
    const after = await ctx.http.get('/v1/models').set(bearer(made.body.key));
    assert.equal(after.status, 401, 'a revoked key stops working at once');
  });

  test('GraphQL WebSocket: key from the upgrade header or connection_init payload; none or bad is refused', async () => {
    const sub = `subscription { jobUpdated(id: "${MISSING}") { id } }`;
    const none = await wsFirstMessage(ctx.baseUrl, sub, {});
    assert.equal(none.message?.type, 'error');
    assert.equal(none.message.payload?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const viaPayload = await wsFirstMessage(ctx.baseUrl, sub, { payload: { authorization: `Bearer ${key.read}` } });
    // Past authentication: the resolver answers that the job does not exist.
    assert.match(viaPayload.message?.payload?.[0]?.message ?? '', /not found/, JSON.stringify(viaPayload));
    const viaHeader = await wsFirstMessage(ctx.baseUrl, sub, { header: `Bearer ${key.read}` });
    assert.match(viaHeader.message?.payload?.[0]?.message ?? '', /not found/, JSON.stringify(viaHeader));
    const badPayload = await wsFirstMessage(ctx.baseUrl, sub, { payload: { authorization: `Bearer mp_${'y'.repeat(43)}` } });
    assert.ok(badPayload.init && badPayload.init.type !== 'connection_ack', JSON.stringify(badPayload));
    const badHeader = await wsFirstMessage(ctx.baseUrl, sub, { header: `Bearer mp_${'y'.repeat(43)}` });
    assert.equal(badHeader.rejectedWith, 401);
  });

  test('rate limit per key: 429 RATE_LIMITED problem+json, other keys unaffected', async () => {
    const limited = (await keys.create({ name: 'rate', scope: 'read' })).key;
    const other = (await keys.create({ name: 'rate-other', scope: 'read' })).key;
    const statuses: number[] = [];
    let last: supertest.Response | undefined;
    for (let i = 0; i < RATE_LIMIT + 2; i++) {
      last = await ctx.http.get('/v1/datasets').set(bearer(limited));
      statuses.push(last.status);
    }
    assert.equal(statuses.filter((s) => s === 200).length, RATE_LIMIT);
    assert.ok(last);
    assert.equal(last.status, 429);
    assert.equal(last.body.code, 'RATE_LIMITED');
    assert.match(last.headers['content-type'], /problem\+json/);
    assert.ok(Number(last.headers['retry-after']) > 0);
    assert.equal((await ctx.http.get('/v1/datasets').set(bearer(other))).status, 200);
    assert.equal((await ctx.http.get('/healthz')).status, 200, 'probes are never limited');
  });

  test('keyless and bad-key requests are limited per IP; a repeated bogus key is looked up once', async () => {
    const lookups = () => ctx.app.security.keys.lookups;
    // Keyless: FAILED_AUTH_LIMIT answers 401, then 429 with Retry-After, before any key lookup.
    const keyless: number[] = [];
    for (let i = 0; i <= FAILED_AUTH_LIMIT; i++) keyless.push((await getFrom(ctx.baseUrl, '127.0.0.9', '/v1/models')).status);
    assert.deepEqual(keyless, [...Array(FAILED_AUTH_LIMIT).fill(401), 429]);
    const limited = await getFrom(ctx.baseUrl, '127.0.0.9', '/v1/models', bearer(key.read));
    assert.equal(limited.status, 429, 'an address over its failures is refused before its key is looked up');
    assert.equal(limited.body.code, 'RATE_LIMITED');
    assert.match(String(limited.headers['content-type']), /problem\+json/);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await getFrom(ctx.baseUrl, '127.0.0.10', '/v1/models', bearer(key.read))).status, 200, 'other addresses are unaffected');
    // One bogus key 20 times: one database lookup (negative cache); distinct bogus keys: one each until the limit.
    const bogus = `mp_${'b'.repeat(43)}`;
    const before = lookups();
    for (let i = 0; i < 20; i++) assert.equal((await getFrom(ctx.baseUrl, '127.0.0.11', '/v1/models', bearer(bogus))).status, 401);
    assert.equal(lookups() - before, 1);
    const distinct: number[] = [];
    const before2 = lookups();
    for (let i = 0; i < FAILED_AUTH_LIMIT; i++) {
      const k = `mp_${String(i).padStart(43, 'c')}`;
      distinct.push((await getFrom(ctx.baseUrl, '127.0.0.11', '/v1/models', bearer(k))).status);
    }
    assert.deepEqual(distinct, [...Array(FAILED_AUTH_LIMIT - 20).fill(401), ...Array(20).fill(429)]);
    assert.equal(lookups() - before2, FAILED_AUTH_LIMIT - 20, 'no lookup once the address is limited');
    assert.equal((await getFrom(ctx.baseUrl, '127.0.0.11', '/healthz')).status, 200, 'probes stay open');
  });

  test('CORS allow-list and security headers (strict CSP for the API, relaxed for the UIs)', async () => {
    const ok = await ctx.http
      .options('/v1/models')
      .set('origin', 'https://dash.example')
      .set('access-control-request-method', 'GET')
      .set('access-control-request-headers', 'authorization');
    assert.equal(ok.headers['access-control-allow-origin'], 'https://dash.example');
    assert.match(ok.headers['access-control-allow-headers'], /authorization/);
    const evil = await ctx.http.options('/v1/models').set('origin', 'https://evil.example').set('access-control-request-method', 'GET');
    assert.equal(evil.headers['access-control-allow-origin'], undefined);

    const api = await ctx.http.get('/healthz');
    assert.match(api.headers['content-security-policy'], /default-src 'none'/);
    assert.equal(api.headers['x-content-type-options'], 'nosniff');
    assert.ok(api.headers['x-frame-options']);
    const docs = await ctx.http.get('/docs/');
    assert.equal(docs.status, 200);
    assert.match(docs.headers['content-security-policy'], /script-src 'self'/);
    // Swagger UI, GraphiQL and the dashboard load nothing from another host, and talk only to this one.
    for (const page of ['/docs/', '/graphiql', '/']) {
      const res = await ctx.http.get(page);
      assert.equal(res.status, 200, page);
      assert.doesNotMatch(res.text, /(src|href)=["']?(https?:)?\/\//i, `${page} references an external URL`);
      const { port } = new URL(ctx.baseUrl);
      assert.match(
        res.headers['content-security-policy'],
        new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${port} wss://127\\.0\\.0\\.1:${port};`),
      );
    }
  });

  test('/metrics: Prometheus text with HTTP latency, jobs by status, queue depth and upload bytes', async () => {
    const res = await ctx.http.get('/metrics').set(bearer(key.read));
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /text\/plain; version=0\.0\.4/);
    const text = res.text;
    assert.match(text, /modelpress_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/models"/);
    assert.match(text, /modelpress_jobs\{status="queued"\} [1-9]/);
    assert.match(text, /modelpress_queue_depth [1-9]/);
    assert.match(text, /modelpress_upload_bytes_total\{resource="models"\} [1-9]/);
    assert.match(text, /# TYPE modelpress_job_duration_seconds histogram/);
  });
});

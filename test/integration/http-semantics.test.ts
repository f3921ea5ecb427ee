// HTTP semantics every client may rely on, on both targets: strong ETags with If-None-Match → 304 on every
// download, byte ranges (Range / If-Range → 206, 416) on files, deterministic archives with Content-Length,
// Location on every 201, 405 with Allow on known paths, and Link rel="next" beside nextCursor.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { binaryParser, tinyModelFiles, type ModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const CSV = Buffer.from('a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n');

await forEachTarget('HTTP semantics', (target) => {
  let ctx: TestContext;
  let files: ModelFiles;
  let modelId: string;
  let datasetId: string;
  before(async () => {
    ctx = await startTestApp(target);
    files = await tinyModelFiles(4);
    const m = await ctx.http
      .post('/v1/models')
      .field('name', 'semantics')
      .attach('files', files.modelJson, 'model.json')
      .attach('files', files.shards[0].data, files.shards[0].name)
      .expect(201);
    modelId = m.body.id;
    assert.equal(m.headers.location, `/v1/models/${modelId}`);
    const d = await ctx.http.post('/v1/datasets').attach('files', CSV, 'tiny.csv').expect(201);
    datasetId = d.body.id;
    assert.equal(d.headers.location, `/v1/datasets/${datasetId}`);
  });
  after(async () => ctx?.close());

  const bytes = (path: string, headers: Record<string, string> = {}) => {
    const req = ctx.http.get(path).buffer(true).parse(binaryParser);
    for (const [k, v] of Object.entries(headers)) req.set(k, v);
    return req;
  };

  test('Location on every 201: models, datasets (checked in setup), jobs, keys', async () => {
    const job = await ctx.http.post('/v1/jobs').send({ type: 'noop' }).expect(201);
    assert.equal(job.headers.location, `/v1/jobs/${job.body.id}`);
    await ctx.http.get(job.headers.location).expect(200);
    await ctx.http.get(`/v1/models/${modelId}`).expect(200);
  });

  test('file download: strong ETag = quoted sha256, Content-Length, Accept-Ranges; If-None-Match → 304', async () => {
    const shard = files.shards[0];
    const path = `/v1/models/${modelId}/files/${shard.name}`;
    const full = await bytes(path).expect(200);
    assert.equal(full.headers.etag, `"${sha(shard.data)}"`);
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal(Number(full.headers['content-length']), shard.data.length);
    assert.ok(full.body.equals(shard.data));
    const again = await bytes(path, { 'if-none-match': full.headers.etag }).expect(304);
    assert.equal(again.headers.etag, full.headers.etag);
    assert.equal(again.body.length, 0);
    await bytes(path, { 'if-none-match': `"other", W/${full.headers.etag}` }).expect(304); // weak comparison, list
    await bytes(path, { 'if-none-match': '"other"' }).expect(200);
    const json = await bytes(`/v1/datasets/${datasetId}/files/tiny.csv`, { 'if-none-match': `"${sha(CSV)}"` }).expect(304);
    assert.equal(json.headers.etag, `"${sha(CSV)}"`);
  });

  test('Range → 206 with Content-Range; suffix ranges; If-Range (match → 206, stale → 200); beyond the end → 416', async () => {
    const shard = files.shards[0];
    const path = `/v1/models/${modelId}/files/${shard.name}`;
    const size = shard.data.length;
    const etag = `"${sha(shard.data)}"`;
    const part = await bytes(path, { range: 'bytes=0-9' }).expect(206);
    assert.equal(part.headers['content-range'], `bytes 0-9/${size}`);
    assert.equal(Number(part.headers['content-length']), 10);
    assert.equal(part.headers['x-content-sha256'], sha(shard.data));
    assert.ok(part.body.equals(shard.data.subarray(0, 10)));
    const tail = await bytes(path, { range: 'bytes=-16' }).expect(206);
    assert.equal(tail.headers['content-range'], `bytes ${size - 16}-${size - 1}/${size}`);
    assert.ok(tail.body.equals(shard.data.subarray(size - 16)));
    const rest = await bytes(path, { range: `bytes=10-`, 'if-range': etag }).expect(206);
    assert.ok(Buffer.concat([part.body, rest.body]).equals(shard.data));
    const stale = await bytes(path, { range: 'bytes=0-9', 'if-range': '"stale"' }).expect(200);
    assert.ok(stale.body.equals(shard.data));
    const bad = await ctx.http.get(path).set('range', `bytes=${size}-`).expect(416);
    assert.equal(bad.headers['content-range'], `bytes */${size}`);
    assert.equal(bad.body.code, 'RANGE_NOT_SATISFIABLE');
  });

  test('archives are deterministic: same bytes, strong ETag, Content-Length; If-None-Match → 304', async () => {
    for (const path of [`/v1/models/${modelId}/archive`, `/v1/datasets/${datasetId}/archive`]) {
      const a = await bytes(path).expect(200);
      const b = await bytes(path).expect(200);
      assert.ok(a.body.equals(b.body), `${path}: same bytes twice`);
      assert.match(a.headers.etag, /^"[0-9a-f]{64}"$/);
      assert.equal(a.headers.etag, b.headers.etag);
      assert.equal(Number(a.headers['content-length']), a.body.length);
      assert.equal(a.body.readUInt32LE(0), 0x04034b50, 'a zip');
      const not = await bytes(path, { 'if-none-match': a.headers.etag }).expect(304);
      assert.equal(not.headers.etag, a.headers.etag);
    }
  });

  test('405 with Allow for a method a known path lacks; unknown paths stay 404', async () => {
    const put = await ctx.http.put('/v1/models').send({}).expect(405);
    assert.equal(put.headers.allow, 'GET, HEAD, POST');
    assert.equal(put.body.code, 'METHOD_NOT_ALLOWED');
    const patch = await ctx.http.patch(`/v1/jobs/${crypto.randomUUID()}`).send({}).expect(405);
    assert.equal(patch.headers.allow, 'GET, HEAD');
    const del = await ctx.http.delete(`/v1/models/${modelId}/archive`).expect(405);
    assert.equal(del.headers.allow, 'GET, HEAD');
    await ctx.http.put('/v1/nothing-here').expect(404);
  });

  test('Link rel="next" carries the same cursor as nextCursor, and following it gives the next page', async () => {
    await ctx.http.post('/v1/jobs').send({ type: 'noop' }).expect(201);
    const first = await ctx.http.get('/v1/jobs?limit=1').expect(200);
    assert.ok(first.body.nextCursor);
    const m = /^<([^>]+)>; rel="next"$/.exec(first.headers.link);
    assert.ok(m, `Link header: ${first.headers.link}`);
    assert.equal(new URL(m[1], ctx.baseUrl).searchParams.get('cursor'), first.body.nextCursor);
    const second = await ctx.http.get(m[1]).expect(200);
    assert.notEqual(second.body.items[0].id, first.body.items[0].id);
    const last = await ctx.http.get('/v1/models?limit=50').expect(200);
    assert.equal(last.body.nextCursor, null);
    assert.equal(last.headers.link, undefined);
  });
});

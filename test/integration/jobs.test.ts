// Jobs API with an in-process worker (concurrency 1): lifecycle, SSE, metrics and logs, cancel, retry,
// priority, idempotency, validation errors, pagination and filters.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, readSse, waitForJob } from '../helpers/jobs.ts';

await forEachTarget('jobs API', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'cpu', MODELPRESS_QUEUE_POLL_SECONDS: '1' }, { worker: { concurrency: 1 } });
  });
  after(async () => ctx?.close());

  const create = (body: Record<string, unknown>, key?: string) => {
    const req = ctx.http.post('/v1/jobs');
    if (key) req.set('idempotency-key', key);
    return req.send(body);
  };
  /** Occupies the single worker slot until canceled. */
  async function blocker() {
    const b = (await create({ type: 'noop', params: { steps: 600, durationMs: 60_000 }, priority: 100 }).expect(201)).body;
    await waitForJob(ctx, b.id, (j) => j.status === 'running');
    return b.id as string;
  }

  test('noop job: queued → running → succeeded with progress, report, backend, worker, attempts', async () => {
    const res = await create({ type: 'noop', params: { steps: 3, durationMs: 150 } }).expect(201);
    assert.equal(res.headers.location, `/v1/jobs/${res.body.id}`);
    assert.equal(res.body.type, 'noop');
    assert.deepEqual(res.body.params, { steps: 3, durationMs: 150 });
    assert.ok(['queued', 'running'].includes(res.body.status));
    assert.equal(res.body.priority, 0);
    assert.deepEqual(res.body.resultModelIds, []);
    const done = await waitForJob(ctx, res.body.id, finished);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(done.progress, { fraction: 1, epoch: 1, step: 3, etaSeconds: 0 });
    assert.equal(done.attempts, 1);
    assert.equal(done.error, null);
    assert.equal(done.backend, 'cpu');
    assert.match(done.workerId ?? '', /^[^:]+:\d+:\d+$/);
    assert.equal((done.report as { steps: number }).steps, 3);
    assert.ok(done.startedAt && done.finishedAt && done.startedAt <= (done.finishedAt as string));
  });

  test('SSE: replays and streams ordered events, closes at the end; Last-Event-ID resumes; metrics and logs endpoints', async () => {
    const job = (await create({ type: 'noop', params: { steps: 10, durationMs: 1500 } }).expect(201)).body;
    const sse = await readSse(`${ctx.baseUrl}/v1/jobs/${job.id}/events`);
    assert.equal(sse.status, 200);
    assert.match(sse.contentType ?? '', /^text\/event-stream/);
    const { events } = sse;
    assert.deepEqual(events[0], {
      id: events[0].id,
      event: 'state',
      data: { type: 'state', jobId: job.id, time: events[0].data.time, status: 'queued', attempts: 0 },
    });
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.status);
    assert.deepEqual(states, ['queued', 'running', 'succeeded']);
    assert.equal(events.at(-1)!.event, 'state');
    const ids = events.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'event ids increase',
    );
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
    assert.ok(progress.length >= 3, `several progress events (${progress.length})`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].step > progress[i - 1].step, 'progress steps increase');
    assert.equal(progress.at(-1)!.fraction, 1);
    assert.equal(progress.at(-1)!.step, 10);
    const metricSteps = events.filter((e) => e.event === 'metric').flatMap((e) => e.data.points.map((p: { step: number }) => p.step));
    assert.deepEqual(metricSteps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(events.some((e) => e.event === 'log' && e.data.message === 'noop finished 10 steps'));

    const resumed = await readSse(`${ctx.baseUrl}/v1/jobs/${job.id}/events`, { 'last-event-id': events[2].id });
    assert.deepEqual(
      resumed.events.map((e) => e.id),
      events.slice(3).map((e) => e.id),
    );

    const metrics = (await ctx.http.get(`/v1/jobs/${job.id}/metrics?name=loss`).expect(200)).body;
    assert.deepEqual(
      metrics.items.map((m: { step: number }) => m.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(Object.keys(metrics.items[0]).sort(), ['epoch', 'name', 'step', 'time', 'value']);
    assert.equal(metrics.items[3].value, 1 / 4);
    assert.equal(metrics.nextCursor, null);
    const p1 = (await ctx.http.get(`/v1/jobs/${job.id}/metrics?fromStep=5&limit=3`).expect(200)).body;
    assert.deepEqual(
      p1.items.map((m: { step: number }) => m.step),
      [5, 6, 7],
    );
    const p2 = (await ctx.http.get(`/v1/jobs/${job.id}/metrics?fromStep=5&limit=3&cursor=${p1.nextCursor}`).expect(200)).body;
    assert.deepEqual(
      p2.items.map((m: { step: number }) => m.step),
      [8, 9, 10],
    );
    assert.equal(p2.nextCursor, null);
    assert.equal((await ctx.http.get(`/v1/jobs/${job.id}/metrics?name=nope`).expect(200)).body.items.length, 0);
    assert.equal((await ctx.http.get(`/v1/jobs/${job.id}/metrics?cursor=junk`).expect(400)).body.code, 'BAD_CURSOR');

    const logs = (await ctx.http.get(`/v1/jobs/${job.id}/logs`).expect(200)).body;
    assert.equal(logs.items.length, 1);
    assert.equal(logs.items[0].level, 'info');
    assert.equal(logs.items[0].message, 'noop finished 10 steps');
    assert.deepEqual(logs.items[0].data, { steps: 10 });
  });

  test('SSE of an unknown job → 404 problem; of a finished job → the whole history, then closes', async () => {
    const res = await ctx.http.get(`/v1/jobs/${crypto.randomUUID()}/events`).expect(404);
    assert.equal(res.body.code, 'NOT_FOUND');
    const job = (await create({ type: 'noop', params: { steps: 1 } }).expect(201)).body;
    await waitForJob(ctx, job.id, finished);
    const { events } = await readSse(`${ctx.baseUrl}/v1/jobs/${job.id}/events`);
    assert.deepEqual(
      events.filter((e) => e.event === 'state').map((e) => e.data.status),
      ['queued', 'running', 'succeeded'],
    );
  });

  test('cancel a running job: it stops within one step → canceled; canceling again → 409', async () => {
    // Two steps of 10 minutes each: a canceled job can only have stopped inside the first step, so no clock is read.
    const job = (await create({ type: 'noop', params: { steps: 2, durationMs: 1_200_000 } }).expect(201)).body;
    await waitForJob(ctx, job.id, (j) => j.status === 'running');
    const res = await ctx.http.post(`/v1/jobs/${job.id}/cancel`).expect(200);
    assert.ok(res.body.status === 'canceled' || res.body.cancelRequested === true);
    const done = await waitForJob(ctx, job.id, finished, 60_000);
    assert.equal(done.status, 'canceled');
    assert.equal(done.error?.code, 'JOB_CANCELED');
    assert.equal(done.progress.step ?? 0, 0, 'stopped during its first step');
    const again = await ctx.http.post(`/v1/jobs/${job.id}/cancel`).expect(409);
    assert.equal(again.body.code, 'INVALID_STATE');
  });

  test('cancel a queued job: canceled at once and never runs; retry runs it; priority orders the queue', async () => {
    const block = await blocker();
    const low = (await create({ type: 'noop', params: { steps: 1 }, priority: 0 }).expect(201)).body;
    const queued = (await create({ type: 'noop', params: { steps: 1 } }).expect(201)).body;
    const high = (await create({ type: 'noop', params: { steps: 1 }, priority: 10 }).expect(201)).body;
    const canceled = (await ctx.http.post(`/v1/jobs/${queued.id}/cancel`).expect(200)).body;
    assert.equal(canceled.status, 'canceled');
    assert.equal(canceled.attempts, 0);
    assert.equal(canceled.startedAt, null);
    const notRetryable = await ctx.http.post(`/v1/jobs/${low.id}/retry`).expect(409);
    assert.equal(notRetryable.body.code, 'INVALID_STATE');

    await ctx.http.post(`/v1/jobs/${block}/cancel`).expect(200);
    const [l, h] = await Promise.all([waitForJob(ctx, low.id, finished), waitForJob(ctx, high.id, finished)]);
    assert.equal(l.status, 'succeeded');
    assert.equal(h.status, 'succeeded');
    assert.ok(h.startedAt! < l.startedAt!, 'the higher priority job ran first');
    assert.equal((await ctx.http.get(`/v1/jobs/${queued.id}`).expect(200)).body.status, 'canceled', 'a canceled queued job never runs');

    const retried = (await ctx.http.post(`/v1/jobs/${queued.id}/retry`).expect(200)).body;
    assert.equal(retried.status === 'queued' || retried.status === 'running' || retried.status === 'succeeded', true);
    assert.equal(retried.error, null);
    const done = await waitForJob(ctx, queued.id, finished);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.attempts, 1);
    assert.equal((await ctx.http.post(`/v1/jobs/${queued.id}/retry`).expect(409)).body.code, 'INVALID_STATE');
  });

  test('a failing job → failed with error code; retry is a new attempt of the same job', async () => {
    const job = (await create({ type: 'noop', params: { steps: 5, failAt: 2 } }).expect(201)).body;
    const failed = await waitForJob(ctx, job.id, finished);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'JOB_FAILED');
    assert.match(failed.error?.message ?? '', /step 2/);
    assert.equal(failed.attempts, 1);
    await ctx.http.post(`/v1/jobs/${job.id}/retry`).expect(200);
    const again = await waitForJob(ctx, job.id, (j) => finished(j) && j.attempts === 2);
    assert.equal(again.status, 'failed');
    const metrics = (await ctx.http.get(`/v1/jobs/${job.id}/metrics`).expect(200)).body;
    assert.deepEqual(
      metrics.items.map((m: { step: number }) => m.step),
      [1],
      'the series restarts with the new attempt',
    );
  });

  test('validation: params checked per type with defaults, the failing field named; inputs required and must exist', async () => {
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ type: 'noop', params: { steps: -1 } }, 400, 'INVALID_JOB_PARAMS', 'params.steps'],
      [{ type: 'noop', params: { bogus: 1 } }, 400, 'INVALID_JOB_PARAMS', 'params.bogus'],
      [{ type: 'train', datasetId: crypto.randomUUID(), params: { epochs: 0 } }, 400, 'INVALID_JOB_PARAMS', 'params.epochs'],
      [{ type: 'train', datasetId: crypto.randomUUID(), params: { optimizer: 'rmsprop' } }, 400, 'INVALID_JOB_PARAMS', 'params.optimizer'],
      [
        {
          type: 'pipeline',
          modelId: crypto.randomUUID(),
          datasetId: crypto.randomUUID(),
          params: { steps: [{ type: 'prune', params: { sparsity: 2 } }] },
        },
        400,
        'INVALID_JOB_PARAMS',
        'params.steps[0].params.sparsity',
      ],
      [{ type: 'train', params: {} }, 400, 'VALIDATION_FAILED', 'datasetId'],
      [{ type: 'quantize', params: {} }, 400, 'VALIDATION_FAILED', 'modelId'],
      [{ type: 'quantize', modelId: crypto.randomUUID() }, 404, 'NOT_FOUND', 'modelId'],
      [{ type: 'train', datasetId: crypto.randomUUID() }, 404, 'NOT_FOUND', 'datasetId'],
      [{ type: 'fly', params: {} }, 400, 'VALIDATION_FAILED', 'body.type'],
      [{ type: 'noop', priority: 5000 }, 400, 'VALIDATION_FAILED', 'body.priority'],
      [{ type: 'noop', modelId: 'not-a-uuid' }, 400, 'VALIDATION_FAILED', 'body.modelId'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await create(body);
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, code, JSON.stringify(body));
      assert.equal(res.body.details?.field, field, JSON.stringify(body));
    }
    assert.equal((await ctx.http.get(`/v1/jobs/${crypto.randomUUID()}`).expect(404)).body.code, 'NOT_FOUND');
    assert.equal((await ctx.http.post(`/v1/jobs/${crypto.randomUUID()}/cancel`).expect(404)).body.code, 'NOT_FOUND');
  });

  test('Idempotency-Key: same request → same job (200), different request → 409', async () => {
    const key = `k-${crypto.randomUUID()}`;
    const first = await create({ type: 'noop', params: { steps: 1 } }, key).expect(201);
    // Equal after defaults: steps 1 is the default, durationMs 0 too.
    const again = await create({ type: 'noop', params: { durationMs: 0 } }, key).expect(200);
    assert.equal(again.body.id, first.body.id);
    const conflict = await create({ type: 'noop', params: { steps: 2 } }, key).expect(409);
    assert.equal(conflict.body.code, 'IDEMPOTENCY_CONFLICT');
    assert.equal(conflict.body.details.jobId, first.body.id);
    const races = await Promise.all([1, 2, 3].map(() => create({ type: 'noop' }, `${key}-race`)));
    assert.deepEqual(races.map((r) => r.status).sort(), [200, 200, 201]);
    assert.equal(new Set(races.map((r) => r.body.id)).size, 1);
  });

  test('list: newest first, cursor pagination, status and type filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ type: 'noop', params: { steps: 0 } }).expect(201)).body.id);
    for (const id of ids) await waitForJob(ctx, id, finished);
    const p1 = (await ctx.http.get('/v1/jobs?limit=2').expect(200)).body;
    assert.deepEqual(
      p1.items.map((j: { id: string }) => j.id),
      [ids[2], ids[1]],
    );
    const p2 = (await ctx.http.get(`/v1/jobs?limit=2&cursor=${p1.nextCursor}`).expect(200)).body;
    assert.equal(p2.items[0].id, ids[0]);
    const all: { id: string; createdAt: string; status: string }[] = [];
    for (let cursor: string | null = null; ;) {
      const page: { items: typeof all; nextCursor: string | null } = (
        await ctx.http.get(`/v1/jobs?limit=5${cursor ? `&cursor=${cursor}` : ''}`).expect(200)
      ).body;
      all.push(...page.items);
      if (!(cursor = page.nextCursor)) break;
    }
    assert.equal(new Set(all.map((j) => j.id)).size, all.length, 'no job twice across pages');
    assert.deepEqual(
      all.map((j) => j.createdAt),
      all
        .map((j) => j.createdAt)
        .sort()
        .reverse(),
    );
    const failed = (await ctx.http.get('/v1/jobs?status=failed&limit=200').expect(200)).body.items;
    assert.ok(failed.length >= 1);
    assert.ok(failed.every((j: { status: string }) => j.status === 'failed'));
    assert.equal(failed.length, all.filter((j) => j.status === 'failed').length);
    assert.equal((await ctx.http.get('/v1/jobs?type=train').expect(200)).body.items.length, 0);
    assert.equal((await ctx.http.get('/v1/jobs?status=bogus').expect(400)).body.code, 'VALIDATION_FAILED');
    assert.equal((await ctx.http.get('/v1/jobs?cursor=junk').expect(400)).body.code, 'BAD_CURSOR');
  });
});

// GraphQL subscriptions over a real WebSocket, fed by a job that a SEPARATE worker process runs: its events cross
// processes through PostgreSQL NOTIFY (real target) or the event-table tail (embedded PGlite).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gql, wsSubscribe } from '../helpers/graphql.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, waitForJob } from '../helpers/jobs.ts';
import { spawnWorker, type WorkerChild } from '../helpers/workers.ts';

const STEPS = 6;

await forEachTarget('GraphQL subscriptions', (target) => {
  let ctx: TestContext;
  let worker: WorkerChild;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'cpu', MODELPRESS_QUEUE_POLL_SECONDS: '1' });
    worker = spawnWorker(ctx);
    await worker.ready;
  });
  after(async () => {
    await worker?.kill();
    await ctx?.close();
  });

  test('jobUpdated and jobMetrics stream progress of a noop job run by another process, then complete', async () => {
    const q = gql(ctx);
    const created = await q(`mutation { createJob(input: { type: NOOP, params: { steps: ${STEPS}, durationMs: 1800 } }) { id status } }`);
    assert.equal(created.body.errors, undefined, JSON.stringify(created.body.errors));
    const id = created.body.data.createJob.id;

    const updates = await wsSubscribe(
      ctx.baseUrl,
      `subscription($id: ID!) { jobUpdated(id: $id) { id status workerId progress { fraction step } } }`,
      { id },
    );
    const metrics = await wsSubscribe(
      ctx.baseUrl,
      `subscription($id: ID!) { jobMetrics(id: $id, names: ["loss"], fromStep: 1) { jobId points { name step value time } } }`,
      { id },
    );
    const timeout = (ms: number) =>
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no completion in ${ms} ms:\n${worker.output()}`)), ms).unref());
    // A bound for a hang only (the job itself takes ~2 s): a loaded 2-core machine can take many times that.
    const [jobs, batches] = await Promise.race([Promise.all([updates.done, metrics.done]), timeout(120_000)]);

    const states = jobs.map((m) => m.data.jobUpdated);
    assert.ok(states.every((j) => j.id === id));
    const last = states[states.length - 1];
    assert.equal(last.status, 'SUCCEEDED');
    assert.deepEqual(last.progress, { fraction: 1, step: STEPS });
    const running = states.filter((j) => j.status === 'RUNNING');
    assert.ok(running.length >= 2, `running updates: ${JSON.stringify(states)}`);
    assert.ok(
      running.some((j) => j.progress.fraction > 0 && j.progress.fraction < 1),
      'a progress update mid-run',
    );
    assert.ok(
      running.every((j) => j.workerId && j.workerId !== ctx.worker?.id),
      'run by the child process',
    );
    const fractions = states.map((j) => j.progress.fraction);
    assert.deepEqual(
      fractions,
      [...fractions].sort((a, b) => a - b),
      'progress never goes back',
    );

    const points = batches.flatMap((m) => m.data.jobMetrics.points);
    assert.ok(batches.every((m) => m.data.jobMetrics.jobId === id));
    assert.deepEqual(
      points.map((p) => p.step),
      Array.from({ length: STEPS }, (_, i) => i + 1),
      'every step once, in order',
    );
    assert.ok(points.every((p) => p.name === 'loss' && Math.abs(p.value - 1 / p.step) < 1e-9 && !Number.isNaN(Date.parse(p.time))));
  });

  test('subscribing to a missing job answers NOT_FOUND; a finished job completes after its snapshot', async () => {
    const missing = await wsSubscribe(ctx.baseUrl, `subscription { jobUpdated(id: "00000000-0000-4000-8000-000000000000") { id } }`, {});
    await assert.rejects(missing.done, /NOT_FOUND|not found/);
    missing.close();

    const q = gql(ctx);
    const created = await q(`mutation { createJob(input: { type: NOOP, params: { steps: 1 } }) { id } }`);
    const id = created.body.data.createJob.id;
    const done = await waitForJob(ctx, id, finished);
    const sub = await wsSubscribe(ctx.baseUrl, `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, { id });
    assert.deepEqual(await sub.done, [{ data: { jobUpdated: { status: done.status.toUpperCase() } } }]);
    sub.close();
  });
});

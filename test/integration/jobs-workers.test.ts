// Worker child processes (`node --import tsx src/main.ts worker`) on one queue: exactly-once execution across
// two workers, a SIGKILLed worker's job finished by another (attempts = 2), a job whose every attempt loses its
// worker failing with a clear error, a job that blocks its worker's main thread for longer than the lease keeping
// it (the heartbeat runs in its own thread), SIGTERM handling, and SSE of a job run in another process.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { BLOCK_KIND_MODULE, blockedSince, newBlockGate, releaseBlock } from '../helpers/block-kind.ts'; // registers `block` first
import { HOLD_KIND_MODULE, newHoldGate, releaseHold } from '../helpers/hold-kind.ts'; // and `hold`
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, readSse, waitForAll, waitForJob, type JobJson } from '../helpers/jobs.ts';
import { eventually } from '../helpers/wait.ts';
import { spawnWorker, type WorkerChild } from '../helpers/workers.ts';

// Short heartbeat/lease so a dead worker's job moves on within seconds. 10 heartbeats per lease: at 4 (a 4 s lease), a
// live run on a loaded 2-core machine (load 22) missed its renewals long enough to be taken over, twice in one test.
// One lost run may be retried (MODELPRESS_JOB_LOST_RETRIES=1): the second lost run in a row fails the job.
const ENV = {
  MODELPRESS_BACKEND: 'cpu',
  MODELPRESS_JOB_HEARTBEAT_SECONDS: '1',
  MODELPRESS_JOB_EXPIRE_SECONDS: '10',
  MODELPRESS_QUEUE_POLL_SECONDS: '1',
  MODELPRESS_JOB_LOST_RETRIES: '1',
};

await forEachTarget('job workers (child processes)', (target) => {
  let ctx: TestContext;
  // Worker processes live on from one test to the next: starting one costs 4-5 s of CPU (tsx, tfjs, the runtime,
  // its heartbeat thread), ~10-30 s of wall time on a loaded 2-core machine, and the tests started 12 per target.
  // Each has concurrency 2 and both test kinds. A test takes the number it needs with workers(n); the ones it leaves
  // alive are idle (every test waits for its jobs to end), or all are killed after a test that left a job unfinished.
  let live: WorkerChild[] = [];
  const alive = (w: WorkerChild) => w.proc.exitCode === null && w.proc.signalCode === null;
  const spawn = (n: number) => {
    for (let i = 0; i < n; i++) {
      const w = spawnWorker(ctx, { concurrency: 2, imports: [BLOCK_KIND_MODULE, HOLD_KIND_MODULE] });
      w.ready.catch(() => {}); // killed before it started (a failed test's cleanup): workers(n) awaits it otherwise
      live.push(w);
    }
  };
  const workers = async (n: number) => {
    live = live.filter(alive);
    await Promise.all(live.splice(n).map((w) => w.kill('SIGKILL')));
    spawn(n - live.length);
    await Promise.all(live.map((w) => w.ready));
    return [...live];
  };
  const workerIdOf = (w: WorkerChild) => `:${w.proc.pid}:`;

  before(async () => {
    ctx = await startTestApp(target, ENV);
  });
  afterEach(async () => {
    const unfinished = await ctx.runtime.db.job.count({ where: { status: { in: ['queued', 'running'] } } });
    if (unfinished > 0) await Promise.all(live.splice(0).map((w) => w.kill('SIGKILL')));
  });
  after(async () => {
    await Promise.all(live.splice(0).map((w) => w.kill('SIGKILL')));
    await ctx?.close();
  });

  const create = async (params: Record<string, unknown>) =>
    (await ctx.http.post('/v1/jobs').send({ type: 'noop', params }).expect(201)).body as JobJson;

  test('two worker processes, 50 jobs: each runs exactly once, both workers take part; SSE across processes', async () => {
    const [a, b] = await workers(2);
    const jobs: JobJson[] = [];
    for (let i = 0; i < 50; i++) jobs.push(await create({ steps: 2, durationMs: 40 }));
    const streamed = readSse(`${ctx.baseUrl}/v1/jobs/${jobs[49].id}/events`);
    const done = await waitForAll(
      ctx,
      jobs.map((j) => j.id),
    );
    assert.deepEqual(new Set(done.map((j) => j.status)), new Set(['succeeded']));
    assert.deepEqual(new Set(done.map((j) => j.attempts)), new Set([1]));
    const runs = await ctx.runtime.db.jobEvent.findMany({ where: { type: 'state', jobId: { in: jobs.map((j) => j.id) } } });
    const running = runs.filter((e) => (e.data as { status: string }).status === 'running');
    assert.equal(running.length, 50, 'one run per job');
    assert.equal(new Set(running.map((e) => e.jobId)).size, 50);
    const byA = done.filter((j) => j.workerId?.includes(workerIdOf(a))).length;
    const byB = done.filter((j) => j.workerId?.includes(workerIdOf(b))).length;
    assert.equal(byA + byB, 50);
    assert.ok(byA > 0 && byB > 0, `both workers ran jobs (${byA} / ${byB})`);
    const { events } = await streamed;
    assert.deepEqual(
      events.filter((e) => e.event === 'state').map((e) => e.data.status),
      ['queued', 'running', 'succeeded'],
    );
    assert.equal(events.filter((e) => e.event === 'progress').at(-1)!.data.fraction, 1);
  });

  test('a worker killed with SIGKILL mid-job: another worker finishes it, attempts = 2, nothing lost', async () => {
    const pair = await workers(2);
    // A hold job: killed after its third step for sure (a timed job might end first on a quiet machine, or make the
    // rerun wait its full duration); every step is released once the victim is dead, so the rerun runs straight on.
    const gate = newHoldGate();
    const job = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'hold', params: { steps: 20, gate } })
        .expect(201)
    ).body as JobJson;
    for (const step of [1, 2, 3]) releaseHold(gate, job.id, step);
    const running = await waitForJob(ctx, job.id, (j) => j.status === 'running' && (j.progress.step ?? 0) >= 3, 120_000);
    const victim = pair.find((w) => running.workerId?.includes(workerIdOf(w)))!;
    const survivor = pair.find((w) => w !== victim)!;
    await victim.kill('SIGKILL');
    releaseHold(gate, job.id);
    const done = await waitForJob(ctx, job.id, finished, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.attempts, 2);
    assert.ok(done.workerId?.includes(workerIdOf(survivor)), `finished by the other worker (${done.workerId})`);
    const states = (await ctx.http.get(`/v1/jobs/${job.id}/events`).buffer(true)).text
      .split('\n\n')
      .filter((block) => block.includes('event: state'))
      .map((block) => JSON.parse(block.split('data: ')[1]).status);
    assert.deepEqual(states, ['queued', 'running', 'queued', 'running', 'succeeded'], 'running → queued (worker lost) → running → succeeded');
    const metrics = (await ctx.http.get(`/v1/jobs/${job.id}/metrics?name=loss`).expect(200)).body;
    assert.deepEqual(
      metrics.items.map((m: { step: number }) => m.step),
      Array.from({ length: 20 }, (_, i) => i + 1),
      'one complete series, no duplicate steps',
    );
  });

  test('a job whose every attempt loses its worker (SIGKILL) fails with a clear error, attempts = runs', async () => {
    // One lost run may be retried (MODELPRESS_JOB_LOST_RETRIES=1 in ENV): the second lost run fails the job.
    const trio = await workers(3);
    const job = await create({ steps: 600, durationMs: 600_000 });
    for (const attempt of [1, 2]) {
      const running = await waitForJob(ctx, job.id, (j) => j.status === 'running' && j.attempts === attempt, 120_000);
      await trio.find((w) => running.workerId?.includes(workerIdOf(w)))!.kill('SIGKILL');
    }
    // The job can only fail now, whichever worker's sweep finds its lease expired: the next test's second worker
    // starts meanwhile (one more sweeper, with nothing to claim).
    spawn(1);
    const done = await waitForJob(ctx, job.id, finished, 120_000);
    assert.equal(done.status, 'failed', JSON.stringify(done));
    assert.equal(done.attempts, 2);
    assert.equal(done.error?.code, 'JOB_TIMEOUT');
    assert.match(done.error?.message ?? '', /lost its worker on 2 attempts in a row/);
    const { events } = await readSse(`${ctx.baseUrl}/v1/jobs/${job.id}/events`);
    const states = events.filter((e) => e.event === 'state').map((e) => `${e.data.status}${e.data.reason ? ` (${e.data.reason})` : ''}`);
    assert.deepEqual(states, ['queued', 'running', 'queued (worker lost)', 'running', 'failed (worker lost)']);
  });

  test('a job that blocks its worker thread for longer than the lease keeps it: one run, attempts 1', async () => {
    // Two workers: the idle one sweeps expired leases every second, so a lease that lapsed would be taken over.
    await workers(2);
    const gate = newBlockGate();
    const job = (await ctx.http.post('/v1/jobs').send({ type: 'block', params: { gate } }).expect(201)).body as JobJson;
    const since = await eventually(() => blockedSince(gate, job.id) ?? assert.fail('not blocking yet'), 20_000, 50);
    // A renewal stamped more than a lease (+ one heartbeat) after the block began: only a beat from another
    // thread can have written it, since the blocked thread runs no timer, and the lease taken at the claim had run out by then.
    const leaseMs = (Number(ENV.MODELPRESS_JOB_EXPIRE_SECONDS) + Number(ENV.MODELPRESS_JOB_HEARTBEAT_SECONDS)) * 1000;
    await eventually(
      async () => {
        const row = await ctx.runtime.db.job.findUniqueOrThrow({
          where: { id: job.id },
          select: { status: true, attempts: true, heartbeatAt: true },
        });
        if (row.status !== 'running' || row.attempts !== 1) throw new assert.AssertionError({ message: `run lost: ${JSON.stringify(row)}` });
        assert.ok(row.heartbeatAt && row.heartbeatAt.getTime() > since + leaseMs, `no renewal yet while blocked (${row.heartbeatAt?.toISOString()})`);
      },
      120_000,
      100,
    );
    releaseBlock(gate, job.id);
    const done = await waitForJob(ctx, job.id, finished, 30_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.attempts, 1);
    const { events } = await readSse(`${ctx.baseUrl}/v1/jobs/${job.id}/events`);
    assert.deepEqual(
      events.filter((e) => e.event === 'state').map((e) => e.data.status),
      ['queued', 'running', 'succeeded'],
    );
  });

  test('SIGTERM: the worker stops claiming, lets a short job finish or requeues a long one, and exits 0', async () => {
    const [a] = await workers(1);
    // The short job is a hold job released once the worker has begun stopping: it surely finishes inside the grace
    // period, and the worker has a free slot (concurrency 2), so not claiming `waiting` is its choice.
    const gate = newHoldGate();
    const short = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'hold', params: { steps: 2, gate } })
        .expect(201)
    ).body as JobJson;
    await waitForJob(ctx, short.id, (j) => j.status === 'running', 120_000);
    a.proc.kill('SIGTERM');
    await eventually(() => assert.match(a.output(), /worker shutting down/), 120_000, 50);
    const waiting = await create({ steps: 1 }); // queued after SIGTERM: must not be claimed by the stopping worker
    releaseHold(gate, short.id);
    assert.equal(await a.exited, 0);
    assert.equal((await ctx.http.get(`/v1/jobs/${short.id}`).expect(200)).body.status, 'succeeded');
    assert.equal((await ctx.http.get(`/v1/jobs/${waiting.id}`).expect(200)).body.status, 'queued');

    const pair = await workers(2);
    await waitForJob(ctx, waiting.id, finished, 120_000);
    // Held until the test releases it, so it outlasts the 5 s grace period on any machine (a 7 s noop did only
    // when the SIGTERM came within 2 s of its start, which a loaded machine need not manage).
    const long = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'hold', params: { steps: 1, gate } })
        .expect(201)
    ).body as JobJson;
    const running = await waitForJob(ctx, long.id, (j) => j.status === 'running');
    const stopping = pair.find((w) => running.workerId?.includes(workerIdOf(w)))!;
    const other = pair.find((w) => w !== stopping)!;
    stopping.proc.kill('SIGTERM');
    assert.equal(await stopping.exited, 0);
    releaseHold(gate, long.id); // the run it was interrupted in is over: only the requeued attempt can take this
    const done = await waitForJob(ctx, long.id, finished, 120_000);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.attempts, 2);
    assert.ok(done.workerId?.includes(workerIdOf(other)));
    const { events } = await readSse(`${ctx.baseUrl}/v1/jobs/${long.id}/events`);
    const requeue = events.find((e) => e.event === 'state' && e.data.status === 'queued' && e.data.reason === 'worker stopping');
    assert.ok(requeue, 'interrupted after the grace period and requeued');
  });
});

// Reliability and resource guards on both targets: job limits at creation (epochs, parameters, estimated
// memory → 422 RESOURCE_LIMIT before any worker loads the model), the per-job timeout, a database connection
// loss during jobs (real PostgreSQL: every backend of the test database terminated), and a graceful API
// shutdown with an upload in flight. Worker SIGKILL is covered by jobs-workers.test.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { idxImages, idxLabels } from '../fixtures/datasets/idx.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, waitForJob } from '../helpers/jobs.ts';
import { eventually } from '../helpers/wait.ts';

async function uploadModel(ctx: TestContext, units: number): Promise<string> {
  const m = await tinyModelFiles(units);
  const res = await ctx.http.post('/v1/models').attach('files', m.modelJson, 'model.json').attach('files', m.shards[0].data, m.shards[0].name);
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

async function uploadImages(ctx: TestContext, n: number): Promise<string> {
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const res = await ctx.http
    .post('/v1/datasets')
    .attach(
      'files',
      idxImages(
        n,
        28,
        28,
        Array.from({ length: n * 784 }, (_, i) => i % 256),
      ),
      'train-images-idx3-ubyte',
    )
    .attach('files', idxLabels(labels), 'train-labels-idx1-ubyte');
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

/** Every object is referenced by exactly one file row and vice versa. */
async function assertStoreMatchesRows(ctx: TestContext) {
  const db = ctx.runtime.db;
  const rows = [
    ...(await db.modelFile.findMany({ select: { objectKey: true } })),
    ...(await db.datasetFile.findMany({ select: { objectKey: true } })),
  ]
    .map((r) => r.objectKey)
    .sort();
  const keys = [...(await listKeys(ctx, 'models/')), ...(await listKeys(ctx, 'datasets/'))].sort();
  assert.deepEqual(keys, rows, 'objects in the store == file rows');
}

await forEachTarget('reliability and resource guards', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(
      target,
      {
        MODELPRESS_JOB_MAX_PARAMS: '20000',
        MODELPRESS_JOB_MAX_TENSOR_BYTES: '150000',
        MODELPRESS_JOB_MAX_EPOCHS: '5',
        MODELPRESS_JOB_TIMEOUT_SECONDS: '10', // long enough for the real jobs here on a loaded machine
        MODELPRESS_BACKEND: 'cpu',
        MODELPRESS_JOB_HEARTBEAT_SECONDS: '1',
        MODELPRESS_JOB_EXPIRE_SECONDS: '12', // a loaded machine can block a cpu-backend job's event loop for seconds
        MODELPRESS_QUEUE_POLL_SECONDS: '1',
      },
      { worker: { concurrency: 1 } },
    );
  });
  after(async () => ctx?.close());

  test('job guards: too many epochs, too many parameters, too much memory → 422 RESOURCE_LIMIT, nothing queued', async () => {
    const small = await uploadModel(ctx, 16); // 12,730 params
    const big = await uploadModel(ctx, 32); // 25,450 params
    const fewRows = await uploadImages(ctx, 10);
    const manyRows = await uploadImages(ctx, 20);
    const jobsBefore = await ctx.runtime.db.job.count();
    const create = (body: Record<string, unknown>) => ctx.http.post('/v1/jobs').send(body);

    const epochs = await create({ type: 'train', modelId: small, datasetId: fewRows, params: { epochs: 6 } });
    assert.equal(epochs.status, 422, epochs.text);
    assert.equal(epochs.body.code, 'RESOURCE_LIMIT');
    assert.equal(epochs.body.details.field, 'params.epochs');
    const pipelineEpochs = await create({
      type: 'pipeline',
      modelId: small,
      datasetId: fewRows,
      params: { steps: [{ type: 'prune', params: { fineTuneEpochs: 9 } }] },
    });
    assert.equal(pipelineEpochs.status, 422, pipelineEpochs.text);
    assert.equal(pipelineEpochs.body.details?.field, 'params.steps[0].params.fineTuneEpochs');

    const params = await create({ type: 'quantize', modelId: big, params: {} });
    assert.equal(params.status, 422, params.text);
    assert.equal(params.body.code, 'RESOURCE_LIMIT');
    assert.equal(params.body.details.params, 25450);

    // 12,730 params × 8 B + 20 rows × 788 floats × 4 B = 164,880 B > 150,000 B
    const memory = await create({ type: 'evaluate', modelId: small, datasetId: manyRows });
    assert.equal(memory.status, 422, memory.text);
    assert.equal(memory.body.code, 'RESOURCE_LIMIT');
    assert.ok(memory.body.details.estimateBytes > 150_000);
    assert.equal(await ctx.runtime.db.job.count(), jobsBefore, 'no job row for a rejected request');

    // 12,730 × 8 + 10 × 788 × 4 = 133,360 B: accepted (a noop carrying the inputs, so no real work runs)
    const fits = await create({ type: 'noop', modelId: small, datasetId: fewRows, params: { steps: 1 } });
    assert.equal(fits.status, 201, fits.text);
    await waitForJob(ctx, fits.body.id, finished);
  });

  test('per-job timeout: a run past MODELPRESS_JOB_TIMEOUT_SECONDS fails with JOB_TIMEOUT', async () => {
    const res = await ctx.http
      .post('/v1/jobs')
      .send({ type: 'noop', params: { steps: 100, durationMs: 100_000 } })
      .expect(201);
    const job = await waitForJob(ctx, res.body.id, finished, 60_000);
    assert.equal(job.status, 'failed');
    assert.equal((job as any).error?.code, 'JOB_TIMEOUT', JSON.stringify(job));
    assert.ok((job.progress.step ?? 0) < 100, `stopped by the limit, not at the end of the run (step ${job.progress.step})`);
  });

  // Real PostgreSQL only (declared, not skipped, per target): PGlite runs in this process, its connections cannot be
  // terminated from SQL.
  if (target === 'real')
    test('database connections lost during jobs: each job completes or is retried, no duplicate result models', async () => {
      const modelId = await uploadModel(ctx, 16);
      const noop = await ctx.http
        .post('/v1/jobs')
        .send({ type: 'noop', params: { steps: 12, durationMs: 1500 } })
        .expect(201);
      const quant = await ctx.http.post('/v1/jobs').send({ type: 'quantize', modelId, params: {} }).expect(201);
      await waitForJob(ctx, noop.body.id, (j) => j.status === 'running', 10_000);
      const dbName = new URL(ctx.env.DATABASE_URL).pathname.slice(1);
      const admin = new pg.Client({ connectionString: ctx.env.DATABASE_URL });
      await admin.connect();
      // Three cuts, each of at least one connection: the app and worker reconnect only when they next query (a
      // progress write, a heartbeat, a queue poll), so a cut waits for a connection to come back instead of
      // assuming one did within the pause (on a loaded machine none may have). Cuts stay at least 300 ms apart:
      // back to back, they made the quantize job overrun this suite's job limit on a loaded machine.
      for (let i = 0; i < 3; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 300));
        await eventually(
          async () => {
            const { rows } = await admin.query(
              'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
              [dbName],
            );
            assert.ok(rows[0].n > 0, `cut ${i + 1}: no app or worker connection to terminate`);
          },
          30_000,
          50,
        );
      }
      await admin.end();
      for (const id of [noop.body.id, quant.body.id]) {
        const job = await waitForJob(ctx, id, finished, 60_000);
        assert.equal(job.status, 'succeeded', JSON.stringify(job));
        const produced = await ctx.runtime.db.model.findMany({ where: { producedByJobId: id } });
        assert.deepEqual(
          produced.map((m) => m.id).sort(),
          [...((job as any).resultModelIds ?? [])].sort(),
          'exactly the result models, no duplicates',
        );
      }
      await assertStoreMatchesRows(ctx);
    });

  // Real PostgreSQL only, as above. Before src/db/pg-pool.ts, each transaction whose connection was cut kept its
  // connection checked out for good (Prisma's ROLLBACK failed, so the adapter never released it): after the pool's 10
  // were gone, every Prisma call, the API's and the jobs', waited forever for a connection.
  if (target === 'real')
    test(
      'transactions cut mid-flight leak no connection: more cuts than the pool has connections, then jobs still run',
      { timeout: 600_000 },
      async () => {
        const modelId = await uploadModel(ctx, 16);
        const dbName = new URL(ctx.env.DATABASE_URL).pathname.slice(1);
        const admin = new pg.Client({ connectionString: ctx.env.DATABASE_URL });
        await admin.connect();
        try {
          const perRound = 4;
          for (let round = 0; round < 4; round++) {
            // perRound interactive transactions, each holding its connection at an await when the cut comes.
            let cut!: () => void;
            const afterCut = new Promise<void>((r) => (cut = r));
            const opened: Promise<void>[] = [];
            const txs = Array.from({ length: perRound }, (_, i) => {
              let open!: () => void;
              opened.push(new Promise<void>((r) => (open = r)));
              return ctx.runtime.db
                .$transaction(
                  async (tx) => {
                    await tx.job.count();
                    open();
                    await afterCut;
                    return tx.job.count(); // on a terminated connection: fails, and Prisma rolls back
                  },
                  { maxWait: 120_000, timeout: 120_000 },
                )
                .then(
                  () => `round ${round} tx ${i}: committed`,
                  () => 'failed',
                );
            });
            await Promise.all(opened);
            const { rows } = await admin.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'",
              [dbName],
            );
            assert.ok(rows.length >= perRound, `round ${round}: ${rows.length} transactions open, want ${perRound}`);
            await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
            cut();
            assert.deepEqual(await Promise.all(txs), Array(perRound).fill('failed'), `round ${round}: every cut transaction failed`);
          }
        } finally {
          await admin.end();
        }
        // 16 transactions cut (the pool holds 10): the API and a job still get connections.
        const quant = await ctx.http.post('/v1/jobs').send({ type: 'quantize', modelId, params: {} }).expect(201);
        const job = await waitForJob(ctx, quant.body.id, finished, 120_000);
        assert.equal(job.status, 'succeeded', JSON.stringify(job));
      },
    );
});

await forEachTarget('graceful API shutdown', (target) => {
  test('an upload in flight at close finishes; one aborted by its client leaves nothing behind', async () => {
    const ctx = await startTestApp(target);
    try {
      const m = await tinyModelFiles(64);
      const boundary = 'mp-boundary';
      const part = (name: string, data: Buffer) =>
        Buffer.concat([
          Buffer.from(
            `--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="${name}"\r\ncontent-type: application/octet-stream\r\n\r\n`,
          ),
          data,
          Buffer.from('\r\n'),
        ]);
      const body = Buffer.concat([part('model.json', m.modelJson), part(m.shards[0].name, m.shards[0].data), Buffer.from(`--${boundary}--\r\n`)]);
      const port = new URL(ctx.baseUrl).port;
      const start = (headers: Record<string, string | number> = {}) =>
        http.request({
          host: '127.0.0.1',
          port,
          path: '/v1/models',
          method: 'POST',
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length, ...headers },
        });

      // Both requests reach the server (headers parsed) before it starts closing; later ones would get 503.
      const received = new Promise<void>((resolve) => {
        let n = 0;
        ctx.app.server.on('request', () => ++n === 2 && resolve());
      });
      // A client that gives up halfway while another one completes.
      const aborted = start();
      aborted.on('error', () => {});
      aborted.write(body.subarray(0, body.length >> 1));
      const inFlight = start();
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        inFlight.on('response', (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        inFlight.on('error', reject);
      });
      inFlight.write(body.subarray(0, body.length >> 1));
      await received;
      const closing = ctx.app.close(); // SIGTERM does this first: stop accepting, let requests finish
      await new Promise((r) => setImmediate(r));
      aborted.destroy();
      inFlight.end(body.subarray(body.length >> 1));
      const res = await response;
      await closing;
      assert.equal(res.status, 201, res.body);
      const model = JSON.parse(res.body);
      const counts = await rowCounts(ctx);
      assert.equal(counts.models, 1, 'only the finished upload is registered');
      assert.equal(counts.modelFiles, model.files.length);
      await eventually(() => assertStoreMatchesRows(ctx)); // the aborted upload cleans up after its response
    } finally {
      await ctx.close();
    }
  });
});

// The embedded mode's processes (issue 12's untested paths): `modelpress serve` starts (PGlite, API, supervised
// worker child) and stops gracefully on SIGTERM; `modelpress keys` create/list/revoke against the embedded
// database of a running server; a `modelpress worker` without DATABASE_URL joining a running server's database;
// the embedded database's password (issue 18: generated at first start, 0600, required on the socket); SIGTERM
// with an upload trickling in: it is cut after MODELPRESS_SHUTDOWN_GRACE_SECONDS, not the 600 s request timeout.
// Embedded target only: these are the embedded mode's own code paths.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { runKeysCommand } from '../../src/cli/keys.ts';
import { embeddedPasswordFile, findRunningEmbedded } from '../../src/db/embedded-postgres.ts';
import { loadConfig } from '../../src/config.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { startTestApp, type TestContext } from '../helpers/harness.ts';
import { finished, type JobJson } from '../helpers/jobs.ts';
import { eventually } from '../helpers/wait.ts';
import { spawnWorker } from '../helpers/workers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('[embedded] a running server: keys CLI and a joining worker', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp('embedded', { MODELPRESS_AUTH: 'on', MODELPRESS_QUEUE_POLL_SECONDS: '1' });
  });
  after(async () => ctx?.close());
  /** The CLI's view of the config: no DATABASE_URL, the server's data dir (it joins the running embedded database). */
  const cliConfig = () => loadConfig({ ...ctx.env, DATABASE_URL: '' });

  test('keys create / list / revoke: the server accepts the created key until it is revoked', async () => {
    const lines: string[] = [];
    assert.equal(await runKeysCommand(cliConfig(), ['create', '--scope', 'write', '--name', 'cli-test'], (l) => lines.push(l)), 0);
    const [, id] = /^created key (\S+) \(cli-test, scope write\)/.exec(lines[0]) ?? [];
    assert.ok(id, lines[0]);
    const key = lines[1];
    const auth = { authorization: `Bearer ${key}` };
    await ctx.http.get('/v1/models').expect(401);
    await ctx.http.get('/v1/models').set(auth).expect(200);

    const listed: string[] = [];
    assert.equal(await runKeysCommand(cliConfig(), ['list'], (l) => listed.push(l)), 0);
    const row = listed.find((l) => l.startsWith(`${id}\t`))?.split('\t');
    assert.deepEqual(row?.slice(2, 4), ['write', 'cli-test']);
    assert.equal(row?.at(-1), 'active');
    assert.ok(!listed.join('\n').includes(key), 'list never prints the key');

    const revoked: string[] = [];
    assert.equal(await runKeysCommand(cliConfig(), ['revoke', id], (l) => revoked.push(l)), 0);
    assert.match(revoked[0], new RegExp(`^revoked ${id} \\(cli-test\\) at `));
    await ctx.http.get('/v1/models').set(auth).expect(401);
    const after: string[] = [];
    await runKeysCommand(cliConfig(), ['list'], (l) => after.push(l));
    assert.match(after.find((l) => l.startsWith(`${id}\t`)) ?? '', /\tREVOKED /);

    const usage: string[] = [];
    assert.equal(await runKeysCommand(cliConfig(), ['bogus'], (l) => usage.push(l)), 2);
    assert.match(usage[0], /^usage: modelpress keys create/);
  });

  test('the embedded database requires the password kept 0600 in the data dir', async () => {
    const file = embeddedPasswordFile(ctx.config.dbDir);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    const password = (await fs.readFile(file, 'utf8')).trim();
    const url = new URL(ctx.runtime.databaseUrl);
    assert.equal(decodeURIComponent(url.password), password, "the server connects with the file's password");
    const connect = async (pass: string | undefined) => {
      const client = new pg.Client({ host: url.hostname, port: Number(url.port), user: 'postgres', database: 'postgres', password: pass });
      client.on('error', () => {});
      try {
        await client.connect();
        return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM "ApiKey"')).rows[0].n;
      } finally {
        await client.end().catch(() => {});
      }
    };
    await assert.rejects(connect(''), /password/, 'no password: refused');
    await assert.rejects(connect('postgres'), (err: { code?: string }) => err.code === '28P01', 'the old fixed password: 28P01');
    await assert.rejects(connect(password.slice(1)), (err: { code?: string }) => err.code === '28P01', 'a wrong password: 28P01');
    assert.equal(typeof (await connect(password)), 'number', 'the right password: queries run');
    const joined = await findRunningEmbedded(ctx.config.dbDir);
    assert.equal(joined, ctx.runtime.databaseUrl, 'a joining process reads the password from the data dir');
    const info = await fs.readFile(path.join(ctx.config.dbDir, '..', 'embedded-db.json'), 'utf8');
    assert.ok(!info.includes(password), 'the advertised URL carries no password');
  });

  test('a worker without DATABASE_URL joins the running embedded database and runs its jobs', async () => {
    const worker = spawnWorker(ctx, { env: { DATABASE_URL: '' } });
    try {
      await worker.ready;
      const lines: string[] = [];
      await runKeysCommand(cliConfig(), ['create', '--scope', 'write', '--name', 'jobs'], (l) => lines.push(l));
      const auth = { authorization: `Bearer ${lines[1]}` };
      const job = (
        await ctx.http
          .post('/v1/jobs')
          .set(auth)
          .send({ type: 'noop', params: { steps: 2 } })
          .expect(201)
      ).body;
      const done = await eventually(async () => {
        const j = (await ctx.http.get(`/v1/jobs/${job.id}`).set(auth).expect(200)).body as JobJson;
        assert.ok(finished(j), j.status);
        return j;
      });
      assert.equal(done.status, 'succeeded');
      assert.ok(done.workerId?.includes(`:${worker.proc.pid}:`), `run by the joining worker (${done.workerId})`);
      assert.ok(!worker.output().includes('started its own embedded database'), worker.output());
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});

describe('[embedded] modelpress serve', () => {
  test('starts (API + supervised worker); SIGTERM cuts a slow upload after the grace period: exit 0, port closed, worker gone, nothing stored', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-serve-'));
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        MODELPRESS_DATA_DIR: dataDir,
        PORT: '0',
        MODELPRESS_EMBEDDED_DB_PORT: '0',
        MODELPRESS_BUILTIN_DATASETS: 'false',
        MODELPRESS_QUEUE_POLL_SECONDS: '1',
        MODELPRESS_BACKEND: 'cpu',
        MODELPRESS_SHUTDOWN_GRACE_SECONDS: '1',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const logged = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const look = () => {
          const m = pattern.exec(out);
          if (m) resolve(m);
          return m;
        };
        if (look()) return;
        const onData = () => look() && proc.stdout.off('data', onData);
        proc.stdout.on('data', onData);
        void exited.then((code) => reject(new Error(`serve exited (${code}) before logging ${pattern}:\n${out}`)));
      });
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const [, baseUrl] = await logged(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/);
      const [, workerPid] = await logged(/"workerPid":(\d+)[^\n]*"msg":"worker started"/);
      assert.equal((await fetch(`${baseUrl}/healthz`)).status, 200);
      const created = await fetch(`${baseUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'noop', params: { steps: 1 } }),
      });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as { id: string };
      const done = await eventually(async () => {
        const job = (await (await fetch(`${baseUrl}/v1/jobs/${id}`)).json()) as { status: string; workerId: string };
        assert.ok(['succeeded', 'failed', 'canceled'].includes(job.status), job.status);
        return job;
      });
      assert.equal(done.status, 'succeeded');
      assert.ok(done.workerId.includes(`:${workerPid}:`), `run by the supervised worker child (${done.workerId})`);

      // An upload that sends model.json and half of its shard, then stalls (a slow client): without the grace period
      // SIGTERM would wait for it up to MODELPRESS_REQUEST_TIMEOUT_SECONDS (600 s).
      const m = await tinyModelFiles(64);
      const boundary = 'mp-boundary';
      const head = (name: string) =>
        `--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="${name}"\r\ncontent-type: application/octet-stream\r\n\r\n`;
      const slow = http.request(`${baseUrl}/v1/models`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': 10 * 1024 * 1024 },
      });
      const cut = new Promise<string>((resolve) => {
        slow.on('error', (err) => resolve(err.message));
        slow.on('response', (res) => resolve(`answered ${res.statusCode}`));
      });
      slow.write(
        Buffer.concat([
          Buffer.from(head('model.json')),
          m.modelJson,
          Buffer.from(`\r\n${head(m.shards[0].name)}`),
          m.shards[0].data.subarray(0, m.shards[0].data.length >> 1),
        ]),
      );
      await logged(/"method":"POST","url":"\/v1\/models"[^\n]*"msg":"incoming request"/);

      const sigterm = Date.now();
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      const stopMs = Date.now() - sigterm;
      assert.match(out, /"signal":"SIGTERM"[^\n]*"msg":"shutting down"/);
      assert.match(out, /"msg":"requests still running after the shutdown grace period: closing their connections"/);
      assert.match(await cut, /socket hang up|ECONNRESET/, 'the slow upload was cut, not answered');
      assert.ok(stopMs < 600_000, `exited ${stopMs} ms after SIGTERM, before the 600 s request timeout`);
      await assert.rejects(fetch(`${baseUrl}/healthz`), 'the port is closed');
      assert.throws(() => process.kill(Number(workerPid), 0), { code: 'ESRCH' }, 'the worker child was stopped with the server');
      // Nothing of the cut upload is stored: no Model row, no object under models/.
      const db = await PGlite.create(path.join(dataDir, 'db'));
      try {
        assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Model"')).rows[0].n, 0, 'no model row');
      } finally {
        await db.close();
      }
      const objects = path.join(dataDir, 'objects');
      const stored = (await fs.readdir(objects, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => path.relative(objects, path.join(e.parentPath, e.name)));
      assert.deepEqual(
        stored.filter((f) => f.startsWith('models')),
        [],
        'no model object or temporary',
      );
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});

// Job queue benchmark: noop jobs/s with 1 and 4 worker processes, and pickup latency (created → running).
//   node --import tsx bench/queue.ts [real|embedded] [jobs=1000] [concurrency per worker=8]
// real = PostgreSQL at MODELPRESS_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test, a fresh database);
// embedded = PGlite over its socket (the zero-setup default). Workers are real child processes (`src/main.ts worker`).
// Throughput: the jobs are enqueued first, then the workers start; jobs/s = jobs / (last finished − first started).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { createDatabase, dropDatabase } from '../test/helpers/harness.ts';
import { ALL_PROJECTS } from '../src/domain/projects.ts';

const target = (process.argv[2] ?? 'real') as 'real' | 'embedded';
const JOBS = Number(process.argv[3] ?? 1000);
const CONCURRENCY = Number(process.argv[4] ?? 8);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker', '--concurrency', String(CONCURRENCY)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker started')) resolve(proc);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`worker exited ${code}: ${out}`)));
  });
}

async function waitAllFinished(rt: Runtime, ids: string[]) {
  for (;;) {
    const left = await rt.db.job.count({ where: { id: { in: ids }, status: { in: ['queued', 'running'] } } });
    if (left === 0) return;
    await sleep(100);
  }
}

async function throughput(rt: Runtime, env: Record<string, string>, workers: number) {
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, JOBS - i) }, () => rt.services.jobs.create(ALL_PROJECTS, { type: 'noop', params: { steps: 0 } })),
    );
    ids.push(...batch.map((b) => b.job.id));
  }
  const procs = await Promise.all(Array.from({ length: workers }, () => spawnWorker(env)));
  await waitAllFinished(rt, ids);
  const rows = await rt.db.job.findMany({ where: { id: { in: ids } }, select: { startedAt: true, finishedAt: true, attempts: true, status: true } });
  const first = Math.min(...rows.map((r) => r.startedAt!.getTime()));
  const last = Math.max(...rows.map((r) => r.finishedAt!.getTime()));
  const ok = rows.every((r) => r.status === 'succeeded' && r.attempts === 1);
  return { procs, jobsPerSecond: JOBS / ((last - first) / 1000), ok };
}

async function pickupLatency(rt: Runtime, n = 100) {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const { job } = await rt.services.jobs.create(ALL_PROJECTS, { type: 'noop', params: { steps: 0 } });
    for (;;) {
      const row = await rt.db.job.findUnique({ where: { id: job.id }, select: { startedAt: true, createdAt: true } });
      if (row?.startedAt) {
        lat.push(row.startedAt.getTime() - row.createdAt.getTime());
        break;
      }
      await sleep(5);
    }
    await sleep(20 + Math.random() * 30); // jobs arrive one by one, workers idle in between
  }
  return { p50: pct(lat, 50), p95: pct(lat, 95) };
}

async function main() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-bench-queue-'));
  const databaseUrl = target === 'real' ? await createDatabase() : undefined;
  const env: Record<string, string> = {
    MODELPRESS_DATA_DIR: dataDir,
    MODELPRESS_EMBEDDED_DB_PORT: '0',
    MODELPRESS_BUILTIN_DATASETS: 'false',
    MODELPRESS_BACKEND: 'cpu',
    LOG_LEVEL: 'warn',
  };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const rt = await createRuntime(loadConfig(env));
  const childEnv = { ...env, DATABASE_URL: rt.databaseUrl };
  console.log(
    `# queue benchmark: ${target} (${rt.jobEvents.mode === 'listen' ? 'LISTEN/NOTIFY' : 'event-table tail'}), ${JOBS} noop jobs, --concurrency ${CONCURRENCY} per worker, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
  );
  try {
    for (const workers of [1, 4]) {
      const { procs, jobsPerSecond, ok } = await throughput(rt, childEnv, workers);
      const latency = await pickupLatency(rt);
      console.log(
        `workers=${workers}  ${jobsPerSecond.toFixed(0)} jobs/s${ok ? '' : ' (SOME JOBS NOT succeeded/attempts=1!)'}  pickup p50 ${latency.p50} ms  p95 ${latency.p95} ms`,
      );
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.on('exit', r)))));
    }
  } finally {
    await rt.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

await main();

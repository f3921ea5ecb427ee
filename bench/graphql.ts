// GraphQL dashboard query throughput: 200 jobs (with models, datasets) and 10k metric points in the database, the
// 50-job dashboard query (jobs + model + dataset + latestMetrics) fired by autocannon over loopback for ~10 s;
// prints requests/s and latency p50/p99, then the REST list of the same 50 jobs as a baseline. The API server runs
// in a child process (own core), autocannon here.
//   npx tsx bench/graphql.ts [--db embedded|postgres] [--seconds 10] [--connections 10] [--cache-ms 1000 | 0]
//   (postgres: a fresh database on MODELPRESS_TEST_PG_URL's server, default postgresql://postgres@127.0.0.1:5432/test)
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createRuntime } from '../src/runtime.ts';
import { tinyModelFiles } from '../test/helpers/fixtures.ts';
import { seedJobs } from '../test/helpers/graphql.ts';
import { createDatabase, dropDatabase } from '../test/helpers/harness.ts';

const JOBS = 200;
const METRIC_STEPS = 25; // × 2 series × 200 jobs = 10,000 points
const DASHBOARD = `query Dashboard($first: Int!) {
  jobs(first: $first) {
    items { id type status progress { fraction step etaSeconds } createdAt model { id name params } dataset { id name examples } latestMetrics { name step value } }
    nextCursor
  }
}`;

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'embedded' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    // The service's query response cache (MODELPRESS_GRAPHQL_CACHE_MS); 0 measures every request hitting the database.
    'cache-ms': { type: 'string', default: '1000' },
    serve: { type: 'boolean', default: false },
  },
});

if (values.serve) await serve();
else await bench();

/** Child: start the API over a fresh data dir, seed it, print the URL, serve until killed. */
async function serve() {
  const runtime = await createRuntime(loadConfig(process.env));
  const app = await buildApp(runtime, { logger: { level: 'warn' } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const files = await tinyModelFiles();
  const model = new FormData();
  model.append('name', 'bench-mlp');
  model.append('files', new Blob([new Uint8Array(files.modelJson)]), 'model.json');
  model.append('files', new Blob([new Uint8Array(files.shards[0].data)]), files.shards[0].name);
  const modelId = ((await (await fetch(`${url}/v1/models`, { method: 'POST', body: model })).json()) as { id: string }).id;
  const dataset = new FormData();
  dataset.append('name', 'pets');
  dataset.append('labelColumn', 'species');
  dataset.append('files', new Blob(['a,b,species\n1,2,cat\n3,4,dog\n5,6,cat\n7,8.5,bird\n']), 'pets.csv');
  const datasetId = ((await (await fetch(`${url}/v1/datasets`, { method: 'POST', body: dataset })).json()) as { id: string }).id;
  await seedJobs(runtime, { count: JOBS, modelId, datasetId, metricSteps: METRIC_STEPS });
  const points = await runtime.db.metricPoint.count();
  console.log(JSON.stringify({ url, jobs: await runtime.db.job.count(), points }));
  process.on(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => runtime.close())
        .then(() => process.exit(0)),
  );
}

async function bench() {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mp-bench-graphql-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    MODELPRESS_DATA_DIR: dir,
    MODELPRESS_EMBEDDED_DB_PORT: '0',
    MODELPRESS_BUILTIN_DATASETS: 'false',
    MODELPRESS_IN_PROCESS_WORKER: 'false',
    LOG_LEVEL: 'warn',
    MODELPRESS_GRAPHQL_CACHE_MS: values['cache-ms'],
    MODELPRESS_AUTH: 'off', // loopback benchmark: measures the query path, not key checks
    MODELPRESS_GRAPHQL_COST_PER_MINUTE: '0', // autocannon from one address is a flood: measure the query path, not the budget
  };
  const databaseUrl = values.db === 'postgres' ? await createDatabase() : null;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const info = await new Promise<{ url: string; jobs: number; points: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"url"'));
        if (line) resolve(JSON.parse(line));
      });
      child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
    });
    const body = JSON.stringify({ query: DASHBOARD, variables: { first: 50 } });
    const check = (await (await fetch(`${info.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as {
      data?: { jobs: { items: { model: unknown; latestMetrics: unknown[] }[] } };
      errors?: unknown;
    };
    if (check.errors || check.data?.jobs.items.length !== 50) throw new Error(`dashboard query failed: ${JSON.stringify(check).slice(0, 500)}`);
    const opts = {
      url: `${info.url}/graphql`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body,
      connections: Number(values.connections),
    };
    await autocannon({ ...opts, duration: 2 }); // warm-up (JIT, pools)
    const r = await autocannon({ ...opts, duration: Number(values.seconds) });
    const bad = r.non2xx + r.errors + r.timeouts;
    console.log(
      `GraphQL dashboard query (50 jobs + model + dataset + latestMetrics), ${values.db} database with ${info.jobs} jobs and ${info.points} metric points, response cache ${values['cache-ms']} ms`,
    );
    console.log(
      `  ${r.requests.average.toFixed(0)} req/s (${r.requests.total} requests in ${r.duration.toFixed(1)} s, ${opts.connections} connections, ${os.cpus().length} cores)`,
    );
    console.log(`  latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms; failed responses: ${bad}`);
    console.log(`  target ≥ 1000 req/s: ${r.requests.average >= 1000 ? 'met' : 'NOT met'}`);
    // Baseline under the same conditions: the REST list of the same 50 jobs (one Prisma query, no relations).
    const rest = await autocannon({ url: `${info.url}/v1/jobs?limit=50`, connections: opts.connections, duration: Number(values.seconds) });
    console.log(
      `  baseline GET /v1/jobs?limit=50: ${rest.requests.average.toFixed(0)} req/s, p99 ${rest.latency.p99} ms (load average now ${os.loadavg()[0].toFixed(1)})`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (databaseUrl) await dropDatabase(databaseUrl);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

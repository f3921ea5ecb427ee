// Load test on loopback: an API server (embedded PGlite + fs store, or DATABASE_URL / S3_* from the env) with
// an in-process worker; 20 concurrent clients for 60 s each pick one of: upload a model, upload a dataset,
// create a noop job and poll it to its end, or a GraphQL query. Prints requests/s, the error count (must be 0)
// and latency percentiles, then checks that the file rows in the database and the objects in the store are the
// same set (nothing orphaned, nothing lost). Exit code 1 on any error or mismatch.
//   npx tsx bench/load.ts [--seconds 60] [--clients 20]
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createRuntime } from '../src/runtime.ts';
import { ApiKeyService } from '../src/security/api-keys.ts';
import { Worker } from '../src/worker/worker.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, clients: { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
const clients = Number(values.clients);

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mp-bench-load-'));
const config = loadConfig({
  ...process.env,
  MODELPRESS_DATA_DIR: dir,
  MODELPRESS_EMBEDDED_DB_PORT: '0',
  MODELPRESS_BUILTIN_DATASETS: 'false',
  MODELPRESS_RATE_LIMIT: process.env.MODELPRESS_RATE_LIMIT ?? '0',
  // 20 clients from one address: the per-client GraphQL budget would count them as one.
  MODELPRESS_GRAPHQL_COST_PER_MINUTE: process.env.MODELPRESS_GRAPHQL_COST_PER_MINUTE ?? '0',
  MODELPRESS_QUEUE_POLL_SECONDS: '1',
  LOG_LEVEL: 'error',
});
const runtime = await createRuntime(config);
const worker = new Worker(runtime, { concurrency: 2, log: { info() {}, warn() {}, error: (o, m) => console.error(m, o) } });
await worker.start();
const app = await buildApp(runtime, { logger: { level: 'error' } });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const { key } = await new ApiKeyService(runtime.db).create({ name: 'bench-load', scope: 'write' });
const auth = { authorization: `Bearer ${key}` };

// A small real TF.js model (784-8-10) and a small CSV dataset, made once.
const model = tf.sequential({
  layers: [tf.layers.dense({ inputShape: [784], units: 8, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })],
});
let modelJson = '';
let shard = Buffer.alloc(0);
await model.save(
  tf.io.withSaveHandler(async (a) => {
    modelJson = JSON.stringify({
      format: 'layers-model',
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }],
    });
    shard = Buffer.from(a.weightData as ArrayBuffer);
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
model.dispose();
const csv =
  'a,b,c,label\n' + Array.from({ length: 200 }, (_, i) => `${i % 7},${i % 5},${(i * 0.37).toFixed(2)},${['x', 'y', 'z'][i % 3]}`).join('\n') + '\n';

const latencies: number[] = [];
const errors: string[] = [];
const counts = { models: 0, datasets: 0, jobs: 0, graphql: 0, polls: 0 };

/** The fields of a response body that the actions read (a job, or a GraphQL result). */
interface Body {
  id?: string;
  status?: string;
  errors?: unknown[];
}

async function call(method: string, url: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<Body | null> {
  const t0 = performance.now();
  try {
    const res = await fetch(base + url, { method, body, headers: { ...auth, ...headers } });
    const text = await res.text();
    latencies.push(performance.now() - t0);
    if (!res.ok) errors.push(`${method} ${url} → ${res.status} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Body) : null;
  } catch (err) {
    latencies.push(performance.now() - t0);
    errors.push(`${method} ${url} → ${(err as Error).message}`);
    return null;
  }
}

const actions = [
  async () => {
    const form = new FormData();
    form.append('name', 'load');
    form.append('files', new Blob([modelJson]), 'model.json');
    form.append('files', new Blob([shard]), 'w.bin');
    if (await call('POST', '/v1/models', form)) counts.models++;
  },
  async () => {
    const form = new FormData();
    form.append('labelColumn', 'label');
    form.append('files', new Blob([csv]), 'd.csv');
    if (await call('POST', '/v1/datasets', form)) counts.datasets++;
  },
  async () => {
    const job = await call('POST', '/v1/jobs', JSON.stringify({ type: 'noop', params: { steps: 3, durationMs: 300 } }), {
      'content-type': 'application/json',
    });
    if (!job) return;
    counts.jobs++;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const j = await call('GET', `/v1/jobs/${job.id}`);
      counts.polls++;
      if (!j || ['succeeded', 'failed', 'canceled'].includes(j.status ?? '')) {
        if (j && j.status !== 'succeeded') errors.push(`job ${job.id} ${j.status}`);
        return;
      }
    }
    errors.push(`job ${job.id} did not finish in 20 s`);
  },
  async () => {
    const r = await call(
      'POST',
      '/graphql',
      JSON.stringify({
        query:
          '{ jobs(first: 10) { items { id status progress { fraction } } } models(first: 5) { items { id name params } } datasets(first: 5) { items { id examples } } }',
      }),
      { 'content-type': 'application/json' },
    );
    if (r?.errors) errors.push(`graphql: ${JSON.stringify(r.errors).slice(0, 200)}`);
    counts.graphql++;
  },
];

console.log(
  `load: ${clients} clients for ${seconds} s against ${base} (${runtime.embedded ? 'embedded PGlite' : 'PostgreSQL'}, ${runtime.store.kind} store)`,
);
const t0 = Date.now();
const deadline = t0 + seconds * 1000;
let turn = 0;
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (Date.now() < deadline) await actions[turn++ % actions.length]();
  }),
);
const elapsed = (Date.now() - t0) / 1000;

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
console.log(`requests ${latencies.length} in ${elapsed.toFixed(1)} s: ${(latencies.length / elapsed).toFixed(1)} req/s; errors ${errors.length}`);
console.log(`latency ms: p50 ${pct(50)}  p90 ${pct(90)}  p99 ${pct(99)}  max ${latencies[latencies.length - 1].toFixed(1)}`);
console.log(`done: ${JSON.stringify(counts)}`);
for (const e of errors.slice(0, 10)) console.log(`  error: ${e}`);

// Every stored object has its file row and every row its object.
const rows = [
  ...(await runtime.db.modelFile.findMany({ select: { objectKey: true } })),
  ...(await runtime.db.datasetFile.findMany({ select: { objectKey: true } })),
].map((r) => r.objectKey);
const objects: string[] = [];
for (const prefix of ['models/', 'datasets/']) for await (const k of runtime.store.list(prefix)) objects.push(k);
const rowSet = new Set(rows);
const objSet = new Set(objects);
const orphaned = objects.filter((k) => !rowSet.has(k));
const lost = rows.filter((k) => !objSet.has(k));
const [models, datasets] = await Promise.all([runtime.db.model.count(), runtime.db.dataset.count()]);
console.log(
  `consistency: ${rows.length} file rows, ${objects.length} objects, ${orphaned.length} orphaned, ${lost.length} lost; models ${models} (uploaded ${counts.models}), datasets ${datasets} (uploaded ${counts.datasets})`,
);
const ok = errors.length === 0 && orphaned.length === 0 && lost.length === 0 && models === counts.models && datasets === counts.datasets;

await worker.stop();
await app.close();
if (runtime.store.kind === 's3') for (const p of ['models/', 'datasets/']) await runtime.store.deletePrefix(p).catch(() => {});
await runtime.close();
await fsp.rm(dir, { recursive: true, force: true });
console.log(ok ? 'OK' : 'FAILED');
process.exit(ok ? 0 : 1);

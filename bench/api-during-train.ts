// API latency while a job trains, with the defaults of `npm start` (embedded PGlite, the worker in its child
// process): p95 of GET /v1/models?limit=5 and of a 1 MiB model upload, idle and then during a LeNet-5 train job
// on the built-in MNIST, in one run. Issue 15's goal: during ≤ max(5 × idle, 100 ms) for both.
//   npx tsx bench/api-during-train.ts [--gets 100] [--uploads 15]
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { gets: { type: 'string', default: '100' }, uploads: { type: 'string', default: '15' } } });
const GETS = Number(values.gets);
const UPLOADS = Number(values.uploads);
const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mp-bench-api-train-'));
const port = 30000 + (process.pid % 20000);
const base = `http://127.0.0.1:${port}`;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  MODELPRESS_DATA_DIR: path.join(dir, 'data'),
  PORT: String(port),
  MODELPRESS_EMBEDDED_DB_PORT: '0',
  LOG_LEVEL: 'warn',
};
delete env.DATABASE_URL;

const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
const stop = async () => {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  await fsp.rm(dir, { recursive: true, force: true });
};

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// A Dense 784×334 + 334×10 model: 265,530 float32 weights ≈ 1.0 MiB shard.
const units = 334;
const weights = [
  { name: 'd1/kernel', shape: [784, units], dtype: 'float32' },
  { name: 'd1/bias', shape: [units], dtype: 'float32' },
  { name: 'd2/kernel', shape: [units, 10], dtype: 'float32' },
  { name: 'd2/bias', shape: [10], dtype: 'float32' },
];
const floats = 784 * units + units + units * 10 + 10;
const shard = new Uint8Array(floats * 4);
const modelJson = JSON.stringify({
  format: 'layers-model',
  modelTopology: {
    class_name: 'Sequential',
    config: {
      name: 'bench',
      layers: [
        { class_name: 'Dense', config: { name: 'd1', units, batch_input_shape: [null, 784], activation: 'relu' } },
        { class_name: 'Dense', config: { name: 'd2', units: 10, activation: 'softmax' } },
      ],
    },
  },
  weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }],
});

const timed = async (fn: () => Promise<Response>) => {
  const t0 = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return performance.now() - t0;
};
const get = () => timed(() => fetch(`${base}/v1/models?limit=5`));
const upload = () =>
  timed(() => {
    const form = new FormData();
    form.append('files', new Blob([modelJson]), 'model.json');
    form.append('files', new Blob([shard]), 'group1-shard1of1.bin');
    return fetch(`${base}/v1/models`, { method: 'POST', body: form });
  });
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

async function measure(label: string, stillTraining?: () => Promise<boolean>) {
  const gets: number[] = [];
  const uploads: number[] = [];
  for (let i = 0; i < GETS; i++) gets.push(await get());
  for (let i = 0; i < UPLOADS; i++) uploads.push(await upload());
  const overlapped = stillTraining ? await stillTraining() : null; // idle: no job to overlap
  return { label, getP95: p95(gets), uploadP95: p95(uploads), overlapped };
}

try {
  const datasetId = await waitFor('the server and the built-in mnist', async () => {
    const res = await fetch(`${base}/v1/datasets?limit=50`);
    if (!res.ok) return null;
    const body = (await res.json()) as { items: { id: string; name: string }[] };
    return body.items.find((d) => d.name === 'mnist')?.id ?? null;
  });
  for (let i = 0; i < 3; i++) await Promise.all([get(), upload()]); // warm-up
  const idle = await measure('idle');
  const created = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'train', datasetId, params: { architecture: 'lenet-5', epochs: 20, validationSplit: 0, seed: 1 } }),
  });
  const job = (await created.json()) as { id: string };
  const status = async () => (await (await fetch(`${base}/v1/jobs/${job.id}`)).json()) as { status: string; progress: { step: number | null } };
  await waitFor('the train job to run', async () => {
    const s = await status();
    return s.status === 'running' && (s.progress.step ?? 0) >= 1 ? true : null;
  });
  const during = await measure('during train (lenet-5, batch 128)', async () => (await status()).status === 'running');
  await fetch(`${base}/v1/jobs/${job.id}/cancel`, { method: 'POST' });
  const cores = os.availableParallelism();
  console.log(`\nAPI latency, npm start defaults (embedded, worker child process), ${cores} cores, load average ${os.loadavg()[0].toFixed(1)}`);
  console.log('| phase | GET /v1/models?limit=5 p95 | 1 MiB upload p95 | training overlapped |');
  console.log('|---|---|---|---|');
  for (const r of [idle, during])
    console.log(
      `| ${r.label} | ${r.getP95.toFixed(1)} ms | ${r.uploadP95.toFixed(1)} ms | ${r.overlapped === null ? '—' : r.overlapped ? 'yes' : 'NO'} |`,
    );
  const goal = (i: number, d: number) => (d <= Math.max(5 * i, 100) ? 'met' : 'missed');
  console.log(`goal during ≤ max(5 × idle, 100 ms): GET ${goal(idle.getP95, during.getP95)}, upload ${goal(idle.uploadP95, during.uploadP95)}`);
} finally {
  await stop();
}

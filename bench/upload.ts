// Upload throughput: a 256 MiB model (model.json + one 256 MiB shard) through POST /v1/models (sent by curl) versus a
// direct put of the same bytes into the same object store; prints MB/s, their ratio and the API server's
// peak RSS growth during the upload (sampled from /proc every 20 ms).
//   npx tsx bench/upload.ts [--mib 256]        (S3_* env set → S3 store, else the filesystem store)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createObjectStore } from '../src/storage/create-store.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' } } });
const units = Math.round(Math.sqrt((Number(values.mib) * 1024 * 1024) / 4));
const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mp-bench-upload-'));
const env = {
  ...process.env,
  MODELPRESS_DATA_DIR: path.join(dir, 'data'),
  MODELPRESS_BUILTIN_DATASETS: 'false',
  MODELPRESS_IN_PROCESS_WORKER: 'false',
  LOG_LEVEL: 'warn',
  PORT: String(30000 + (process.pid % 20000)),
  MODELPRESS_EMBEDDED_DB_PORT: '0',
  S3_BUCKET: process.env.S3_ENDPOINT ? `bench-${crypto.randomBytes(4).toString('hex')}` : '',
};

// A dense units×units layer: its kernel is the big shard; the bias goes in the same shard.
const shardBytes = (units * units + units) * 4;
const modelJson = JSON.stringify({
  format: 'layers-model',
  modelTopology: {
    class_name: 'Sequential',
    config: {
      name: 'big',
      layers: [{ class_name: 'Dense', config: { name: 'dense', units, batch_input_shape: [null, units], use_bias: true, activation: 'linear' } }],
    },
  },
  weightsManifest: [
    {
      paths: ['group1-shard1of1.bin'],
      weights: [
        { name: 'dense/kernel', shape: [units, units], dtype: 'float32' },
        { name: 'dense/bias', shape: [units], dtype: 'float32' },
      ],
    },
  ],
});
const shardFile = path.join(dir, 'shard.bin');
{
  const out = fs.createWriteStream(shardFile);
  const block = crypto.randomBytes(1 << 20);
  for (let left = shardBytes; left > 0; left -= block.length)
    if (!out.write(left >= block.length ? block : block.subarray(0, left))) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}
const mb = shardBytes / 1e6;

// Direct put into the same store the server uses.
const store = await createObjectStore(loadConfig(env));
let t0 = performance.now();
await store.put('bench/direct', fs.createReadStream(shardFile));
const directMBs = mb / ((performance.now() - t0) / 1000);
await store.delete('bench/direct');

const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
const base = `http://127.0.0.1:${env.PORT}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    /* starting */
  }
  if (i > 300) throw new Error('server did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0);
const baseline = rssKb();
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, rssKb());
}, 20);

// The upload itself is made by curl (a C client, as users' scripts do): a Node client capped the figure well below
// what the server sustains on this machine (68 MB/s vs 180-260 MB/s measured with curl).
const modelJsonFile = path.join(dir, 'model.json');
await fsp.writeFile(modelJsonFile, modelJson);
t0 = performance.now();
const status = await new Promise<number>((resolve, reject) => {
  const curl = spawn('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-F',
    'name=bench-256',
    '-F',
    `files=@${modelJsonFile};filename=model.json`,
    '-F',
    `files=@${shardFile};filename=group1-shard1of1.bin`,
    `${base}/v1/models`,
  ]);
  let out = '';
  curl.stdout.on('data', (c: Buffer) => (out += c.toString()));
  curl.on('error', reject);
  curl.on('exit', () => resolve(Number(out)));
});
const apiMBs = mb / ((performance.now() - t0) / 1000);
clearInterval(sampler);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
await store.deletePrefix('models/');
await fsp.rm(dir, { recursive: true, force: true });

console.log(`store: ${store.kind}   file: ${mb.toFixed(1)} MB   upload status: ${status}`);
console.log(`direct put      ${directMBs.toFixed(1)} MB/s`);
console.log(`through the API ${apiMBs.toFixed(1)} MB/s   (${((apiMBs / directMBs) * 100).toFixed(0)}% of direct; target >= 90%)`);
console.log(`server RSS: baseline ${(baseline / 1024).toFixed(0)} MiB, peak growth ${((peak - baseline) / 1024).toFixed(1)} MiB (target < 64 MiB)`);
process.exit(status === 201 ? 0 : 1);

// Issue 18's flood bench: is the API alive, and how slow is a normal GraphQL query, while (a) connections send
// alias-flood queries (at the alias cap, and the review's 4,900-alias query that the cap refuses) and (b) sockets
// open subscriptions up to and beyond the per-socket and per-client caps on a job that emits progress all along.
// `modelpress serve` runs as a child process with `npm start`'s defaults (embedded PGlite, worker child). Every
// query text differs (alias or operation names) so the GraphQL response cache never answers for the database.
// The rate limiter is off by default (--rate-limit 0): with it on, most of the flood would get cheap 429s from
// one address and the GraphQL caps would not be exercised. Goal: p99 of the normal query during each flood ≤ 5 × idle.
// The normal query comes from 127.0.0.2, the floods from 127.0.0.1.
//   npx tsx bench/flood.ts [--probes 300] [--flooders 10] [--sockets 10] [--subs-per-socket 40] [--rate-limit 0]
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { MAX_ALIASES } from '../src/graphql/limits.ts';

const { values } = parseArgs({
  options: {
    probes: { type: 'string', default: '300' },
    flooders: { type: 'string', default: '10' },
    sockets: { type: 'string', default: '10' },
    'subs-per-socket': { type: 'string', default: '40' },
    'rate-limit': { type: 'string', default: '0' },
  },
});
const PROBES = Number(values.probes);
const FLOODERS = Number(values.flooders);
const SOCKETS = Number(values.sockets);
const SUBS_PER_SOCKET = Number(values['subs-per-socket']);
const REVIEW_ALIASES = 4_900; // the hostile review's query: cost ≈ 9,800, under the old cost limit

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mp-bench-flood-'));
const port = 30000 + (process.pid % 20000);
const base = `http://127.0.0.1:${port}`;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  MODELPRESS_DATA_DIR: path.join(dir, 'data'),
  PORT: String(port),
  MODELPRESS_EMBEDDED_DB_PORT: '0',
  MODELPRESS_BUILTIN_DATASETS: 'false',
  MODELPRESS_RATE_LIMIT: values['rate-limit'],
  MODELPRESS_QUEUE_POLL_SECONDS: '1',
  LOG_LEVEL: 'warn',
};
delete env.DATABASE_URL;
const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
const serverExit = new Promise<number | null>((r) => server.once('exit', r));
let serverRss = 0;

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const gql = (query: string) =>
  fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });

/** The normal client is another address than the flooders (127.0.0.2: the whole 127/8 is loopback), as it would be. */
const probeAgent = new http.Agent({ keepAlive: true, localAddress: '127.0.0.2' });
function postFromProbe(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/graphql`, { method: 'POST', agent: probeAgent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let probeN = 0;
/** The normal query: the newest 5 models, as a dashboard asks; a fresh operation name each time (no cache hit). */
async function probe(): Promise<number> {
  const t0 = performance.now();
  const res = await postFromProbe(
    JSON.stringify({ query: `query Probe${probeN++} { models(first: 5) { items { id name params sizeBytes } nextCursor } }` }),
  );
  const body = JSON.parse(res.text) as { data?: { models: { items: unknown[] } }; errors?: unknown };
  if (res.status !== 200 || !body.data) throw new Error(`probe failed: HTTP ${res.status} ${JSON.stringify(body.errors)}`);
  return performance.now() - t0;
}
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * q) - 1)];
async function probes(n: number) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await probe());
  const health = await fetch(`${base}/healthz`);
  console.error(`  ${n} probes: p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms`);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: Math.max(...ms), healthy: health.status === 200 };
}

let floodN = 0;
function aliasQuery(aliases: number): string {
  const tag = (floodN++).toString(36);
  const fields = Array.from({ length: aliases }, (_, i) => `a${i}_${tag}: models(first: 1) { items { id name } }`);
  return `{ ${fields.join(' ')} }`;
}

/** (a) FLOODERS loops, each alternating an at-cap alias query and the review's 4,900-alias one, until `stop`. */
function aliasFlood(stop: { done: boolean }) {
  const answers = new Map<string, number>();
  const count = (k: string) => answers.set(k, (answers.get(k) ?? 0) + 1);
  const loops = Array.from({ length: FLOODERS }, async (_, i) => {
    for (let n = i; !stop.done; n++) {
      const big = n % 2 === 1;
      try {
        const res = await gql(aliasQuery(big ? REVIEW_ALIASES : MAX_ALIASES));
        const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
        count(`${big ? REVIEW_ALIASES : MAX_ALIASES} aliases → ${res.status}${body.errors ? ` ${body.errors[0]?.extensions?.code ?? 'error'}` : ''}`);
      } catch (err) {
        count(`${big ? REVIEW_ALIASES : MAX_ALIASES} aliases → ${(err as Error).message}`);
      }
    }
  });
  return { answers, finished: Promise.all(loops) };
}

/** (b) SOCKETS WebSockets, each asking for SUBS_PER_SOCKET subscriptions on the running job. */
async function subscriptionFlood(jobId: string) {
  const stats = { accepted: 0, refusedPerSocket: 0, refusedPerClient: 0, otherErrors: 0, events: 0 };
  const sockets: WebSocket[] = [];
  for (let s = 0; s < SOCKETS; s++) {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const acked = new Promise<void>((resolve) => {
      const started = new Set<string>();
      ws.on('message', (raw: Buffer) => {
        const msg = JSON.parse(raw.toString()) as { type: string; id?: string; payload?: unknown };
        if (msg.type === 'connection_ack') resolve();
        else if (msg.type === 'next') {
          stats.events++;
          if (msg.id && !started.has(msg.id)) {
            started.add(msg.id);
            stats.accepted++;
          }
        } else if (msg.type === 'error') {
          const text = JSON.stringify(msg.payload);
          if (/per connection/.test(text)) stats.refusedPerSocket++;
          else if (/per API key or client/.test(text)) stats.refusedPerClient++;
          else stats.otherErrors++;
        }
      });
    });
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await acked;
    for (let i = 0; i < SUBS_PER_SOCKET; i++) {
      const query =
        i % 2 === 0
          ? `subscription { jobUpdated(id: "${jobId}") { id status progress { fraction step } } }`
          : `subscription { jobMetrics(id: "${jobId}") { jobId points { name step value } } }`;
      ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query } }));
    }
    sockets.push(ws);
  }
  return { stats, close: () => sockets.forEach((ws) => ws.close()) };
}

async function rssOfServer(): Promise<number> {
  const status = await fsp.readFile(`/proc/${server.pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

try {
  await waitFor('the server', async () => ((await fetch(`${base}/readyz`)).ok ? true : null));
  // 30 small models, so every models(first: N) reads rows.
  const modelJson = JSON.stringify({
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'flood',
        layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 4], activation: 'softmax' } }],
      },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'd/kernel', shape: [4, 2], dtype: 'float32' },
          { name: 'd/bias', shape: [2], dtype: 'float32' },
        ],
      },
    ],
  });
  for (let i = 0; i < 30; i++) {
    const form = new FormData();
    form.append('name', `flood-${i}`);
    form.append('files', new Blob([modelJson]), 'model.json');
    form.append('files', new Blob([new Uint8Array(40)]), 'group1-shard1of1.bin');
    const res = await fetch(`${base}/v1/models`, { method: 'POST', body: form });
    if (res.status !== 201) throw new Error(`model upload: HTTP ${res.status} ${await res.text()}`);
  }
  // A job that reports progress (and a loss metric) every ~36 ms for an hour: the subscriptions' event source.
  const created = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'noop', params: { steps: 100_000, durationMs: 3_600_000 } }),
  });
  const job = (await created.json()) as { id: string };
  await waitFor('the noop job to run', async () =>
    ((await (await fetch(`${base}/v1/jobs/${job.id}`)).json()) as { status: string }).status === 'running' ? true : null,
  );

  for (let i = 0; i < 20; i++) await probe(); // warm-up
  const rss0 = await rssOfServer();
  const idle = await probes(PROBES);
  console.error(`idle: p99 ${idle.p99.toFixed(1)} ms; alias flood…`);

  const stopA = { done: false };
  const flood = aliasFlood(stopA);
  await new Promise((r) => setTimeout(r, 1000)); // let every flooder have a request in flight
  const duringAliases = await probes(PROBES);
  stopA.done = true;
  await flood.finished;
  serverRss = Math.max(serverRss, await rssOfServer());
  console.error(`alias flood: p99 ${duringAliases.p99.toFixed(1)} ms; subscription flood…`);

  const subs = await subscriptionFlood(job.id);
  await new Promise((r) => setTimeout(r, 1000));
  const duringSubs = await probes(PROBES);
  const eventsDuring = subs.stats.events;
  subs.close();
  serverRss = Math.max(serverRss, await rssOfServer());
  await fetch(`${base}/v1/jobs/${job.id}/cancel`, { method: 'POST' });
  const alive = (await fetch(`${base}/healthz`)).status === 200;

  const cores = os.availableParallelism();
  const load = os.loadavg()[0].toFixed(1);
  const ratio = (x: number) => `${(x / idle.p99).toFixed(1)}×`;
  console.log(`\nGraphQL floods, npm start defaults (embedded), ${cores} cores, load average ${load}, rate limit ${values['rate-limit']}`);
  console.log('| phase | normal query p50 | p99 | p99 / idle p99 | /healthz after |');
  console.log('|---|---|---|---|---|');
  for (const [label, r] of [
    ['idle', idle],
    [`${FLOODERS} connections × alias floods (${MAX_ALIASES} and ${REVIEW_ALIASES} aliases)`, duringAliases],
    [`${SOCKETS} sockets × ${SUBS_PER_SOCKET} subscriptions on a job emitting progress`, duringSubs],
  ] as const) {
    console.log(`| ${label} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${ratio(r.p99)} | ${r.healthy ? 200 : 'DOWN'} |`);
  }
  console.log('alias flood answers:', Object.fromEntries(flood.answers));
  console.log('subscriptions:', { ...subs.stats, events: eventsDuring });
  console.log(
    `server RSS: ${(rss0 / 2 ** 20).toFixed(0)} MiB idle, ${(serverRss / 2 ** 20).toFixed(0)} MiB max after a flood; alive at the end: ${alive}`,
  );
  const goal = Math.max(duringAliases.p99, duringSubs.p99) <= 5 * idle.p99;
  console.log(`goal p99 during ≤ 5 × idle p99 (${(5 * idle.p99).toFixed(1)} ms): ${goal ? 'met' : 'MISSED'}`);
  const aliasAnswers = [...flood.answers].map(([k, n]) => `${n} × ${k}`).join(', ');
  console.log(
    `\nREADME row:\n| GraphQL floods vs a normal query, ${new Date().toISOString().slice(0, 10)}, shared 2-core VM (load average ${load}) | \`npx tsx bench/flood.ts\` | ` +
      `\`models(first: 5)\` p99 idle ${idle.p99.toFixed(0)} ms; during ${FLOODERS} alias-flood connections ${duringAliases.p99.toFixed(0)} ms (${ratio(duringAliases.p99)}; ${aliasAnswers}); ` +
      `during ${SOCKETS}×${SUBS_PER_SOCKET} subscriptions ${duringSubs.p99.toFixed(0)} ms (${ratio(duringSubs.p99)}; ${subs.stats.accepted} accepted, ${subs.stats.refusedPerSocket} refused per socket, ${subs.stats.refusedPerClient} per client, ${eventsDuring} events); ` +
      `API alive throughout, server RSS ≤ ${(serverRss / 2 ** 20).toFixed(0)} MiB; goal ≤ 5× idle ${goal ? 'met' : 'missed'} |`,
  );
} finally {
  server.kill('SIGTERM');
  await serverExit;
  await fsp.rm(dir, { recursive: true, force: true });
}

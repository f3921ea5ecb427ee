// Issue 18's flood bench: is the API alive, and how slow is a normal GraphQL query, while (a) connections send
// alias-flood queries (at the alias cap, at the SQL cap, and the review's 4,900-alias query that the size cap refuses)
// and (b) sockets open subscriptions up to and beyond the per-socket and per-client caps on a job that emits
// progress all along. `modelpress serve` runs through bench/lib/serve.ts with `npm start`'s defaults (embedded
// PGlite, one worker) — the GraphQL cost budget included. Every query text differs (alias or operation names) so the
// GraphQL response cache never answers for the database. The request-count limiter is off by default
// (--rate-limit 0): with it on, most of the flood would get cheap 429s from it and the GraphQL limits would not be
// exercised. The normal query comes from 127.0.0.2 at most every --interval ms (a dashboard, not a flood), the
// floods from 127.0.0.1, which floods without honouring Retry-After.
// The machine is shared, so the phases are interleaved: --rounds × (idle, alias flood, idle, subscription flood),
// --probes normal queries each; a flood's ratio is its pooled p99 over the pooled idle p99 of the same run.
// Goal: p99 of the normal query during each flood ≤ 5 × idle.
//   npx tsx bench/flood.ts [--rounds 3] [--probes 100] [--interval 100] [--flooders 10] [--sockets 10]
//     [--subs-per-socket 40] [--rate-limit 0]
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { MAX_ALIASES, MAX_SQL } from '../src/graphql/limits.ts';
import { loadAverage, startServer } from './lib/serve.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    probes: { type: 'string', default: '100' },
    interval: { type: 'string', default: '100' },
    flooders: { type: 'string', default: '10' },
    sockets: { type: 'string', default: '10' },
    'subs-per-socket': { type: 'string', default: '40' },
    'rate-limit': { type: 'string', default: '0' },
  },
});
const ROUNDS = Number(values.rounds);
const PROBES = Number(values.probes);
const INTERVAL_MS = Number(values.interval);
const FLOODERS = Number(values.flooders);
const SOCKETS = Number(values.sockets);
const SUBS_PER_SOCKET = Number(values['subs-per-socket']);
const REVIEW_ALIASES = 4_900; // the hostile review's query: cost ≈ 9,800, under the old cost limit
/** What each flooder sends in turn: at the alias cap, the review's query, and one at the SQL cap (fits every cap). */
const FLOOD_KINDS = [MAX_ALIASES, REVIEW_ALIASES, MAX_SQL];

const server = await startServer({
  workers: 1,
  backend: 'wasm',
  name: 'flood',
  env: { MODELPRESS_BUILTIN_DATASETS: 'false', MODELPRESS_RATE_LIMIT: values['rate-limit'] },
});
const base = server.base;

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
/** `n` normal queries, one at most every INTERVAL_MS; their latencies, and whether /healthz answered 200 after. */
async function probes(label: string, n: number) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const took = await probe();
    ms.push(took);
    if (took < INTERVAL_MS) await new Promise((r) => setTimeout(r, INTERVAL_MS - took));
  }
  const healthy = (await fetch(`${base}/healthz`)).status === 200;
  const load = os.loadavg()[0];
  console.error(`  ${label}: ${n} probes, p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, load ${load.toFixed(1)}`);
  return { ms, healthy, load };
}

/**
 * Starts a flood in a child process (bench/lib/flood-client.ts): the attacker must not share the probe's event loop
 * (its thousands of answers a second would delay the probe's own timing). Resolves once the flood is under way.
 */
async function startFlood(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/flood-client.ts', base, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => (out.includes('ready\n') ? resolve() : undefined);
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`flood client exited ${code}`)));
  });
  return {
    /** Stops the flood; its counts. */
    stop: async (): Promise<Record<string, number>> => {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end('stop\n');
      await exited;
      return JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as Record<string, number>;
    },
  };
}

async function rssOfServer(): Promise<number> {
  const status = await fsp.readFile(`/proc/${server.pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

try {
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
  const job = await server.api<{ id: string }>('POST', '/v1/jobs', { type: 'noop', params: { steps: 100_000, durationMs: 3_600_000 } });
  await waitFor('the noop job to run', async () =>
    (await server.api<{ status: string }>('GET', `/v1/jobs/${job.id}`)).status === 'running' ? true : null,
  );

  for (let i = 0; i < 20; i++) await probe(); // warm-up
  const rss0 = await rssOfServer();
  const idle: number[] = [];
  const during = { alias: [] as number[], subs: [] as number[] };
  const loads: number[] = [];
  const rounds: { idleA: number; alias: number; idleS: number; subs: number }[] = [];
  const answers = new Map<string, number>();
  const subTotals = { accepted: 0, refusedPerSocket: 0, refusedPerClient: 0, otherErrors: 0, events: 0 };
  let healthy = true;
  let rssMax = rss0;
  const p99 = (xs: number[]) => quantile(xs, 0.99);
  for (let r = 1; r <= ROUNDS; r++) {
    const idleA = await probes(`round ${r} idle`, PROBES);
    const flood = await startFlood(['alias', String(FLOODERS), FLOOD_KINDS.join(',')]);
    await new Promise((res) => setTimeout(res, 1000)); // let every flooder have a request in flight
    const alias = await probes(`round ${r} alias flood`, PROBES);
    rssMax = Math.max(rssMax, await rssOfServer());
    for (const [k, n] of Object.entries(await flood.stop())) answers.set(k, (answers.get(k) ?? 0) + n);

    const idleS = await probes(`round ${r} idle`, PROBES);
    const subs = await startFlood(['subs', job.id, String(SOCKETS), String(SUBS_PER_SOCKET)]);
    await new Promise((res) => setTimeout(res, 1000));
    const duringSubs = await probes(`round ${r} subscription flood`, PROBES);
    rssMax = Math.max(rssMax, await rssOfServer());
    const stats = await subs.stop();
    for (const k of Object.keys(subTotals) as (keyof typeof subTotals)[]) subTotals[k] += stats[k] ?? 0;

    idle.push(...idleA.ms, ...idleS.ms);
    during.alias.push(...alias.ms);
    during.subs.push(...duringSubs.ms);
    loads.push(idleA.load, alias.load, idleS.load, duringSubs.load);
    healthy &&= idleA.healthy && alias.healthy && idleS.healthy && duringSubs.healthy;
    rounds.push({ idleA: p99(idleA.ms), alias: p99(alias.ms), idleS: p99(idleS.ms), subs: p99(duringSubs.ms) });
  }
  await server.api('POST', `/v1/jobs/${job.id}/cancel`);
  const alive = (await fetch(`${base}/healthz`)).status === 200;
  const rssEnd = await rssOfServer();

  const cores = os.availableParallelism();
  const loadRange = `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`;
  const idleP99 = p99(idle);
  const ratio = (x: number) => `${(x / idleP99).toFixed(1)}×`;
  console.log(
    `\nGraphQL floods, npm start defaults (embedded), ${cores} cores, load average ${loadRange} (1-min, at the end of each phase; now ${loadAverage()}), ` +
      `rate limit ${values['rate-limit']}, ${ROUNDS} rounds × ${PROBES} probes per phase, probes at most every ${INTERVAL_MS} ms`,
  );
  console.log('| phase (pooled over the rounds) | normal query p50 | p99 | p99 / idle p99 |');
  console.log('|---|---|---|---|');
  for (const [label, ms] of [
    ['idle', idle],
    [`${FLOODERS} connections × alias floods (${FLOOD_KINDS.join(', ')} aliases)`, during.alias],
    [`${SOCKETS} sockets × ${SUBS_PER_SOCKET} subscriptions on a job emitting progress`, during.subs],
  ] as const) {
    console.log(`| ${label} | ${quantile(ms, 0.5).toFixed(1)} ms | ${p99(ms).toFixed(1)} ms | ${ratio(p99(ms))} |`);
  }
  console.log(
    'per round, p99 ms (idle → alias flood, idle → subscription flood):',
    rounds.map((x) => `${x.idleA.toFixed(0)} → ${x.alias.toFixed(0)}, ${x.idleS.toFixed(0)} → ${x.subs.toFixed(0)}`).join('; '),
  );
  console.log('alias flood answers:', Object.fromEntries(answers));
  console.log('subscriptions (all rounds):', subTotals);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `server RSS: ${mib(rss0)} before the floods, ${mib(rssMax)} max after a flood, ${mib(rssEnd)} at the end; /healthz 200 after every phase: ${healthy}; alive at the end: ${alive}`,
  );
  const aliasRatio = p99(during.alias) / idleP99;
  const subsRatio = p99(during.subs) / idleP99;
  const goal = Math.max(aliasRatio, subsRatio) <= 5;
  console.log(
    `goal p99 during ≤ 5 × idle p99 (${(5 * idleP99).toFixed(1)} ms): alias ${aliasRatio.toFixed(1)}×, subscriptions ${subsRatio.toFixed(1)}×: ${goal ? 'met' : 'MISSED'}`,
  );
  const aliasAnswers = [...answers].map(([k, n]) => `${n} × ${k}`).join(', ');
  console.log(
    `\nREADME row:\n| GraphQL floods vs a normal query, ${new Date().toISOString().slice(0, 10)}, shared 2-core VM (load average ${loadRange}) | \`npx tsx bench/flood.ts\` | ` +
      `\`models(first: 5)\` from another address, ${ROUNDS} interleaved rounds × ${PROBES} probes per phase: p50 / p99 idle ${quantile(idle, 0.5).toFixed(0)} / ${idleP99.toFixed(0)} ms; ` +
      `during ${FLOODERS} alias-flood connections ${quantile(during.alias, 0.5).toFixed(0)} / ${p99(during.alias).toFixed(0)} ms (**${ratio(p99(during.alias))}**; ${aliasAnswers}); ` +
      `during ${SOCKETS}×${SUBS_PER_SOCKET} subscriptions ${quantile(during.subs, 0.5).toFixed(0)} / ${p99(during.subs).toFixed(0)} ms (**${ratio(p99(during.subs))}**; ${subTotals.accepted} accepted, ${subTotals.refusedPerSocket} refused per socket, ${subTotals.refusedPerClient} per client, ${subTotals.events} events); ` +
      `API alive throughout, server RSS ${mib(rss0)} → max ${mib(rssMax)}, ${mib(rssEnd)} at the end; goal ≤ 5× idle ${goal ? 'met' : 'missed'} |`,
  );
} finally {
  await server.stop();
}

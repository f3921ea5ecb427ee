// The attacker side of bench/flood.ts, in its own process: `flood-client.ts <base> alias <connections> <aliases,…>`
// sends alias-flood queries on each connection in turn, back to back, never honouring Retry-After;
// `flood-client.ts <base> subs <jobId> <sockets> <subscriptions per socket>` opens WebSockets and subscribes. It
// prints "ready" once the flood is under way, and its counts as JSON when a line arrives on stdin, then exits.
import WebSocket from 'ws';

const [base, mode, ...args] = process.argv.slice(2);
const stop = { done: false };
const stopped = new Promise<void>((resolve) =>
  process.stdin.once('data', () => {
    stop.done = true;
    resolve();
  }),
);

let floodN = 0;
function aliasQuery(aliases: number): string {
  const tag = (floodN++).toString(36);
  const fields = Array.from({ length: aliases }, (_, i) => `a${i}_${tag}: models(first: 1) { items { id name } }`);
  return `{ ${fields.join(' ')} }`;
}

async function aliasFlood(connections: number, kinds: number[]) {
  const answers: Record<string, number> = {};
  const count = (k: string) => (answers[k] = (answers[k] ?? 0) + 1);
  const loops = Array.from({ length: connections }, async (_, i) => {
    for (let n = i; !stop.done; n++) {
      const aliases = kinds[n % kinds.length];
      try {
        const res = await fetch(`${base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: aliasQuery(aliases) }),
        });
        const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
        count(`${aliases} aliases → ${res.status}${body.errors ? ` ${body.errors[0]?.extensions?.code ?? 'error'}` : ''}`);
      } catch (err) {
        count(`${aliases} aliases → ${(err as Error).message}`);
      }
    }
  });
  process.stdout.write('ready\n');
  await Promise.all(loops);
  return answers;
}

/** (b) SOCKETS WebSockets, each asking for SUBS_PER_SOCKET subscriptions on the running job. */
async function subscriptionFlood(jobId: string, SOCKETS: number, SUBS_PER_SOCKET: number) {
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

if (mode === 'alias') {
  const answers = await aliasFlood(Number(args[0]), args[1].split(',').map(Number));
  process.stdout.write(JSON.stringify(answers));
} else {
  const subs = await subscriptionFlood(args[0], Number(args[1]), Number(args[2]));
  process.stdout.write('ready\n');
  await stopped;
  subs.close();
  process.stdout.write(JSON.stringify(subs.stats));
}
process.exit(0);

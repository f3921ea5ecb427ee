// Helpers for GraphQL tests and the GraphQL benchmark: POST a query, count the SQL a call runs, seed jobs with
// metrics, and a graphql-transport-ws WebSocket client.
import pg from 'pg';
import WebSocket from 'ws';
import type { Runtime } from '../../src/runtime.ts';
import { ALL_PROJECTS } from '../../src/domain/projects.ts';

export type Gql = (query: string, variables?: Record<string, unknown>) => Promise<{ status: number; body: any }>;

export function gql(ctx: { baseUrl: string }): Gql {
  return async (query, variables) => {
    const res = await fetch(`${ctx.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: await res.json() };
  };
}

/** Background statements that are not part of a request: the workers' claim, sweep and heartbeat, and the PGlite event tail. */
const BACKGROUND = /modelpress:worker|FROM "JobEvent" WHERE "id" > \$1::bigint/;

/**
 * Runs `fn` and returns the SQL statements sent meanwhile through any `pg` client of this process (Prisma's
 * driver adapter uses `pg`), background polling excluded.
 */
export async function countSql<T>(fn: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string };
    const text = typeof config === 'string' ? config : (config?.text ?? '');
    if (!BACKGROUND.test(text)) queries.push(text.replace(/\s+/g, ' ').slice(0, 160));
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), queries };
  } finally {
    proto.query = original;
  }
}

/**
 * Creates `count` queued noop jobs through JobService (every 2nd with `modelId`, every 3rd with `datasetId`) and
 * `metricSteps` points of `loss` (1/step) and `accuracy` (step/(step+1)) per job. Returns the ids, oldest first.
 */
export async function seedJobs(rt: Runtime, o: { count: number; modelId?: string; datasetId?: string; metricSteps: number }): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const { job } = await rt.services.jobs.create(ALL_PROJECTS, {
      type: 'noop', // CreateJobInput['type'] is typed never (TypeBox union built from an array)
      params: { steps: 1 },
      modelId: i % 2 === 0 ? o.modelId : undefined,
      datasetId: i % 3 === 0 ? o.datasetId : undefined,
    });
    ids.push(job.id);
  }
  const points = ids.flatMap((jobId) =>
    Array.from({ length: o.metricSteps }, (_, s) => [
      { jobId, name: 'loss', step: s + 1, epoch: 1, value: 1 / (s + 1) },
      { jobId, name: 'accuracy', step: s + 1, epoch: 1, value: (s + 1) / (s + 2) },
    ]).flat(),
  );
  for (let i = 0; i < points.length; i += 5000) await rt.db.metricPoint.createMany({ data: points.slice(i, i + 5000) });
  return ids;
}

export interface Subscription {
  /** `next` payloads received so far */
  messages: any[];
  /** Resolves with the messages when the server completes the subscription; rejects on an error message. */
  done: Promise<any[]>;
  close(): void;
}

/**
 * Subscribes over WebSocket with the graphql-transport-ws protocol (the graphql-ws library's); `initPayload` is the
 * connection_init payload (e.g. { authorization: 'Bearer mp_…' }).
 */
export async function wsSubscribe(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  initPayload: Record<string, unknown> = {},
): Promise<Subscription> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const messages: any[] = [];
  let ack: () => void;
  const acked = new Promise<void>((r) => (ack = r));
  const done = new Promise<any[]>((resolve, reject) => {
    ws.on('message', (raw) => {
      const text = (Array.isArray(raw) ? Buffer.concat(raw) : raw instanceof ArrayBuffer ? Buffer.from(raw) : raw).toString();
      const msg = JSON.parse(text);
      if (msg.type === 'connection_ack') ack();
      else if (msg.type === 'next') messages.push(msg.payload);
      else if (msg.type === 'complete') resolve(messages);
      else if (msg.type === 'error') reject(new Error(`subscription error: ${JSON.stringify(msg.payload)}`));
    });
    ws.on('close', () => reject(new Error('socket closed before the subscription completed')));
  });
  done.catch(() => {}); // observed by the caller when it awaits
  ws.send(JSON.stringify({ type: 'connection_init', payload: initPayload }));
  await acked;
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
  return { messages, done, close: () => ws.close() };
}

// Helpers for job tests: wait for a job state over the API, read a Server-Sent Events stream to its end.
import type { TestContext } from './harness.ts';
import { eventually } from './wait.ts';

export interface JobJson {
  id: string;
  status: string;
  attempts: number;
  workerId: string | null;
  backend: string | null;
  error: { code: string; message: string } | null;
  progress: { fraction: number; epoch: number | null; step: number | null; etaSeconds: number | null };
  cancelRequested: boolean;
  startedAt: string | null;
  [k: string]: unknown;
}

export async function waitForJob(ctx: TestContext, id: string, until: (j: JobJson) => boolean, timeoutMs = 20_000): Promise<JobJson> {
  let last: JobJson | undefined;
  const check = async () => {
    last = (await ctx.http.get(`/v1/jobs/${id}`).expect(200)).body as JobJson;
    if (!until(last)) throw new Error(`job ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    return last;
  };
  return eventually(check, timeoutMs, 100);
}

export const finished = (j: JobJson) => ['succeeded', 'failed', 'canceled'].includes(j.status);

export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, any>;
}

/** Reads an SSE response to its end (the server closes it when the job ends); fails after timeoutMs. */
export async function readSse(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ status: number; contentType: string | null; events: SseEvent[] }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^(\w+): ?(.*)$/.exec(line);
      if (m) fields[m[1]] = m[2];
    }
    if (fields.event && fields.data) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

/** Waits until every job in `ids` finished, polling one list page (cheap even for many jobs). */
export async function waitForAll(ctx: TestContext, ids: string[], timeoutMs = 60_000): Promise<JobJson[]> {
  const want = new Set(ids);
  const check = async () => {
    const items: JobJson[] = [];
    for (let cursor: string | null = null; ;) {
      const page: { items: JobJson[]; nextCursor: string | null } = (
        await ctx.http.get(`/v1/jobs?limit=200${cursor ? `&cursor=${cursor}` : ''}`).expect(200)
      ).body;
      items.push(...page.items.filter((j) => want.has(j.id)));
      if (!(cursor = page.nextCursor)) break;
    }
    if (items.length === want.size && items.every(finished)) return ids.map((id) => items.find((j) => j.id === id)!);
    throw new Error(`not all of ${ids.length} jobs finished in ${timeoutMs} ms`);
  };
  return eventually(check, timeoutMs, 250);
}

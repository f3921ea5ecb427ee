// Shared checks of the hostile-input suites (test/security/): each case runs with a concurrent /healthz probe (the
// API's event loop must stay responsive while the hostile request is handled), and afterwards the answer must be a
// 4xx problem+json or GraphQL error (never 500), RSS must not have grown beyond a bound, and no row or object may
// be left behind.
import assert from 'node:assert/strict';
import { listKeys, rowCounts, type TestContext } from './harness.ts';

/**
 * /healthz round trips slower than this count as a stall. Issue 18's acceptance line is 100 ms (set
 * MODELPRESS_TEST_HEALTHZ_MS=100 on an idle machine); the default catches the stalls the issue found (27 s to 274 s)
 * without failing on a shared 2-core machine whose load alone delays any request by a few hundred ms.
 */
export const HEALTHZ_MS = Number(process.env.MODELPRESS_TEST_HEALTHZ_MS ?? 2000);
/** RSS the process may grow by during one case (a decompression bomb would grow it by hundreds of MB). */
export const RSS_GROWTH_BYTES = 192 * 1024 ** 2;

export interface ProbeStats {
  samples: number;
  p50: number;
  max: number;
  slow: number;
}

/** Sequential GET /healthz round trips until stopped; their latencies. */
export function healthProbe(baseUrl: string) {
  let running = true;
  const times: number[] = [];
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(`${baseUrl}/healthz`);
      await res.arrayBuffer();
      times.push(performance.now() - t0);
    }
  })();
  return {
    async stop(): Promise<ProbeStats> {
      running = false;
      await loop;
      const sorted = [...times].sort((a, b) => a - b);
      return {
        samples: sorted.length,
        p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
        slow: sorted.filter((t) => t >= HEALTHZ_MS).length,
      };
    },
  };
}

/** Runs `attack` under a health probe and checks the service afterwards. */
export async function underProbe<T>(ctx: TestContext, name: string, attack: () => Promise<T>): Promise<T> {
  const rss0 = process.memoryUsage().rss;
  const probe = healthProbe(ctx.baseUrl);
  let result: T;
  try {
    result = await attack();
  } finally {
    const stats = await probe.stop();
    if (process.env.MODELPRESS_TEST_VERBOSE) console.log(`# ${name}: healthz ${JSON.stringify(stats)}`);
    assert.equal(stats.slow, 0, `${name}: /healthz took ≥ ${HEALTHZ_MS} ms ${stats.slow} times (max ${stats.max.toFixed(0)} ms)`);
  }
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < RSS_GROWTH_BYTES, `${name}: RSS grew by ${(grown / 1024 ** 2).toFixed(0)} MB`);
  return result;
}

/** A 4xx problem+json answer with this code (or any 4xx when code is omitted). */
export function assertProblem(res: { status: number; headers: Record<string, string>; body: { code?: string } }, status: number, code?: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers['content-type'], /application\/problem\+json/);
  if (code) assert.equal(res.body.code, code);
}

/** A GraphQL error answer: this status, no data, the first error's extensions.code. */
export function assertGraphqlError(
  res: { status: number; body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.data ?? null, null);
  assert.equal(res.body.errors?.[0]?.extensions?.code, code, JSON.stringify(res.body));
}

/** Nothing was stored: no rows in the upload tables, no objects. */
export async function assertNothingLeft(ctx: TestContext) {
  assert.deepEqual(await rowCounts(ctx), { models: 0, modelFiles: 0, datasets: 0, datasetFiles: 0 });
  assert.deepEqual(await listKeys(ctx), []);
}

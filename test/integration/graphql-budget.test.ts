// The per-client GraphQL cost budget through HTTP (issue 18's alias flood): a client that keeps sending costly
// queries is refused with 429 RATE_LIMITED (Retry-After, X-Cost-* headers) once its points run out, then on arrival
// until its Retry-After; a refused query takes nothing, one refused for its shape costs REFUSAL_COST, and another
// client's query still runs. The budget refills at 1 point a minute here, so nothing
// refills during the test; its burst is the cost limit (10,000 points).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_COST } from '../../src/graphql/limits.ts';
import { ApiKeyService } from '../../src/security/api-keys.ts';
import { REFUSAL_COST } from '../../src/security/cost-budget.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';

/** Four aliased job pages with their models: one query costs a few thousand points. */
const COSTLY = `{ ${Array.from({ length: 4 }, (_, i) => `a${i}: jobs(first: 200) { items { id model { id } dataset { id } } }`).join(' ')} }`;
const NORMAL = '{ models(first: 5) { items { id name } } }';

await forEachTarget('graphql cost budget', (target) => {
  let ctx: TestContext;
  let flooderKey: string;

  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_GRAPHQL_COST_PER_MINUTE: '1' });
    flooderKey = (await new ApiKeyService(ctx.runtime.db).create({ name: 'flooder', scope: 'read' })).key;
  });
  after(async () => ctx?.close());

  const post = async (query: string, key?: string) => {
    const res = await fetch(`${ctx.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  test('a flooding key gets 429 RATE_LIMITED once over budget; a keyless client still gets answers', async () => {
    const first = await post(COSTLY, flooderKey);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const cost = Number(first.headers.get('x-query-cost'));
    assert.ok(cost > 1000 && cost < MAX_COST / 2, `cost ${cost}`);
    assert.equal(Number(first.headers.get('x-cost-limit')), MAX_COST);
    let remaining = Number(first.headers.get('x-cost-remaining'));
    assert.equal(remaining, MAX_COST - cost);
    while (remaining >= cost) {
      const ok = await post(COSTLY, flooderKey);
      assert.equal(ok.status, 200);
      remaining -= cost;
      assert.equal(Number(ok.headers.get('x-cost-remaining')), remaining);
    }

    const refused = await post(COSTLY, flooderKey);
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.data, null);
    const [err] = refused.body.errors;
    assert.equal(err.extensions.code, 'RATE_LIMITED');
    assert.equal(err.extensions.details.cost, cost);
    assert.equal(err.extensions.details.remaining, remaining);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(Number(refused.headers.get('x-cost-remaining')), remaining);
    // Told to retry later, the flooder is refused on arrival even for a cheap query, and still charged nothing.
    const early = await post(NORMAL, flooderKey);
    assert.equal(early.status, 429);
    assert.equal(early.body.errors[0].extensions.code, 'RATE_LIMITED');
    assert.ok(Number(early.headers.get('retry-after')) >= 1);
    assert.equal(early.body.errors[0].extensions.details.remaining, remaining);

    // Another client (no key: its address) has its own full budget.
    const other = await post(NORMAL);
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.deepEqual(other.body.data, { models: { items: [] } });
    const normalCost = Number(other.headers.get('x-query-cost'));
    assert.equal(Number(other.headers.get('x-cost-remaining')), MAX_COST - normalCost);
    // A query refused for its shape (over the alias cap) costs REFUSAL_COST.
    const tooMany = await post(`{ ${Array.from({ length: 51 }, (_, i) => `a${i}: models(first: 1) { items { id } }`).join(' ')} }`);
    assert.equal(tooMany.status, 422);
    const after = await post(NORMAL);
    assert.equal(Number(after.headers.get('x-cost-remaining')), MAX_COST - 2 * normalCost - REFUSAL_COST);
  });
});

// The per-client GraphQL cost budget (src/security/cost-budget.ts): token-bucket refill math on a fake clock,
// refusals that take nothing and say when to retry, isolation between clients, the bound on tracked clients.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { ClientGate, clientKey, CostBudget, REFUSAL_COST } from '../../src/security/cost-budget.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(isAppError(err), String(err));
    return err;
  }
  assert.fail('expected a refusal');
};

describe('GraphQL cost budget', () => {
  it('a new client holds the full capacity; charges take points, refusals take none', () => {
    const c = clock();
    const b = new CostBudget(600, 1000, c.now); // 10 points a second
    assert.deepEqual(b.charge('a', 400), { cost: 400, remaining: 600, capacity: 1000 });
    assert.equal(b.charge('a', 600).remaining, 0);
    const err = refusal(() => b.charge('a', 50));
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.status, 429);
    assert.deepEqual(err.details, { cost: 50, remaining: 0, limit: 1000, perMinute: 600, retryAfterSeconds: 5, scope: 'cost' });
    assert.equal(b.remaining('a'), 0);
  });

  it('refills continuously at perMinute, never above the capacity', () => {
    const c = clock();
    const b = new CostBudget(600, 1000, c.now);
    b.charge('a', 1000);
    c.advance(2_500);
    assert.equal(b.remaining('a'), 25);
    assert.equal(refusal(() => b.charge('a', 30)).details?.retryAfterSeconds, 1); // 5 points short: 0.5 s, rounded up
    c.advance(500);
    assert.equal(b.charge('a', 30).remaining, 0);
    c.advance(3_600_000);
    assert.equal(b.remaining('a'), 1000);
    assert.equal(b.charge('a', 1).remaining, 999);
  });

  it('Retry-After is when the bucket will hold the cost again', () => {
    const c = clock();
    const b = new CostBudget(60, 100, c.now); // 1 point a second
    b.charge('a', 90);
    const { details } = refusal(() => b.charge('a', 40));
    assert.equal(details?.retryAfterSeconds, 30);
    c.advance(29_000);
    refusal(() => b.charge('a', 40));
    c.advance(1_000);
    assert.equal(b.charge('a', 40).remaining, 0);
  });

  it('a refused client is refused on arrival (check) until its Retry-After, then served again', () => {
    const c = clock();
    const b = new CostBudget(60, 100, c.now); // 1 point a second
    b.check('a');
    b.charge('a', 90);
    b.check('a'); // not refused yet: 10 points left
    assert.equal(refusal(() => b.charge('a', 40)).details?.retryAfterSeconds, 30);
    const early = refusal(() => b.check('a'));
    assert.equal(early.code, 'RATE_LIMITED');
    assert.equal(early.details?.retryAfterSeconds, 30);
    assert.equal(early.details?.cost, undefined);
    c.advance(29_500);
    assert.equal(refusal(() => b.check('a')).details?.retryAfterSeconds, 1);
    c.advance(500);
    b.check('a');
    assert.equal(b.charge('a', 40).remaining, 0);
    b.check('b'); // others never were refused
  });

  it('refusals for size or shape cost REFUSAL_COST; a debt blocks until it is refilled', () => {
    const c = clock();
    const b = new CostBudget(60, 150, c.now);
    b.penalize('a');
    assert.equal(b.remaining('a'), 150 - REFUSAL_COST);
    b.check('a');
    b.penalize('a'); // 50 − 100: 50 points of debt
    assert.equal(refusal(() => b.check('a')).details?.retryAfterSeconds, 50);
    c.advance(50_000);
    b.check('a');
    assert.equal(b.remaining('a'), 0);
  });

  it('clients are isolated: one that runs dry leaves the others full', () => {
    const c = clock();
    const b = new CostBudget(60, 100, c.now);
    const flooder = clientKey({ keyId: 'k1', name: 'k1', scope: 'read', projectId: null }, '10.0.0.1');
    assert.equal(flooder, 'key:k1');
    assert.equal(clientKey(null, '10.0.0.1'), 'ip:10.0.0.1');
    b.charge(flooder, 100);
    refusal(() => b.charge(flooder, 1));
    assert.equal(b.charge('ip:10.0.0.1', 100).remaining, 0); // same address, no key: another client
    assert.equal(b.charge('ip:10.0.0.2', 7).remaining, 93);
  });

  it('a cost above the capacity could never run: RESOURCE_LIMIT, nothing taken', () => {
    const b = new CostBudget(60, 100, clock().now);
    const err = refusal(() => b.charge('a', 101));
    assert.equal(err.code, 'RESOURCE_LIMIT');
    assert.equal(b.remaining('a'), 100);
  });

  it('0 per minute disables it', () => {
    const b = new CostBudget(0, 100, clock().now);
    assert.equal(b.enabled, false);
    for (let i = 0; i < 10; i++) assert.equal(b.charge('a', 100).remaining, 100);
  });

  it('a bucket left alone until full is forgotten (bounded memory), and reads as full', () => {
    const c = clock();
    const b = new CostBudget(60, 100, c.now);
    b.charge('a', 100);
    c.advance(100_000);
    assert.equal(b.remaining('a'), 100);
    assert.equal(b.charge('a', 60).remaining, 40);
  });
});

describe('GraphQL client gate', () => {
  it('runs `concurrency` operations of a client at once, the rest in arrival order; other clients never wait', async () => {
    const gate = new ClientGate(2, 2);
    const order: string[] = [];
    const turns = ['a1', 'a2', 'a3', 'a4'].map((name) => {
      const t = gate.enter('a');
      t.ready.then(() => order.push(name)).catch(() => {});
      return t;
    });
    const other = gate.enter('b');
    await other.ready;
    await Promise.resolve();
    assert.deepEqual(order, ['a1', 'a2']);
    assert.deepEqual(gate.load('a'), { running: 2, waiting: 2 });
    const refused = (() => {
      try {
        gate.enter('a');
      } catch (err) {
        return err;
      }
    })();
    assert.ok(isAppError(refused) && refused.code === 'RATE_LIMITED');
    turns[1].release();
    turns[1].release(); // idempotent
    await Promise.resolve();
    assert.deepEqual(order, ['a1', 'a2', 'a3']);
    turns[3].release(); // gave up while waiting: its turn is never granted
    await assert.rejects(turns[3].ready, /ended while waiting/);
    turns[0].release();
    turns[2].release();
    other.release();
    assert.deepEqual(gate.load('a'), { running: 0, waiting: 0 });
    assert.deepEqual(order, ['a1', 'a2', 'a3']);
  });
});

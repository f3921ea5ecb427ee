// The search's choice (src/ml/compress/search/pareto.ts): the Pareto front, the cheapest candidate within the
// budget, and the paired standard error autocompress takes off a candidate's accuracy before judging it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseWithin, pairedStandardError, paretoFront } from '../../src/ml/compress/index.ts';

test('paretoFront keeps the undominated candidates by cost; chooseWithin the cheapest within the drop, less its margin', () => {
  const c = [
    { id: 'orig', accuracy: 0.98, cost: 100 },
    { id: 'a', accuracy: 0.979, cost: 50, margin: 0.0005 },
    { id: 'b', accuracy: 0.978, cost: 30, margin: 0.0015 },
    { id: 'c', accuracy: 0.97, cost: 20, margin: 0 },
    { id: 'd', accuracy: 0.975, cost: 60, margin: 0 },
  ];
  assert.deepEqual(
    paretoFront(c).map((x) => x.id),
    ['c', 'b', 'a', 'orig'],
  );
  // b's drop (0.2 pp) is within 0.3 pp, but not with its standard error (0.15 pp): a is chosen.
  assert.equal(chooseWithin(c, 0.98, 0.003)!.id, 'a');
  assert.equal(
    chooseWithin(
      c.map((x) => ({ ...x, margin: 0 })),
      0.98,
      0.003,
    )!.id,
    'b',
  );
  assert.equal(chooseWithin(c.slice(1), 0.99, 0.003), null);
});

test('the chosen candidate is on the front it is reported on, even when a cheaper one looks more accurate but fails on its margin', () => {
  const c = [
    { id: 'orig', accuracy: 0.98, cost: 100 },
    { id: 'a', accuracy: 0.979, cost: 50, margin: 0.0005 },
    { id: 'x', accuracy: 0.981, cost: 40, margin: 0.01 },
  ];
  const chosen = chooseWithin(c, 0.98, 0.003)!;
  assert.equal(chosen.id, 'a');
  // On measured accuracy alone x (cheaper, more accurate) would dominate a and the original: the front would be [x].
  assert.deepEqual(
    paretoFront(c).map((x) => x.id),
    ['x', 'a', 'orig'],
  );
  assert.ok(paretoFront(c).includes(chosen));
});

test('pairedStandardError: only rows where the two differ count', () => {
  const n = 5000;
  const a = new Uint8Array(n).fill(1);
  const b = new Uint8Array(n).fill(1);
  assert.equal(pairedStandardError(a, b), 0);
  // 30 rows b gets wrong, 10 rows it gets right that a gets wrong: drop 0.4 pp.
  for (let i = 0; i < 30; i++) b[i] = 0;
  for (let i = 30; i < 40; i++) a[i] = 0;
  const d = Array.from(a, (x, i) => x - b[i]);
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  assert.ok(Math.abs(pairedStandardError(a, b) - sd / Math.sqrt(n)) < 1e-12);
  assert.ok(Math.abs(pairedStandardError(a, b) - 0.00126) < 1e-4, String(pairedStandardError(a, b)));
});

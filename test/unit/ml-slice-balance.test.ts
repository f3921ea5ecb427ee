import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SliceBalance, sliceSizes } from '../../src/ml/parallel/slice-balance.ts';

test('slices start equal, then move rows towards the thread that waited at the barrier, within bounds', () => {
  assert.deepEqual(sliceSizes(128, 3), [43, 43, 42]);
  const b = new SliceBalance(128, 2);
  assert.deepEqual(b.sizes(128, 2), [64, 64]);
  // The leader arrives 0.3 ms late every step (the replica waits): the leader's share shrinks, step by step.
  let sizes = b.sizes(128, 2);
  for (let i = 0; i < 200; i++) {
    b.observe(sizes[0], sizes[0] * 0.02, 0, [0.3]);
    sizes = b.sizes(128, 2);
    assert.equal(sizes[0] + sizes[1], 128);
    assert.ok(sizes[1] <= SliceBalance.maxReplicaRows(128, 2), `replica rows ${sizes[1]} fit its input slot`);
  }
  assert.deepEqual(sizes, [32, 96], 'clamped at half the equal share');
  // Then the replica is the late one: rows move back.
  for (let i = 0; i < 20; i++) {
    b.observe(sizes[0], sizes[0] * 0.02, 0.2, [0]);
    sizes = b.sizes(128, 2);
  }
  assert.ok(sizes[0] > 32 && sizes[0] + sizes[1] === 128, `moved back: ${sizes}`);
  // A smaller last batch keeps the share; another number of participants starts equal again.
  const last = b.sizes(40, 2);
  assert.equal(last[0] + last[1], 40);
  assert.deepEqual(b.sizes(129, 3), [43, 43, 43]);
});

test('balanced threads (both arrive together) keep the share where it is', () => {
  const b = new SliceBalance(128, 2);
  b.sizes(128, 2);
  for (let i = 0; i < 50; i++) b.observe(64, 1.3, 0.01, [0.01]);
  assert.deepEqual(b.sizes(128, 2), [64, 64]);
});

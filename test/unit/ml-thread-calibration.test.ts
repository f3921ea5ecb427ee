import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidates, ThreadCalibration } from '../../src/ml/parallel/thread-calibration.ts';

/** Runs calibration steps on `threads` threads where a row costs msPerRow[k] ms on k threads; returns the counts run and what it kept. */
function calibrate(threads: number, msPerRow: Record<number, number>): { counts: number[]; kept: number | null } {
  const c = new ThreadCalibration(threads);
  const counts: number[] = [];
  for (let i = 0; i < 200 && !c.decided; i++) {
    const k = c.next();
    counts.push(k);
    // An odd-sized batch (an epoch's last) is not counted.
    if (i === 10) c.record(k, 1, 7, 128, false);
    c.record(k, msPerRow[k] * 128, 128, 128, i > 0 && counts[i - 1] !== k);
  }
  return { counts, kept: c.decided };
}

test('candidates: all the threads, one, and the powers of two between', () => {
  assert.deepEqual(candidates(1), [1]);
  assert.deepEqual(candidates(2), [2, 1]);
  assert.deepEqual(candidates(16), [16, 1, 2, 4, 8]);
  assert.deepEqual(candidates(6), [6, 1, 2, 4]);
});

test('2 threads: blocks of 2-thread and 1-thread steps alternate after a warm-up, then the faster is kept', () => {
  const { counts, kept } = calibrate(2, { 1: 0.02, 2: 0.01 });
  assert.equal(kept, 2);
  assert.equal(counts.length, 28);
  assert.deepEqual(counts.slice(0, 12), [...Array(8).fill(2), ...Array(4).fill(1)]);
  assert.equal(counts.filter((k) => k === 1).length, 12);
});

test('more threads that are not at least 10% faster per row than fewer are dropped (ties go to fewer)', () => {
  assert.equal(calibrate(2, { 1: 0.01, 2: 0.02 }).kept, 1);
  assert.equal(calibrate(2, { 1: 0.01, 2: 0.0095 }).kept, 1);
  assert.equal(calibrate(2, { 1: 0.01, 2: 0.0089 }).kept, 2);
});

test('16 threads: the count in between wins where it is fastest (the MLP measured on 16 cores)', () => {
  // samples/s 62k, 88k, 58k, -, 36k on 1, 2, 4, 16 threads (8 assumed between): ms per row = 1000 / samples/s.
  const { counts, kept } = calibrate(16, { 1: 1 / 62, 2: 1 / 88, 4: 1 / 58, 8: 1 / 45, 16: 1 / 36 });
  assert.equal(kept, 2);
  assert.equal(counts.length, 4 + 5 * 4 * 3);
  // LeNet-5 on the same cores: 11.7k, 21.9k, 31.6k, (33k), 35.2k: 16 is 11% faster than 4, 8 not 10% faster than 4.
  assert.equal(calibrate(16, { 1: 1 / 11.7, 2: 1 / 21.9, 4: 1 / 31.6, 8: 1 / 33, 16: 1 / 35.2 }).kept, 16);
});

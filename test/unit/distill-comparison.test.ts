// The distill report's side-by-side rows and gap closed: the share of the teacher–baseline gap the distilled student
// closed, and null where there is no gap (a teacher no better than the hard-label baseline).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Measure } from '../../src/jobs/kinds/compression-report.ts';
import { distillComparison } from '../../src/jobs/kinds/distill.ts';

const m = (accuracy: number, params = 100) =>
  ({ accuracy, split: 'test', params, nonzeroParams: params, sizeBytes: 4 * params, gzipBytes: 3 * params }) as unknown as Measure;

test('gap closed: (student − baseline) / (teacher − baseline), rows teacher, baseline, student', () => {
  const r = distillComparison(m(0.98, 1000), m(0.97), m(0.96));
  assert.ok(Math.abs(r.gapClosed! - 0.5) < 1e-12);
  assert.deepEqual(
    r.comparison.map((row) => [row.role, row.accuracy, row.params]),
    [
      ['teacher', 0.98, 1000],
      ['baseline', 0.96, 100],
      ['student', 0.97, 100],
    ],
  );
  assert.ok(distillComparison(m(0.98), m(0.95), m(0.96)).gapClosed! < 0, 'a student below its baseline closes a negative share');
});

test('gap closed is null without a baseline or when the teacher is not ahead of it', () => {
  assert.equal(distillComparison(m(0.98), m(0.97)).gapClosed, null);
  assert.equal(distillComparison(m(0.95), m(0.97), m(0.96)).gapClosed, null);
  assert.equal(distillComparison(m(0.96), m(0.97), m(0.96)).gapClosed, null);
  assert.deepEqual(
    distillComparison(m(0.98), m(0.97)).comparison.map((row) => row.role),
    ['teacher', 'student'],
  );
});

// The readable pipeline report: the original row from the first measured step's `before`, one row per step (a step
// without measures shows its model with nulls), totals original → final.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelineSummary } from '../../src/jobs/kinds/pipeline-summary.ts';

const m = (accuracy: number, sizeBytes: number, gzipBytes: number) => ({
  accuracy,
  split: 'test',
  params: 100,
  nonzeroParams: 50,
  sizeBytes,
  gzipBytes,
  latencyMs: { batch1: { p50: 1, p95: 1 }, batch256: { p50: 1, p95: 1 } },
});

test('pipeline summary: original → sensitivity (no measures) → prune → quantize, totals', () => {
  const s = pipelineSummary('orig', [
    { type: 'sensitivity', inputModelId: 'orig', modelId: null, report: { scan: {} } },
    { type: 'prune', inputModelId: 'orig', modelId: 'p', report: { before: m(0.98, 1000, 900), after: m(0.975, 1000, 300) } },
    { type: 'quantize', inputModelId: 'p', modelId: 'q', report: { before: m(0.975, 1000, 300), after: m(0.974, 260, 100) } },
  ]);
  assert.deepEqual(
    s.rows.map((r) => [r.step, r.type, r.modelId, r.accuracy, r.gzipBytes]),
    [
      [0, 'original', 'orig', 0.98, 900],
      [1, 'sensitivity', 'orig', null, null],
      [2, 'prune', 'p', 0.975, 300],
      [3, 'quantize', 'q', 0.974, 100],
    ],
  );
  assert.equal(s.totals.sizeRatio, 10);
  assert.equal(s.totals.gzipRatio, 9);
  assert.ok(Math.abs(s.totals.accuracyChangePp! - -0.6) < 1e-9);
});

test('pipeline summary: no measured step → nulls', () => {
  const s = pipelineSummary('orig', [{ type: 'evaluate', inputModelId: 'orig', modelId: null, report: { accuracy: 0.9 } }]);
  assert.deepEqual(s.totals, { sizeRatio: null, gzipRatio: null, accuracyChangePp: null });
  assert.equal(s.rows.length, 2);
});

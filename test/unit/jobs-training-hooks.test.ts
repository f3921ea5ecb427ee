// trainingHooks (src/jobs/kinds/support.ts): progress is an observing onBatch hook, and afterBatch exists only where a
// kind edits weights between batches — otherwise every job would keep training off the WebGPU program.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainingHooks } from '../../src/jobs/kinds/support.ts';
import type { JobContext } from '../../src/jobs/kind.ts';

function fakeContext(progress: number[]): JobContext {
  return {
    signal: new AbortController().signal,
    progress: (p: { fraction: number }) => void progress.push(p.fraction),
    metrics: () => {},
    log: () => {},
  } as unknown as JobContext;
}

test('progress comes from onBatch, and there is no afterBatch unless the kind passes one', () => {
  const progress: number[] = [];
  const hooks = trainingHooks(fakeContext(progress), { epochs: 1, stepsPerEpoch: 4, progressRange: [0, 0.5] });
  assert.ok(!('afterBatch' in hooks));
  for (let i = 0; i < 4; i++) hooks.onBatch!();
  assert.deepEqual(progress, [0.125, 0.25, 0.375, 0.5]);
});

test("a kind's afterBatch (pruning's masks) is passed through as the weight-editing hook", () => {
  let masked = 0;
  const hooks = trainingHooks(fakeContext([]), { epochs: 1, stepsPerEpoch: 2, afterBatch: () => void masked++ });
  hooks.afterBatch!(null as never);
  assert.equal(masked, 1);
});

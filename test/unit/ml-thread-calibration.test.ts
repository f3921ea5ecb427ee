import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadCalibration, type StepMode } from '../../src/ml/parallel/thread-calibration.ts';

/** Runs calibration steps where a row costs `parallel` / `local` ms; returns the modes it ran and what it kept. */
function calibrate(parallel: number, local: number): { modes: StepMode[]; kept: StepMode | null } {
  const c = new ThreadCalibration();
  const modes: StepMode[] = [];
  for (let i = 0; i < 40 && !c.decided; i++) {
    const mode = c.next();
    modes.push(mode);
    // An odd-sized batch (an epoch's last) is not counted.
    if (i === 10) c.record(mode, 1, 7, 128, false);
    c.record(mode, (mode === 'parallel' ? parallel : local) * 128, 128, 128, i > 0 && modes[i - 1] !== mode);
  }
  return { modes, kept: c.decided };
}

test('calibration alternates blocks of 1-thread and N-thread steps after a warm-up, then keeps the faster', () => {
  const { modes, kept } = calibrate(0.01, 0.02);
  assert.equal(kept, 'parallel');
  assert.equal(modes.length, 28);
  assert.deepEqual(modes.slice(0, 12), [...Array(8).fill('parallel'), ...Array(4).fill('local')]);
  assert.equal(modes.filter((m) => m === 'local').length, 12);
});

test('threads that are not at least 10% faster per row are dropped (ties go to one thread)', () => {
  assert.equal(calibrate(0.02, 0.01).kept, 'local');
  assert.equal(calibrate(0.0095, 0.01).kept, 'local');
  assert.equal(calibrate(0.0089, 0.01).kept, 'parallel');
});

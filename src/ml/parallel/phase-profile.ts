// Opt-in per-phase timing of data-parallel steps (MODELPRESS_PARALLEL_PROFILE=1; bench/train-parallel-profile.ts):
// wall time, and this thread's own CPU time and run-queue wait from /proc/thread-self/schedstat (Linux), so a
// loaded machine shows as wait rather than as slow code. Off, each mark is one branch.
import fs from 'node:fs';

export const PROFILE = process.env.MODELPRESS_PARALLEL_PROFILE === '1';

export interface PhaseTotals {
  [phase: string]: { wallMs: number; cpuMs: number; queueMs: number; count: number };
}

function schedstat(): [number, number] {
  try {
    const [run, wait] = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    return [0, 0];
  }
}

export class PhaseProfile {
  readonly totals: PhaseTotals = {};
  private wall = 0;
  private cpu = 0;
  private queue = 0;

  /** Starts timing (the time since the last mark or start is dropped). */
  start(): void {
    if (!PROFILE) return;
    this.wall = performance.now();
    [this.cpu, this.queue] = schedstat();
  }

  /** Adds the time since the last mark to `phase`. */
  mark(phase: string): void {
    if (!PROFILE) return;
    const wall = performance.now();
    const [cpu, queue] = schedstat();
    const t = (this.totals[phase] ??= { wallMs: 0, cpuMs: 0, queueMs: 0, count: 0 });
    t.wallMs += wall - this.wall;
    t.cpuMs += cpu - this.cpu;
    t.queueMs += queue - this.queue;
    t.count++;
    this.wall = wall;
    this.cpu = cpu;
    this.queue = queue;
  }
}

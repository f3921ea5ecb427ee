// Opt-in per-phase timing of data-parallel steps (MODELPRESS_PARALLEL_PROFILE=1; bench/train-parallel-profile.ts):
// wall time, this thread's own CPU time (CLOCK_THREAD_CPUTIME_ID through the native addon where it loaded; else
// /proc/thread-self/schedstat, which the kernel only updates at scheduler ticks: exact over many steps, smeared
// across sub-millisecond phases) and its run-queue wait (schedstat), so a loaded machine shows as wait rather than
// as slow code. Off, each mark is one branch.
import fs from 'node:fs';
import { nativeBlas } from '../kernels/native-blas.ts';

export const PROFILE = process.env.MODELPRESS_PARALLEL_PROFILE === '1';

export interface PhaseTotals {
  [phase: string]: { wallMs: number; cpuMs: number; queueMs: number; count: number };
}

// This thread's schedstat, opened once and re-read at offset 0 (one pread per mark: a readFileSync per mark cost
// ~30 µs, enough to skew sub-millisecond phases).
let statFd: number | null | undefined;
const statBuf = Buffer.alloc(128);

function schedstat(): [number, number] {
  if (statFd === null) return [0, 0];
  try {
    statFd ??= fs.openSync('/proc/thread-self/schedstat', 'r');
    const n = fs.readSync(statFd, statBuf, 0, statBuf.length, 0);
    const [run, wait] = statBuf.toString('latin1', 0, n).split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    statFd = null;
    return [0, 0];
  }
}

/** [thread CPU ms, run-queue wait ms]. */
function clocks(): [number, number] {
  const [run, wait] = schedstat();
  const blas = nativeBlas();
  return [blas ? blas.addon.threadCpuMs() : run, wait];
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
    [this.cpu, this.queue] = clocks();
  }

  /** Adds the time since the last mark to `phase`. */
  mark(phase: string): void {
    if (!PROFILE) return;
    const wall = performance.now();
    const [cpu, queue] = clocks();
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

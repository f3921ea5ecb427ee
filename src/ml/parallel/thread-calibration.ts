// How many data-parallel threads pay off for this training (MODELPRESS_TRAIN_THREADS left at its default): a step
// whose compute is small next to the per-step cost of the threads (staging rows, copying weights and gradients
// through shared memory, two synchronisations) is slower on N threads than on fewer. How small depends on the model,
// the batch, the machine and what else runs on it, so instead of a FLOP threshold the first steps are measured: blocks
// of steps cycle through 1, 2, 4, … and all N threads (cycling, so a neighbour's load hits each alike), and the
// training keeps the count with the lowest median time per row, a larger count only where it beats the best smaller
// one by MARGIN (it also costs more cores; a tie goes to fewer). Measured on 16 cores (README, issue 15):
// LeNet-300-100 at batch 128 ran 62k samples/s on 1 thread, 88k on 2 and 36k on 16, so "1 or all" alone would have
// kept 1. Decided once, on wall time.

/** Steps before measuring (replicas joining, JIT and heap warm-up). */
const WARMUP = 4;
/** Steps per block, and blocks per candidate. */
const BLOCK = 4;
const BLOCKS = 3;
/** How much faster (per row) more threads must be to be kept. */
const MARGIN = 1.1;

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The thread counts tried for `threads` threads: all of them, 1, then the powers of two between. */
export function candidates(threads: number): number[] {
  const out = [threads, 1];
  for (let k = 2; k < threads; k *= 2) out.push(k);
  return threads > 1 ? out : [1];
}

export class ThreadCalibration {
  private steps = 0;
  readonly candidates: number[];
  private readonly perRow = new Map<number, number[]>();
  /** The thread count kept once measured (null: still measuring). */
  decided: number | null = null;

  constructor(readonly threads: number) {
    this.candidates = candidates(threads);
    for (const c of this.candidates) this.perRow.set(c, []);
  }

  /** Threads for the coming step. */
  next(): number {
    if (this.decided) return this.decided;
    if (this.steps < WARMUP) return this.threads;
    return this.candidates[Math.floor((this.steps - WARMUP) / BLOCK) % this.candidates.length];
  }

  /**
   * A step on `threads` threads took `ms` for `rows` rows. Batches of another size (an epoch's last) are skipped; the
   * first step after a switch counts but is not a sample (it moves the optimizer's moments and the weights across).
   */
  record(threads: number, ms: number, rows: number, batchSize: number, switched: boolean): void {
    if (this.decided || rows !== batchSize) return;
    if (this.steps++ < WARMUP) return;
    if (!switched) this.perRow.get(threads)?.push(ms / rows);
    if (this.steps < WARMUP + this.candidates.length * BLOCK * BLOCKS) return;
    const m = this.medians();
    let best = 1;
    for (const k of [...this.candidates].sort((a, b) => a - b)) if (m[k] * MARGIN < m[best]) best = k;
    this.decided = best;
  }

  /** Median ms per row of each thread count so far (logs, tests). */
  medians(): Record<number, number> {
    return Object.fromEntries([...this.perRow].map(([k, v]) => [k, median(v)]));
  }
}

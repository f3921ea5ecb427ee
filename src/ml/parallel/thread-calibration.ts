// Whether data-parallel threads pay off for this training (MODELPRESS_TRAIN_THREADS left at its default): a step
// whose compute is small next to the per-step cost of the threads (staging rows, copying weights and gradients
// through shared memory, two synchronisations) is slower on N threads than on one. How small depends on the model,
// the batch, the machine and what else runs on it, so instead of a FLOP threshold the first steps are measured both
// ways: blocks of steps alternate between one thread and all of them (alternating, so a neighbour's load hits both
// alike), and the training keeps the threads only if their median time per row beats one thread's by MARGIN (they
// also cost a whole core more; a tie goes to one thread). Decided once, on wall time.

/** Steps before measuring (replicas joining, JIT and heap warm-up). */
const WARMUP = 4;
/** Steps per block, and blocks per mode. */
const BLOCK = 4;
const BLOCKS = 3;
/** How much faster (per row) the threads must be to be kept. */
const MARGIN = 1.1;

export type StepMode = 'parallel' | 'local';

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export class ThreadCalibration {
  private steps = 0;
  private readonly perRow: Record<StepMode, number[]> = { parallel: [], local: [] };
  /** The outcome once measured (null: still measuring). */
  decided: StepMode | null = null;

  /** How the coming step runs. */
  next(): StepMode {
    if (this.decided) return this.decided;
    if (this.steps < WARMUP) return 'parallel';
    return Math.floor((this.steps - WARMUP) / BLOCK) % 2 === 0 ? 'parallel' : 'local';
  }

  /**
   * A step run as `mode` took `ms` for `rows` rows. Batches of another size (an epoch's last) are skipped; the first
   * step after a switch counts but is not a sample (it moves the optimizer's moments and the weights across).
   */
  record(mode: StepMode, ms: number, rows: number, batchSize: number, switched: boolean): void {
    if (this.decided || rows !== batchSize) return;
    if (this.steps++ < WARMUP) return;
    if (!switched) this.perRow[mode].push(ms / rows);
    if (this.steps < WARMUP + 2 * BLOCK * BLOCKS) return;
    this.decided = median(this.perRow.parallel) * MARGIN < median(this.perRow.local) ? 'parallel' : 'local';
  }

  /** Median ms per row of each mode so far (logs, tests). */
  medians(): Record<StepMode, number> {
    return { parallel: median(this.perRow.parallel), local: median(this.perRow.local) };
  }
}

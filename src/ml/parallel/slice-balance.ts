// How a data-parallel step's batch is split between the leader and its replicas. Equal slices leave one thread
// waiting at the all-reduce barrier every step: the leader also stages the replicas' rows, publishes and loads the
// weights and runs the training loop between steps, and a replica wakes up later than the leader starts. So the
// leader's share adapts to what the barrier measures: whoever arrived early waited, its wait says by how much the
// other was late, and the leader's own time per row turns that into rows. Small, damped corrections (a descheduled
// thread on a loaded machine makes one step's wait meaningless) within [0.5, 1.5] × the equal share.

/** Rows of `n` in `parts` contiguous slices as equal as possible (the first ones one row longer). */
export function sliceSizes(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/** Fraction of a measured imbalance corrected per step. */
const GAIN = 0.3;
/** The most the leader's share moves in one step. */
const MAX_MOVE = 0.01;

export class SliceBalance {
  /** The leader's share of the batch (null: not measured yet; the equal share). */
  private share: number | null = null;
  private parts = 0;
  /** The leader's compute time per row (ms), smoothed. */
  private msPerRow = 0;
  /**
   * The barrier's imbalance (ms, > 0: the leader early), smoothed: one LeNet-5 step's compute varies by ~±1 ms
   * between the threads (measured: both waited ~1 ms per step on average), so single steps mostly say noise.
   */
  private lagMs = 0;

  /** The most rows one replica is given of a batch of `batchSize` over `threads` (its input slot's size). */
  static maxReplicaRows(batchSize: number, threads: number): number {
    return Math.min(batchSize, Math.ceil((1.5 * batchSize) / threads));
  }

  constructor(
    private readonly batchSize: number,
    private readonly threads: number,
  ) {}

  /** The leader's share now (for profiles). */
  leaderShare(parts: number): number {
    return parts === this.parts && this.share !== null ? this.share : 1 / parts;
  }

  /** Slice sizes of a batch of `n` rows over `parts` participants, the leader's first. */
  sizes(n: number, parts: number): number[] {
    if (parts !== this.parts) {
      this.parts = parts;
      this.share = null;
      this.lagMs = 0;
    }
    if (parts < 2 || this.share === null) return sliceSizes(n, parts);
    const maxReplica = Math.ceil((SliceBalance.maxReplicaRows(this.batchSize, this.threads) * n) / this.batchSize);
    const lo = Math.max(1, n - (parts - 1) * maxReplica, Math.ceil((0.5 * n) / parts));
    const hi = Math.min(n - (parts - 1), Math.floor((1.5 * n) / parts));
    const leader = Math.min(hi, Math.max(lo, Math.round(this.share * n)));
    return [leader, ...sliceSizes(n - leader, parts - 1)];
  }

  /**
   * One step's measurements: the leader's rows and compute time, how long it waited at the barrier, and how long
   * each replica waited there (0 for the last to arrive).
   */
  observe(leaderRows: number, busyMs: number, leaderWaitMs: number, replicaWaitMs: number[]): void {
    const parts = replicaWaitMs.length + 1;
    if (parts !== this.parts || leaderRows < 1 || !(busyMs > 0)) return;
    const perRow = busyMs / leaderRows;
    this.msPerRow = this.msPerRow > 0 ? 0.8 * this.msPerRow + 0.2 * perRow : perRow;
    const n = leaderRows / this.leaderShare(parts);
    // > 0: the leader was early (the replicas late): it takes more rows. Moving Δ rows to the leader shifts the gap
    // by Δ·(1 + 1/replicas) rows' time.
    const lag = leaderWaitMs - replicaWaitMs.reduce((a, b) => a + b, 0) / replicaWaitMs.length;
    this.lagMs = 0.8 * this.lagMs + 0.2 * lag;
    const rows = this.lagMs / (this.msPerRow * (1 + 1 / (parts - 1)));
    const move = Math.max(-MAX_MOVE, Math.min(MAX_MOVE, (GAIN * rows) / n));
    this.share = Math.max(0.5 / parts, Math.min(1.5 / parts, this.leaderShare(parts) + move));
  }
}

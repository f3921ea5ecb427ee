// The shared memory of one data-parallel training session (one SharedArrayBuffer: a shared WebAssembly.Memory's where
// available, so the shared Adam step runs wasm SIMD over it) and the synchronisation on it.
// Layout: an Int32 control block (command sequence, abort flag, a reusable barrier, a done counter, each slot's rank
// and rows), per-slot float64 statistics, the optimizer's hyper-parameters of this step, the model's weights (written
// by the leader before every step), one gradient slot per thread (each copies its slice's mean gradient there; the
// all-reduce sums them, weighted by each slice's share of the batch), with Adam the optimizer's moments (each thread
// updates its chunk of the weights in place from the summed gradient: the optimizer runs once, split across the
// threads; with two threads the sum is fused into the update, one pass), and per-thread input rows. Slot 0 is the
// leader (the thread that called trainModel).
// One step: the leader issues it; everybody computes its slice and meets at the barrier; each reduces (and updates)
// its chunk and counts itself done. Nobody waits for the others after that but to read the new weights: the leader
// loads them into its variables, a replica (with shared Adam) loads them for the next step right away, while the
// leader is still busy between steps, instead of after the next command (it reloads then only if the leader
// published other weights meanwhile: WEIGHTS_VERSION).
// Waiting spins briefly first (a step's threads arrive within tens of µs of each other when their slices are
// balanced, less than a futex wake-up costs), then blocks in Atomics.wait. The leader blocks too, but at most
// LEADER_BLOCK_MS at a time before it waits with Atomics.waitAsync, so its event loop still sees a replica thread's
// exit (a replica that throws aborts the session itself, which wakes every waiter at once).
import { adamSum2In, adamUpdateIn, type AdamUpdateAttrs } from '../kernels/adam-update.ts';

export const Command = { step: 1, end: 2 } as const;
export const Abort = { none: 0, leader: 1, replica: 2 } as const;

// Control block (Int32) indices; per-slot entries follow the fixed ones.
const SEQ = 0;
const CMD = 1;
const ABORT = 2;
const PARTIES = 3;
const BAR_COUNT = 4;
const BAR_GEN = 5;
/** Participants done with their chunk, counted over the session (never reset: see waitStepDone). */
const DONE = 6;
/** The value DONE reaches when every participant of the current step is done. */
const DONE_TARGET = 7;
/** Bumped by the leader whenever it writes weights into shared memory between steps (publishWeights). */
const WEIGHTS_VERSION = 8;
const FIXED = 12;

/** Per-slot float64 statistics: its slice's mean loss, correct count, and how long it waited at the barrier (ms). */
export const STAT = { loss: 0, correct: 1, barrierWaitMs: 2 } as const;
const STATS_PER_SLOT = 4;

/** How long a waiting thread spins before it blocks (ms). */
const SPIN_MS = 0.1;
/**
 * How long a replica spins for the next command: longer, as it covers the leader's work between steps (loading the
 * weights, the training loop, staging the rows: ~0.3-0.4 ms for LeNet-300-100), a futex wake-up on an idle core
 * costs tens of µs more, and the core is otherwise idle (one thread per core by default).
 */
const COMMAND_SPIN_MS = 0.5;
/** How long the leader blocks in one go before it lets its event loop run (ms). */
const LEADER_BLOCK_MS = 20;

export interface SessionShape {
  /** Leader + replicas: the number of slots. */
  threads: number;
  /** Float32 elements of all the model's weights, in model.weights order. */
  weightElements: number;
  /** Float32 elements of the trainable weights' gradients, in model.trainableWeights order. */
  gradElements: number;
  /** Float32 elements of one input row (x) and one target row (y). */
  xRow: number;
  yRow: number;
  /** The most rows a replica gets in one step (the leader sizes the slices: see leader.ts sliceSizes). */
  maxRows: number;
  /** Adam's moments live here and every thread updates its chunk of the weights (else the leader's optimizer steps). */
  sharedAdam: boolean;
}

/** Where each trainable variable sits in the weights (model.weights order) and in the gradients (trainable order). */
export interface TrainableLayout {
  /** Index into model.weights of each trainable variable, in model.trainableWeights order. */
  trainable: number[];
  weightOffsets: number[];
  gradOffsets: number[];
}

/** Adam's hyper-parameters slots in `optim`. */
const LR = 0;
const BETA1 = 1;
const BETA2 = 2;
const EPSILON = 3;
const CORRECTION1 = 4;
const CORRECTION2 = 5;
const OPTIM = 8;

const align = (n: number, to: number) => Math.ceil(n / to) * to;
// Atomics.waitAsync is in Node ≥ 16 but in TypeScript's lib only from es2024.
type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Views on a session's SharedArrayBuffer; built identically in every thread from the buffer and the shape. */
export class SharedState {
  readonly control: Int32Array;
  /** Per slot, STATS_PER_SLOT entries: see STAT. */
  readonly stats: Float64Array;
  /** This step's optimizer hyper-parameters (Adam: learning rate, betas, epsilon, bias corrections). */
  readonly optim: Float64Array;
  readonly weights: Float32Array;
  readonly grads: Float32Array[];
  /** Adam's first and second moments, in gradient order (empty unless shape.sharedAdam). */
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly inputsX: Float32Array[];
  readonly inputsY: Float32Array[];

  /** A session's memory: a shared WebAssembly.Memory where possible (the shared Adam step runs wasm SIMD over it). */
  static create(shape: SessionShape): SharedState {
    const bytes = SharedState.bytes(shape);
    let memory: WebAssembly.Memory | null;
    try {
      const pages = Math.ceil(bytes / 65536);
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    } catch {
      memory = null; // no shared wasm memory here: a plain SharedArrayBuffer, and Adam in JS
    }
    return new SharedState(memory ? (memory.buffer as unknown as SharedArrayBuffer) : new SharedArrayBuffer(bytes), shape, memory);
  }

  static bytes(s: SessionShape): number {
    const control = align(4 * (FIXED + 2 * s.threads), 64);
    const stats = align(8 * STATS_PER_SLOT * s.threads, 64);
    const optim = align(8 * OPTIM, 64);
    const weights = align(4 * s.weightElements, 64);
    const grads = s.threads * align(4 * s.gradElements, 64);
    const moments = s.sharedAdam ? 2 * align(4 * s.gradElements, 64) : 0;
    const inputs = s.threads * (align(4 * s.maxRows * s.xRow, 64) + align(4 * s.maxRows * s.yRow, 64));
    return control + stats + optim + weights + grads + moments + inputs;
  }

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly shape: SessionShape,
    /** The shared WebAssembly.Memory whose buffer `buffer` is (null: a plain SharedArrayBuffer). */
    readonly memory: WebAssembly.Memory | null = null,
  ) {
    let offset = 0;
    const take = (bytes: number) => {
      const at = offset;
      offset += align(bytes, 64);
      return at;
    };
    const t = shape.threads;
    this.control = new Int32Array(buffer, take(4 * (FIXED + 2 * t)), FIXED + 2 * t);
    this.stats = new Float64Array(buffer, take(8 * STATS_PER_SLOT * t), STATS_PER_SLOT * t);
    this.optim = new Float64Array(buffer, take(8 * OPTIM), OPTIM);
    this.weights = new Float32Array(buffer, take(4 * shape.weightElements), shape.weightElements);
    this.grads = Array.from({ length: t }, () => new Float32Array(buffer, take(4 * shape.gradElements), shape.gradElements));
    const moments = shape.sharedAdam ? shape.gradElements : 0;
    this.m = new Float32Array(buffer, take(4 * moments), moments);
    this.v = new Float32Array(buffer, take(4 * moments), moments);
    this.inputsX = Array.from({ length: t }, () => new Float32Array(buffer, take(4 * shape.maxRows * shape.xRow), shape.maxRows * shape.xRow));
    this.inputsY = Array.from({ length: t }, () => new Float32Array(buffer, take(4 * shape.maxRows * shape.yRow), shape.maxRows * shape.yRow));
  }

  // Per-slot control entries: the slot's rank among this step's participants (-1: sits it out) and its rows.
  rank(slot: number): number {
    return Atomics.load(this.control, FIXED + 2 * slot);
  }
  rows(slot: number): number {
    return Atomics.load(this.control, FIXED + 2 * slot + 1);
  }
  parties(): number {
    return Atomics.load(this.control, PARTIES);
  }
  command(): number {
    return Atomics.load(this.control, CMD);
  }
  sequence(): number {
    return Atomics.load(this.control, SEQ);
  }
  aborted(): number {
    return Atomics.load(this.control, ABORT);
  }

  /** Leader: publishes the next command with each slot's rank and rows (rank -1 for slots that sit it out). */
  issue(command: number, assignments: { rank: number; rows: number }[]): void {
    assignments.forEach((a, slot) => {
      Atomics.store(this.control, FIXED + 2 * slot, a.rank);
      Atomics.store(this.control, FIXED + 2 * slot + 1, a.rows);
    });
    Atomics.store(this.control, PARTIES, assignments.filter((a) => a.rank >= 0).length);
    Atomics.store(this.control, CMD, command);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
  }

  /** A slot's statistic (see STAT). */
  stat(slot: number, which: number): number {
    return this.stats[STATS_PER_SLOT * slot + which];
  }
  setStat(slot: number, which: number, value: number): void {
    this.stats[STATS_PER_SLOT * slot + which] = value;
  }

  /** Spins up to `ms` while control[index] is `value` (and the session runs); true once it changed. */
  private spin(index: number, value: number, ms = SPIN_MS): boolean {
    const end = performance.now() + ms;
    do {
      for (let k = 0; k < 64; k++) if (Atomics.load(this.control, index) !== value) return true;
      if (this.aborted()) return true;
    } while (performance.now() < end);
    return false;
  }

  /** Replica: blocks until the leader issues a command after `seen` (or the session is aborted). */
  waitCommand(seen: number): number {
    if (!this.spin(SEQ, seen, COMMAND_SPIN_MS)) {
      while (Atomics.load(this.control, SEQ) === seen && !this.aborted()) Atomics.wait(this.control, SEQ, seen, 1000);
    }
    return Atomics.load(this.control, SEQ);
  }

  /** Arrives at the barrier; returns the generation to wait on, or null when this arrival released it. */
  private arrive(): number | null {
    const gen = Atomics.load(this.control, BAR_GEN);
    if (Atomics.add(this.control, BAR_COUNT, 1) === this.parties() - 1) {
      Atomics.store(this.control, BAR_COUNT, 0);
      Atomics.add(this.control, BAR_GEN, 1);
      Atomics.notify(this.control, BAR_GEN);
      return null;
    }
    return gen;
  }

  /** Replica side of the barrier (blocking); returns the ms it waited. Throws when the session was aborted meanwhile. */
  barrier(): number {
    const started = performance.now();
    const gen = this.arrive();
    if (gen === null) return 0;
    if (!this.spin(BAR_GEN, gen)) {
      while (Atomics.load(this.control, BAR_GEN) === gen) {
        if (this.aborted()) throw new SessionAborted();
        Atomics.wait(this.control, BAR_GEN, gen, 1000);
      }
    }
    if (this.aborted()) throw new SessionAborted();
    return performance.now() - started;
  }

  /** Leader side of the barrier (see leaderWait); resolves with the ms it waited. Throws when the session was aborted. */
  async leaderBarrier(): Promise<number> {
    const started = performance.now();
    const gen = this.arrive();
    if (gen !== null) await this.leaderWait(BAR_GEN, () => Atomics.load(this.control, BAR_GEN) !== gen);
    if (this.aborted()) throw new SessionAborted();
    return performance.now() - started;
  }

  /** Leader: the done count this step ends at (before issuing it: every participant counts once). */
  expectDone(parties: number): void {
    Atomics.store(this.control, DONE_TARGET, Atomics.load(this.control, DONE_TARGET) + parties);
  }

  /** Done with this thread's chunk of this step. */
  markDone(): void {
    Atomics.add(this.control, DONE, 1);
    Atomics.notify(this.control, DONE);
  }

  /** The done count the step being run ends at (read after its command: the leader raises it before issuing). */
  doneTarget(): number {
    return Atomics.load(this.control, DONE_TARGET);
  }

  private doneBy(target: number): boolean {
    return Atomics.load(this.control, DONE) >= target;
  }

  /** Leader: waits until every participant marked this step done. Throws when the session was aborted. */
  async leaderWaitDone(): Promise<void> {
    const target = this.doneTarget();
    await this.leaderWait(DONE, () => this.doneBy(target));
    if (this.aborted()) throw new SessionAborted();
  }

  /**
   * Replica: blocks until the done count reaches `target` (doneTarget() of its step): the leader counts itself in
   * right after its own chunk, so this ends within the step. The target is the step's own, read when it began: the
   * leader may already have raised DONE_TARGET for the next step by the time this thread looks.
   */
  waitStepDone(target: number): void {
    if (this.doneBy(target) || (this.spin(DONE, Atomics.load(this.control, DONE)) && this.doneBy(target))) return;
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done >= target || this.aborted()) return;
      Atomics.wait(this.control, DONE, done, 1000);
    }
  }

  /** Leader: the weights in shared memory changed between steps (see WEIGHTS_VERSION). */
  weightsWritten(): void {
    Atomics.add(this.control, WEIGHTS_VERSION, 1);
  }
  weightsVersion(): number {
    return Atomics.load(this.control, WEIGHTS_VERSION);
  }

  /**
   * The leader's wait until `released()`: a spin, then Atomics.wait in this thread for up to LEADER_BLOCK_MS (the
   * wake-up of Atomics.waitAsync goes through the event loop: tens of µs per step), then Atomics.waitAsync, so a
   * replica's exit (an event-loop event) is still seen. Returns early once the session is aborted.
   */
  private async leaderWait(index: number, released: () => boolean): Promise<void> {
    const c = this.control;
    if (released() || (this.spin(index, Atomics.load(c, index)) && (released() || this.aborted()))) return;
    const end = performance.now() + LEADER_BLOCK_MS;
    while (!released() && !this.aborted()) {
      const left = end - performance.now();
      if (left <= 0) break;
      Atomics.wait(c, index, Atomics.load(c, index), left);
    }
    while (!released() && !this.aborted()) {
      const r = waitAsync(c, index, Atomics.load(c, index), 1000);
      if (r.async) await r.value;
    }
  }

  /** Stops the session: wakes every waiter (they see the abort flag). */
  abort(reason: number): void {
    Atomics.compareExchange(this.control, ABORT, Abort.none, reason);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    Atomics.add(this.control, BAR_GEN, 1);
    Atomics.notify(this.control, BAR_GEN);
    Atomics.add(this.control, DONE, 1 << 20);
    Atomics.notify(this.control, DONE);
  }

  /** Leader: Adam's hyper-parameters for the coming step (read by every thread's updateChunk). */
  setAdam(a: AdamUpdateAttrs): void {
    this.optim[LR] = a.learningRate;
    this.optim[BETA1] = a.beta1;
    this.optim[BETA2] = a.beta2;
    this.optim[EPSILON] = a.epsilon;
    this.optim[CORRECTION1] = a.correction1;
    this.optim[CORRECTION2] = a.correction2;
  }

  /** Participant `rank`'s chunk [from, to) of the gradient elements (16-aligned; every element in exactly one chunk). */
  chunk(rank: number, parties: number): [number, number] {
    const n = this.shape.gradElements;
    const size = align(Math.ceil(n / parties), 16);
    const from = Math.min(n, rank * size);
    return [from, Math.min(n, from + size)];
  }

  /**
   * Participant `rank`'s part of the all-reduce and, with shared Adam, of the optimizer step on that chunk. Two
   * participants with Adam: one fused pass (adamSum2In) that reads both gradient slots; else reduceChunk, then
   * updateChunk.
   */
  reduceAndUpdate(rank: number, slots: number[], layout: TrainableLayout): void {
    if (this.shape.sharedAdam && slots.length === 2) return this.updateChunk(rank, slots, layout);
    this.reduceChunk(rank, slots);
    if (this.shape.sharedAdam) this.updateChunk(rank, [slots[0]], layout);
  }

  /**
   * The all-reduce's share of participant `rank`: the batch's mean gradient over its chunk, into slot 0: the sum of
   * the participating slots' slice means, each weighted by its slice's share of the batch's rows (each element
   * belongs to exactly one chunk, so the in-place sum needs no locking).
   */
  reduceChunk(rank: number, slots: number[]): void {
    const [from, to] = this.chunk(rank, slots.length);
    let total = 0;
    for (const slot of slots) total += this.rows(slot);
    // slots[0] is slot 0 (the leader takes part in every step, as rank 0): the sum lands in its own gradient.
    const target = this.grads[0];
    const scale0 = this.rows(0) / total;
    if (slots.length === 2) {
      // The common case in one pass: g0·s0 + g1·s1.
      const source = this.grads[slots[1]];
      const scale1 = this.rows(slots[1]) / total;
      for (let i = from; i < to; i++) target[i] = target[i] * scale0 + source[i] * scale1;
      return;
    }
    for (let i = from; i < to; i++) target[i] *= scale0;
    for (let k = 1; k < slots.length; k++) {
      const source = this.grads[slots[k]];
      const scale = this.rows(slots[k]) / total;
      for (let i = from; i < to; i++) target[i] += source[i] * scale;
    }
  }

  /**
   * Shared Adam: one Adam step on participant `rank`'s chunk of the weights (in place, in `weights`) with the moments,
   * from the gradient: slot 0 once reduceChunk summed this chunk there, or (`sources` two slots) the weighted sum of
   * both slots, computed in the same pass. The chunk is the one this participant reduces: no barrier between the two.
   */
  private updateChunk(rank: number, sources: number[], layout: TrainableLayout): void {
    const parties = this.parties();
    const [from, to] = this.chunk(rank, parties);
    const o = this.optim;
    const attrs: AdamUpdateAttrs = {
      learningRate: o[LR],
      beta1: o[BETA1],
      beta2: o[BETA2],
      epsilon: o[EPSILON],
      correction1: o[CORRECTION1],
      correction2: o[CORRECTION2],
    };
    let total = 0;
    for (let s = 0; s < this.shape.threads; s++) if (this.rank(s) >= 0) total += this.rows(s);
    const scales: [number, number] = [this.rows(sources[0]) / total, sources.length > 1 ? this.rows(sources[1]) / total : 0];
    const { trainable, weightOffsets, gradOffsets } = layout;
    const g0 = this.grads[sources[0]];
    const g1 = this.grads[sources[sources.length - 1]];
    for (let j = 0; j < trainable.length; j++) {
      const start = Math.max(from, gradOffsets[j]);
      const end = Math.min(to, gradOffsets[j + 1]);
      if (start >= end) continue;
      const w0 = weightOffsets[trainable[j]] + (start - gradOffsets[j]);
      const w = this.weights.subarray(w0, w0 + (end - start));
      const m = this.m.subarray(start, end);
      const v = this.v.subarray(start, end);
      if (sources.length === 1) adamUpdateIn(this.memory, w, m, v, g0.subarray(start, end), [w, m, v], attrs);
      else adamSum2In(this.memory, w, m, v, [g0.subarray(start, end), g1.subarray(start, end)], scales, [w, m, v], attrs);
    }
  }

  /** The slots taking part in the current step, in rank order. */
  participants(): number[] {
    const slots: number[] = [];
    for (let s = 0; s < this.shape.threads; s++) {
      const r = this.rank(s);
      if (r >= 0) slots[r] = s;
    }
    return slots;
  }
}

/** Thrown in a waiting thread when the session was aborted (by the leader, or after a replica failed). */
export class SessionAborted extends Error {
  constructor() {
    super('training session aborted');
  }
}

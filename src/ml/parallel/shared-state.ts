// The shared memory of one data-parallel training session (one SharedArrayBuffer: a shared WebAssembly.Memory's where
// available, so the shared Adam step runs wasm SIMD over it) and the synchronisation on it.
// Layout: an Int32 control block (command sequence, abort flag, a reusable barrier, each slot's rank and rows),
// per-slot float64 statistics, the optimizer's hyper-parameters of this step, the model's weights (written by the
// leader before every step), one gradient slot per thread (each copies its slice's mean gradient there; the
// all-reduce sums them, weighted by each slice's share of the batch, into slot 0), with Adam the optimizer's moments
// (each thread updates its chunk of the weights in place right after reducing it: the optimizer runs once, split
// across the threads), and per-thread input rows. Slot 0 is the leader (the thread that called trainModel).
// Replicas block in Atomics.wait; the leader waits with Atomics.waitAsync so its event loop keeps running.
import { adamUpdateIn, type AdamUpdateAttrs } from '../kernels/adam-update.ts';

export const Command = { step: 1, end: 2 } as const;
export const Abort = { none: 0, leader: 1, replica: 2 } as const;

// Control block (Int32) indices; per-slot entries follow the fixed ones.
const SEQ = 0;
const CMD = 1;
const ABORT = 2;
const PARTIES = 3;
const BAR_COUNT = 4;
const BAR_GEN = 5;
const FIXED = 8;

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
  /** The most rows any thread gets in one step (ceil(batchSize / threads)). */
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
  /** Per slot: [mean loss of its slice, correct predictions]. */
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
    const stats = align(8 * 2 * s.threads, 64);
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
    this.stats = new Float64Array(buffer, take(8 * 2 * t), 2 * t);
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

  /** Replica: blocks until the leader issues a command after `seen` (or the session is aborted). */
  waitCommand(seen: number): number {
    while (Atomics.load(this.control, SEQ) === seen && !this.aborted()) Atomics.wait(this.control, SEQ, seen, 1000);
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

  /** Replica side of the barrier (blocking). Throws when the session was aborted meanwhile. */
  barrier(): void {
    const gen = this.arrive();
    if (gen === null) return;
    while (Atomics.load(this.control, BAR_GEN) === gen) {
      if (this.aborted()) throw new SessionAborted();
      Atomics.wait(this.control, BAR_GEN, gen, 1000);
    }
  }

  /** Leader side of the barrier: waits without blocking its event loop. Throws when the session was aborted. */
  async barrierAsync(): Promise<void> {
    const gen = this.arrive();
    if (gen === null) return;
    while (Atomics.load(this.control, BAR_GEN) === gen) {
      if (this.aborted()) throw new SessionAborted();
      const r = waitAsync(this.control, BAR_GEN, gen, 1000);
      if (r.async) await r.value;
    }
    if (this.aborted()) throw new SessionAborted();
  }

  /** Stops the session: wakes every waiter (they see the abort flag). */
  abort(reason: number): void {
    Atomics.compareExchange(this.control, ABORT, Abort.none, reason);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    Atomics.add(this.control, BAR_GEN, 1);
    Atomics.notify(this.control, BAR_GEN);
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
   * Shared Adam: one Adam step on participant `rank`'s chunk of the weights (in place, in `weights`), from the
   * reduced gradient in slot 0 and the moments: the chunk reduceChunk just summed, so no barrier between the two.
   */
  updateChunk(rank: number, parties: number, layout: TrainableLayout): void {
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
    const { trainable, weightOffsets, gradOffsets } = layout;
    const g = this.grads[0];
    for (let j = 0; j < trainable.length; j++) {
      const start = Math.max(from, gradOffsets[j]);
      const end = Math.min(to, gradOffsets[j + 1]);
      if (start >= end) continue;
      const w0 = weightOffsets[trainable[j]] + (start - gradOffsets[j]);
      const w = this.weights.subarray(w0, w0 + (end - start));
      const m = this.m.subarray(start, end);
      const v = this.v.subarray(start, end);
      adamUpdateIn(this.memory, w, m, v, g.subarray(start, end), [w, m, v], attrs);
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

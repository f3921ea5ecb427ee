// The leader of a data-parallel training (the thread that called trainModel): slot 0 of the session. Each step
// it publishes the current weights (so whatever afterBatch or the caller did to them between steps reaches every
// replica, and all copies are identical), hands each participating replica its rows of the batch, computes its
// own slice, takes part in the all-reduce, and applies the averaged gradient with the one optimizer. Replicas
// join when their thread is up: a step with none runs as a plain single-thread step. Hooks and the optimizer stay
// in this thread only.
import { takeRows } from '../dataset.ts';
import { countCorrect, hostFloats } from '../host-data.ts';
import type { LossFactoryRef } from '../loss.ts';
import { tf } from '../tf.ts';
import { batchGradients, flatOffsets, LocalStepper, writeScaledGradients, type StepInputs, type StepOutcome, type Stepper } from '../train-step.ts';
import type { ReplicaMessage, SessionMessage } from './messages.ts';
import { leaseReplicas, releaseReplicas, type ReplicaThread } from './pool.ts';
import { Abort, Command, SessionAborted, SharedState } from './shared-state.ts';

export interface ParallelOptions {
  threads: number;
  batchSize: number;
  /** How replicas rebuild the loss; null: cross-entropy against the model's head (as the leader's lossFn). */
  loss: LossFactoryRef | null;
  /** Modules a replica imports before building the model (custom layers). */
  modules?: string[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let sessions = 0;

/** Splits `n` rows into `parts` contiguous slices as equal as possible (the first ones one row longer). */
export function sliceSizes(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

export class ParallelStepper implements Stepper {
  readonly threads: number;
  private readonly local: LocalStepper;
  private readonly state: SharedState;
  private readonly weights: tf.Tensor[];
  private readonly weightOffsets: number[];
  private readonly gradOffsets: number[];
  private readonly xRow: number;
  private readonly yRow: number;
  private readonly replicas: ReplicaThread[];
  private readonly joined = new Set<number>();
  /** Per joined slot: resolves when its replica left the session loop. */
  private readonly ended = new Map<number, Promise<void>>();
  private readonly detach: (() => void)[] = [];
  private failure: Error | null = null;
  private closed = false;
  /** The most threads that took part in one step. */
  maxParticipants = 1;

  /** Leases the replicas and sends them the session; waits for those whose thread is already up to join. */
  static async start(inputs: StepInputs, opts: ParallelOptions): Promise<ParallelStepper> {
    const stepper = new ParallelStepper(inputs, opts);
    try {
      await stepper.joinStarted();
    } catch (e) {
      await stepper.close();
      throw e;
    }
    return stepper;
  }

  private constructor(
    private readonly s: StepInputs,
    opts: ParallelOptions,
  ) {
    const { model, data, vars } = s;
    this.threads = opts.threads;
    this.local = new LocalStepper(s);
    this.weights = model.weights.map((w) => w.read());
    const trainable = vars.map((v) => this.weights.indexOf(v));
    if (trainable.some((i) => i < 0)) throw new Error('a trainable variable is not among the model weights');
    this.weightOffsets = flatOffsets(this.weights.map((w) => w.size));
    this.gradOffsets = flatOffsets(vars.map((v) => v.size));
    this.xRow = size(data.x.shape.slice(1));
    this.yRow = size(data.y.shape.slice(1));
    this.state = SharedState.create({
      threads: opts.threads,
      weightElements: this.weightOffsets[this.weightOffsets.length - 1],
      gradElements: this.gradOffsets[this.gradOffsets.length - 1],
      xRow: this.xRow,
      yRow: this.yRow,
      maxRows: Math.ceil(opts.batchSize / opts.threads),
    });
    const session: Omit<SessionMessage, 'slot'> = {
      type: 'session',
      session: ++sessions,
      buffer: this.state.buffer,
      shape: this.state.shape,
      topology: model.toJSON(null, false),
      weightShapes: this.weights.map((w) => w.shape),
      trainable,
      xShape: data.x.shape.slice(1),
      loss: opts.loss,
      modules: opts.modules ?? [],
    };
    this.replicas = leaseReplicas(opts.threads - 1);
    this.replicas.forEach((r, i) => this.attach(r, i + 1, { ...session, slot: i + 1 }));
  }

  /**
   * Sends the session to a replica and follows it: it joins on 'ready'; an error or its thread's exit fails the
   * training (a replica that never joined changed nothing, but its failure would hide a bug or a broken setup).
   */
  private attach(r: ReplicaThread, slot: number, session: SessionMessage): void {
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
    const onMessage = (m: ReplicaMessage) => {
      if (!('session' in m) || m.session !== session.session) return;
      if (m.type === 'ready') {
        this.joined.add(slot);
        this.ended.set(slot, ended);
      } else if (m.type === 'error') this.fail(new Error(`training replica ${slot} failed: ${m.message}`));
      else resolveEnded();
    };
    const onExit = (code: number) => {
      this.fail(new Error(`training replica ${slot} exited (code ${code})`));
      resolveEnded();
    };
    r.worker.on('message', onMessage);
    r.worker.once('exit', onExit);
    this.detach.push(() => {
      r.worker.off('message', onMessage);
      r.worker.off('exit', onExit);
    });
    r.worker.postMessage(session);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.state.abort(Abort.replica);
  }

  /** Waits (briefly: they only build the model) for replicas whose thread is already running to join. */
  private async joinStarted(): Promise<void> {
    const started = this.replicas.map((r, i) => ({ r, slot: i + 1 })).filter(({ r }) => r.isStarted());
    const deadline = Date.now() + 30_000;
    while (!this.failure && started.some(({ slot }) => !this.joined.has(slot)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (this.failure) throw this.failure;
  }

  async step(rows: Int32Array): Promise<StepOutcome> {
    if (this.failure) throw this.failure;
    const active = [0, ...[...this.joined].sort((a, b) => a - b)];
    if (active.length === 1) return this.local.step(rows);
    this.maxParticipants = Math.max(this.maxParticipants, active.length);
    const { state } = this;
    const sizes = sliceSizes(rows.length, active.length);
    const starts = flatOffsets(sizes);
    this.publishWeights();
    active.forEach((slot, rank) => {
      if (slot !== 0) this.stageRows(slot, rows.subarray(starts[rank], starts[rank + 1]));
    });
    state.issue(
      Command.step,
      Array.from({ length: this.threads }, (_, slot) => {
        const rank = active.indexOf(slot);
        return { rank, rows: rank < 0 ? 0 : sizes[rank] };
      }),
    );
    this.ownSlice(rows.subarray(0, sizes[0]), sizes[0] / rows.length);
    try {
      await state.barrierAsync();
      state.reduceChunk(0, active);
      await state.barrierAsync();
    } catch (e) {
      const failure = this.failure;
      throw e instanceof SessionAborted && failure ? failure : e;
    }
    let loss = 0;
    let correct = 0;
    active.forEach((slot, rank) => {
      loss += (state.stats[2 * slot] * sizes[rank]) / rows.length;
      correct += state.stats[2 * slot + 1];
    });
    this.applyGradients();
    return { loss, correct, rows: rows.length };
  }

  /** All weights into shared memory (views on the wasm heap: no tensor is allocated meanwhile). */
  private publishWeights(): void {
    this.weights.forEach((w, i) => this.state.weights.set(hostFloats(w), this.weightOffsets[i]));
  }

  private stageRows(slot: number, rows: Int32Array): void {
    const { xRow, yRow } = this;
    const x = hostFloats(this.s.data.x);
    const y = hostFloats(this.s.data.y);
    const xOut = this.state.inputsX[slot];
    const yOut = this.state.inputsY[slot];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      xOut.set(x.subarray(r * xRow, (r + 1) * xRow), i * xRow);
      yOut.set(y.subarray(r * yRow, (r + 1) * yRow), i * yRow);
    }
  }

  /** The leader's own slice: gradients (× its share of the batch) into slot 0, its loss and correct count. */
  private ownSlice(rows: Int32Array, share: number): void {
    const { model, data, lossFn, vars } = this.s;
    const x = takeRows(data.x, rows);
    const y = takeRows(data.y, rows);
    const step = batchGradients(model, vars, lossFn, x, y);
    try {
      writeScaledGradients(step.grads, this.state.grads[0], this.gradOffsets, share);
      this.state.stats[0] = step.loss.dataSync()[0];
      this.state.stats[1] = countCorrect(hostFloats(step.pred), hostFloats(y), rows.length, step.pred.shape[1]!, this.yRow);
    } finally {
      tf.dispose([x, y, step.loss, step.pred, ...step.grads.filter((g): g is tf.Tensor => g !== null)]);
    }
  }

  /** The reduced gradient (slot 0) through the optimizer. */
  private applyGradients(): void {
    const sum = this.state.grads[0];
    const grads = this.s.vars.map((v, i) => ({
      name: v.name,
      tensor: tf.tensor(sum.subarray(this.gradOffsets[i], this.gradOffsets[i + 1]), v.shape, 'float32'),
    }));
    try {
      this.s.optimizer.applyGradients(grads);
    } finally {
      tf.dispose(grads.map((g) => g.tensor));
    }
  }

  /**
   * Ends the session: joined replicas leave their loop (awaited, so the next session finds them free); the
   * others see the end as soon as their session message arrives. All go back to the pool.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.failure) this.state.abort(Abort.leader);
    else this.state.issue(Command.end, []);
    await Promise.all(this.ended.values());
    for (const d of this.detach) d();
    releaseReplicas(this.replicas);
  }
}

// The leader of a data-parallel training (the thread that called trainModel): slot 0 of the session. Each step
// it publishes the current weights (so whatever afterBatch or the caller did to them between steps reaches every
// replica, and all copies are identical), hands each participant its rows of the batch (slices sized so that all
// reach the barrier together: slice-balance.ts), computes its own slice and takes part in the all-reduce. With Adam (the default optimizer) every participant then updates its chunk of the
// shared weights with the shared moments, and the leader loads the new weights into its variables: the optimizer
// runs once per step, split across the threads. With another optimizer the leader applies the reduced gradient.
// Replicas join when their thread is up: a step with none runs as a plain single-thread step (the Adam moments move
// between the optimizer and shared memory when that changes, and back at the end). Hooks stay in this thread.
import { FusedAdamOptimizer } from '../fused-adam.ts';
import type { AdamUpdateAttrs } from '../kernels/adam-update.ts';
import { takeRows } from '../dataset.ts';
import { hostFloats } from '../host-data.ts';
import type { LossFactoryRef } from '../loss.ts';
import { tf } from '../tf.ts';
import { flatOffsets, LocalStepper, sliceIntoBuffer, type StepInputs, type StepOutcome, type Stepper } from '../train-step.ts';
import type { ReplicaMessage, SessionMessage } from './messages.ts';
import { leaseReplicas, releaseReplicas, type ReplicaThread } from './pool.ts';
import { PhaseProfile, type PhaseTotals } from './phase-profile.ts';
import { Abort, Command, SessionAborted, SharedState, STAT, type TrainableLayout } from './shared-state.ts';
import { SliceBalance } from './slice-balance.ts';
import { ThreadCalibration } from './thread-calibration.ts';
import { inPlaceWeightsSafe, loadVariable } from './weight-load.ts';

export interface ParallelOptions {
  threads: number;
  batchSize: number;
  /** How replicas rebuild the loss; null: cross-entropy against the model's head (as the leader's lossFn). */
  loss: LossFactoryRef | null;
  /** Modules a replica imports before building the model (custom layers). */
  modules?: string[];
  /** Measure the first steps on one thread and on all, and keep the faster (thread-calibration.ts). */
  calibrate?: boolean;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let sessions = 0;

type MomentSlot = { originalName: string; variable: tf.Variable };

/** tfjs AdamOptimizer's moment slots (private in its typings, not at run time), per variable in step order. */
function moments(adam: FusedAdamOptimizer): { m: MomentSlot[]; v: MomentSlot[] } {
  const self = adam as unknown as { accumulatedFirstMoment: MomentSlot[]; accumulatedSecondMoment: MomentSlot[] };
  return { m: self.accumulatedFirstMoment, v: self.accumulatedSecondMoment };
}

/** The coming step's Adam hyper-parameters, as FusedAdamOptimizer.applyGradients computes them. */
function adamAttrs(adam: FusedAdamOptimizer): AdamUpdateAttrs {
  const t = adam.iterations + 1;
  const a = adam as unknown as { learningRate: number; beta1: number; beta2: number; epsilon: number };
  return {
    learningRate: a.learningRate,
    beta1: a.beta1,
    beta2: a.beta2,
    epsilon: a.epsilon,
    correction1: 1 - Math.pow(a.beta1, t),
    correction2: 1 - Math.pow(a.beta2, t),
  };
}

export class ParallelStepper implements Stepper {
  readonly threads: number;
  private readonly local: LocalStepper;
  private readonly state: SharedState;
  private readonly weights: tf.Tensor[];
  /** Per weight: the dataId whose values shared memory holds (see publishWeights). */
  private readonly inShared: (object | null)[];
  private readonly weightOffsets: number[];
  private readonly gradOffsets: number[];
  private readonly layout: TrainableLayout;
  /** Adam whose moments move into shared memory (null: the leader's optimizer steps with the reduced gradient). */
  private readonly adam: FusedAdamOptimizer | null;
  /** Where Adam's moments are now: in the optimizer's variables, or in shared memory (parallel steps). */
  private momentsShared = false;
  private readonly batchSize: number;
  /** Weights load into the variables' own buffers (weight-load.ts). */
  private readonly inPlace: boolean;
  private readonly xRow: number;
  private readonly yRow: number;
  private readonly replicas: ReplicaThread[];
  private readonly joined = new Set<number>();
  /** Per joined slot: resolves when its replica left the session loop. */
  private readonly ended = new Map<number, Promise<void>>();
  private readonly detach: (() => void)[] = [];
  private failure: Error | null = null;
  private closed = false;
  /** Sizes the slices so that the threads reach the barrier together. */
  private readonly balance: SliceBalance;
  /** The most threads that took part in one step. */
  maxParticipants = 1;
  /** Whether the threads pay off (opts.calibrate), else null: every step uses all joined threads. */
  readonly calibration: ThreadCalibration | null;
  private lastMode: number | null = null;
  /** Per-phase step times of the leader (slot 0) and of each replica (MODELPRESS_PARALLEL_PROFILE=1). */
  readonly profile = new PhaseProfile();
  readonly replicaProfiles = new Map<number, PhaseTotals>();

  /** The leader's share of a batch now (profiles). */
  leaderShare(): number {
    return this.balance.leaderShare(this.maxParticipants);
  }

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
    this.inShared = this.weights.map(() => null);
    const trainable = vars.map((v) => this.weights.indexOf(v));
    if (trainable.some((i) => i < 0)) throw new Error('a trainable variable is not among the model weights');
    this.weightOffsets = flatOffsets(this.weights.map((w) => w.size));
    this.gradOffsets = flatOffsets(vars.map((v) => v.size));
    this.layout = { trainable, weightOffsets: this.weightOffsets, gradOffsets: this.gradOffsets };
    // Not instanceof: tfjs optimizers answer it by duck typing (a MomentumOptimizer "is" a FusedAdamOptimizer).
    this.adam = Object.prototype.isPrototypeOf.call(FusedAdamOptimizer.prototype, s.optimizer) ? (s.optimizer as FusedAdamOptimizer) : null;
    this.xRow = size(data.x.shape.slice(1));
    this.yRow = size(data.y.shape.slice(1));
    this.balance = new SliceBalance(opts.batchSize, opts.threads);
    this.batchSize = opts.batchSize;
    this.inPlace = inPlaceWeightsSafe(s.program);
    this.calibration = opts.calibrate ? new ThreadCalibration(opts.threads) : null;
    this.state = SharedState.create({
      sharedAdam: this.adam !== null,
      threads: opts.threads,
      weightElements: this.weightOffsets[this.weightOffsets.length - 1],
      gradElements: this.gradOffsets[this.gradOffsets.length - 1],
      xRow: this.xRow,
      yRow: this.yRow,
      maxRows: SliceBalance.maxReplicaRows(opts.batchSize, opts.threads),
    });
    const session: Omit<SessionMessage, 'slot'> = {
      type: 'session',
      session: ++sessions,
      buffer: this.state.buffer,
      memory: this.state.memory,
      shape: this.state.shape,
      topology: model.toJSON(null, false),
      weightShapes: this.weights.map((w) => w.shape),
      trainable,
      xShape: data.x.shape.slice(1),
      loss: opts.loss,
      program: s.program != null,
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
      else {
        if (m.profile) this.replicaProfiles.set(slot, m.profile);
        resolveEnded();
      }
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

  /** Threads the steps use now: 1 once calibration chose one thread, else the most that took part in a step. */
  threadsUsed(): number {
    return Math.min(this.calibration?.decided ?? Infinity, this.maxParticipants);
  }

  async step(rows: Int32Array): Promise<StepOutcome> {
    if (this.failure) throw this.failure;
    const active = [0, ...[...this.joined].sort((a, b) => a - b)];
    if (active.length === 1) {
      this.momentsToOptimizer();
      return this.local.step(rows);
    }
    const { calibration } = this;
    if (!calibration) return this.parallelStep(rows, active);
    const threads = Math.min(calibration.next(), active.length);
    const switched = this.lastMode !== null && this.lastMode !== threads;
    this.lastMode = threads;
    const started = performance.now();
    let outcome: StepOutcome;
    if (threads === 1) {
      this.momentsToOptimizer();
      outcome = this.local.step(rows);
    } else outcome = await this.parallelStep(rows, active.slice(0, threads));
    calibration.record(threads, performance.now() - started, rows.length, this.batchSize, switched);
    return outcome;
  }

  /** One step over the leader and the joined replicas (`active`: their slots, the leader's 0 first). */
  private async parallelStep(rows: Int32Array, active: number[]): Promise<StepOutcome> {
    this.maxParticipants = Math.max(this.maxParticipants, active.length);
    const { state, profile, adam } = this;
    profile.start();
    const sizes = this.balance.sizes(rows.length, active.length);
    const starts = flatOffsets(sizes);
    this.publishWeights();
    if (adam) {
      this.momentsToShared(adam);
      state.setAdam(adamAttrs(adam));
    }
    profile.mark('publish weights');
    // The replicas' rows into their input slots; the leader takes its own straight from the data (one copy less).
    active.forEach((slot, rank) => {
      if (rank > 0) this.stageRows(slot, rows.subarray(starts[rank], starts[rank + 1]));
    });
    profile.mark('stage rows');
    state.expectDone(active.length);
    state.issue(
      Command.step,
      Array.from({ length: this.threads }, (_, slot) => {
        const rank = active.indexOf(slot);
        return { rank, rows: rank < 0 ? 0 : sizes[rank] };
      }),
    );
    profile.mark('issue');
    const busyFrom = performance.now();
    this.ownSlice(rows.subarray(0, sizes[0]));
    const busyMs = performance.now() - busyFrom;
    try {
      const waitedMs = await state.leaderBarrier();
      profile.mark('barrier');
      state.reduceAndUpdate(0, active, this.layout);
      state.markDone();
      profile.mark(adam ? 'reduce+adam' : 'reduce');
      await state.leaderWaitDone();
      profile.mark('wait done');
      // The replicas' barrier waits of this step are in: they write them before counting themselves done.
      this.balance.observe(
        sizes[0],
        busyMs,
        waitedMs,
        active.slice(1).map((slot) => state.stat(slot, STAT.barrierWaitMs)),
      );
    } catch (e) {
      const failure = this.failure;
      throw e instanceof SessionAborted && failure ? failure : e;
    }
    let loss = 0;
    let correct = 0;
    active.forEach((slot, rank) => {
      loss += (state.stat(slot, STAT.loss) * sizes[rank]) / rows.length;
      correct += state.stat(slot, STAT.correct);
    });
    if (adam) {
      this.loadWeights();
      (adam as unknown as { incrementIterations(): void }).incrementIterations();
      profile.mark('load weights');
    } else {
      this.applyGradients();
      profile.mark('optimizer');
    }
    return { loss, correct, rows: rows.length };
  }

  /**
   * Weights into shared memory (views on the wasm heap: no tensor is allocated meanwhile), those whose values it does
   * not hold yet: a tfjs variable gets a new dataId whenever anything assigns it (the optimizer, afterBatch's masks,
   * setWeights), so a weight whose dataId is the one loaded from or published to shared memory is unchanged there.
   */
  private publishWeights(): void {
    let written = false;
    this.weights.forEach((w, i) => {
      if (this.inShared[i] === w.dataId) return;
      this.state.weights.set(hostFloats(w), this.weightOffsets[i]);
      this.inShared[i] = w.dataId;
      written = true;
    });
    if (written) this.state.weightsWritten();
  }

  /** The trainable weights back from shared memory after the shared Adam step (weight-load.ts). */
  private loadWeights(): void {
    const { vars } = this.s;
    const { trainable } = this.layout;
    for (let j = 0; j < vars.length; j++) {
      const i = trainable[j];
      loadVariable(vars[j], this.state.weights.subarray(this.weightOffsets[i], this.weightOffsets[i + 1]), this.inPlace);
      this.inShared[i] = vars[j].dataId;
    }
  }

  /** The optimizer's Adam moments (zero before its first step) into shared memory, before a parallel step. */
  private momentsToShared(adam: FusedAdamOptimizer): void {
    if (this.momentsShared) return;
    const { m, v } = moments(adam);
    this.s.vars.forEach((_, j) => {
      for (const [slots, out] of [
        [m, this.state.m],
        [v, this.state.v],
      ] as const) {
        const at = this.gradOffsets[j];
        const variable = slots[j]?.variable;
        if (variable) out.set(hostFloats(variable), at);
        else out.fill(0, at, this.gradOffsets[j + 1]);
      }
    });
    this.momentsShared = true;
  }

  /** Shared Adam moments back into the optimizer's variables (before a single-thread step, and at the end). */
  private momentsToOptimizer(): void {
    if (!this.momentsShared || !this.adam) return;
    const { m, v } = moments(this.adam);
    this.s.vars.forEach((variable, j) => {
      for (const [slots, source, suffix] of [
        [m, this.state.m, 'm'],
        [v, this.state.v, 'v'],
      ] as const) {
        const value = tf.tensor(source.subarray(this.gradOffsets[j], this.gradOffsets[j + 1]), variable.shape, 'float32');
        const slot = slots[j];
        if (slot) slot.variable.assign(value);
        else slots[j] = { originalName: `${variable.name}/${suffix}`, variable: value.variable(false) };
        value.dispose();
      }
    });
    this.momentsShared = false;
  }

  /** A participant's rows of the batch into its input slot. */
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

  /** The leader's own slice (the batch's first rows): its mean gradient into slot 0, its loss and correct count. */
  private ownSlice(rows: Int32Array): void {
    const { data } = this.s;
    const x = takeRows(data.x, rows);
    const y = takeRows(data.y, rows);
    this.profile.mark('take rows');
    try {
      const { loss, correct } = sliceIntoBuffer(this.s, x, y, this.state.grads[0], this.gradOffsets);
      this.state.setStat(0, STAT.loss, loss);
      this.state.setStat(0, STAT.correct, correct);
    } finally {
      tf.dispose([x, y]);
    }
    this.profile.mark('forward+backward+gradients');
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
    this.momentsToOptimizer();
    if (this.failure) this.state.abort(Abort.leader);
    else this.state.issue(Command.end, []);
    await Promise.all(this.ended.values());
    for (const d of this.detach) d();
    releaseReplicas(this.replicas);
  }
}

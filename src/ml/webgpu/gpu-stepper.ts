/// <reference types="@webgpu/types" />
// trainModel's stepper on the WebGPU backend when the model is a chain plan (src/ml/train-plan.ts): steps run as
// GpuTrainProgram command buffers, the loss and correct counts stay on the GPU until the epoch's end, and the
// weights go back into the model's variables at each epoch's end and on close. Anything else (a custom loss, a hook
// that edits weights between batches, a layer the plan refuses, a data set larger than one storage binding) returns
// null here and trains on tfjs's ops.
import { tf } from '../tf.ts';
import { planChain } from '../train-plan.ts';
import type { StepInputs, StepOutcome, Stepper } from '../train-step.ts';
import { GpuTrainProgram, gpuRefusal } from './gpu-train-program.ts';
import type { UpdateRule } from './wgsl.ts';

/** The optimizer's rule as the GPU program applies it (null: one it does not know). */
function updateRule(optimizer: tf.Optimizer): UpdateRule | null {
  // By class name: tfjs's optimizer classes answer instanceof for any optimizer (Symbol.hasInstance duck typing).
  const o = optimizer as unknown as { beta1: number; beta2: number; epsilon: number; momentum: number; useNesterov?: boolean };
  switch (optimizer.getClassName()) {
    case 'Adam':
      return { kind: 'adam', beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon };
    case 'Momentum':
      return o.useNesterov ? null : { kind: 'momentum', momentum: o.momentum };
    case 'SGD':
      return { kind: 'sgd' };
    default:
      return null;
  }
}

const learningRate = (optimizer: tf.Optimizer) => (optimizer as unknown as { learningRate: number }).learningRate;

/** Why training takes tfjs's ops on this backend (null: the GPU program runs it). */
export let lastGpuRefusal: string | null = null;

export class GpuStepper implements Stepper {
  readonly threads = 1;
  private constructor(
    private readonly program: GpuTrainProgram,
    private readonly optimizer: tf.Optimizer,
  ) {}

  /** The GPU stepper for these inputs, or null (lastGpuRefusal says why). */
  static async create(s: StepInputs, batchSize: number): Promise<GpuStepper | null> {
    const refuse = (why: string) => {
      lastGpuRefusal = why;
      return null;
    };
    if (tf.getBackend() !== 'webgpu') return refuse(`backend ${tf.getBackend()}`);
    if (process.env.MODELPRESS_TRAIN_PROGRAM === '0') return refuse('MODELPRESS_TRAIN_PROGRAM=0');
    const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
    if (!device) return refuse('no GPU device');
    const { x, y } = s.data;
    if (x.dtype !== 'float32' || y.rank !== 2) return refuse('data not float32 rows with one-hot labels');
    const { plan, reason } = planChain(s.model, s.vars, y.shape[1]!);
    if (!plan) return refuse(reason!);
    const rule = updateRule(s.optimizer);
    if (!rule) return refuse(`optimizer ${s.optimizer.getClassName()}`);
    const rows = x.shape[0];
    const why = gpuRefusal(device, plan, { rows, rowFloats: x.size / rows, classes: plan.classes });
    if (why) return refuse(why);
    // As float32 bytes: tfjs-webgpu's cast from int32 (tf.oneHot(...).toFloat()) can hand back the int32 array.
    const [xs, ys] = await Promise.all(
      [x.data(), y.data()].map(async (d) => {
        const a = await d;
        return a instanceof Float32Array ? a : Float32Array.from(a as Int32Array);
      }),
    );
    const program = await GpuTrainProgram.create(device, plan, s.vars, { x: xs, y: ys, rows }, { maxBatch: Math.min(batchSize, rows), rule });
    lastGpuRefusal = null;
    return new GpuStepper(program, s.optimizer);
  }

  /** Dispatches per step (for profiles). */
  get dispatches(): number {
    return this.program.dispatches;
  }

  step(rows: Int32Array): StepOutcome {
    this.program.step(rows, learningRate(this.optimizer));
    return { loss: 0, correct: 0, rows: rows.length, onDevice: true };
  }

  async takeTotals(): Promise<{ loss: number; correct: number }> {
    const t = await this.program.takeTotals();
    return t;
  }

  lastLoss(): Promise<number> {
    return this.program.lastLoss();
  }

  sync(): Promise<void> {
    return this.program.sync();
  }

  async close(): Promise<void> {
    try {
      await this.program.sync();
    } finally {
      this.program.dispose();
    }
  }
}

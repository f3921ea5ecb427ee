// One batch's forward and backward pass, shared by the single-thread step, the data-parallel leader and its
// replicas: gradients of the loss with respect to an explicit variable list, the batch's predictions kept for the
// accuracy count, and the gradients written into a flat buffer for the all-reduce.
import { takeRows } from './dataset.ts';
import { countCorrect, dataOnHost, hostFloats } from './host-data.ts';
import { correctCount, type LossFn } from './loss.ts';
import { tf } from './tf.ts';
import type { TrainProgram } from './train-program.ts';

/** What one optimizer step reports: the batch's mean loss and correct predictions (numbers, or tensors on a GPU). */
export interface StepOutcome {
  loss: number | tf.Scalar;
  correct: number | tf.Scalar;
  rows: number;
  /** The stepper keeps loss and correct totals on its device (loss/correct here are 0): ask its takeTotals(). */
  onDevice?: boolean;
}

/** Runs optimizer steps on batches given as row indices of the training data. */
export interface Stepper {
  /** Threads the steps use (1: this thread only). */
  readonly threads: number;
  step(rows: Int32Array): StepOutcome | Promise<StepOutcome>;
  /** Weights written back into the model where the stepper trains a copy of them (the WebGPU program); then frees it. */
  close(): Promise<void>;
  /** Steppers whose outcomes are onDevice: Σ loss and correct since the last call. */
  takeTotals?(): Promise<{ loss: number; correct: number }>;
  /** Steppers whose outcomes are onDevice: the last step's mean loss. */
  lastLoss?(): Promise<number>;
  /** Writes the trained weights into the model's variables (steppers that train a copy of them). */
  sync?(): Promise<void>;
}

export interface StepInputs {
  model: tf.LayersModel;
  data: { x: tf.Tensor; y: tf.Tensor };
  optimizer: tf.Optimizer;
  lossFn: LossFn;
  /** trainableVariables(model) */
  vars: tf.Variable[];
  /** The compiled step (src/ml/train-program.ts) when the model and loss are its common case; absent/null: autodiff. */
  program?: TrainProgram | null;
}

/**
 * Steps in this thread. Where tensor data lives on the host (wasm, cpu) the loss and the correct count are read
 * per step (a copy of a few hundred floats, no extra kernels); on a GPU they stay on the device as tensors.
 */
export class LocalStepper implements Stepper {
  readonly threads = 1;
  /** The batch's labels, gathered on the host for the compiled step's loss. */
  private yRows = new Float32Array(0);
  constructor(private readonly s: StepInputs) {}

  step(rows: Int32Array): StepOutcome {
    if (this.s.program) return this.programStep(this.s.program, rows);
    const { model, data, optimizer, lossFn, vars } = this.s;
    const x = takeRows(data.x, rows);
    const y = takeRows(data.y, rows);
    try {
      let pred: tf.Tensor | undefined;
      const cost = optimizer.minimize(
        () => {
          const out = model.apply(x, { training: true }) as tf.Tensor;
          pred = tf.keep(out);
          return lossFn(y, out, x);
        },
        true,
        vars,
      )!;
      if (dataOnHost()) {
        const loss = cost.dataSync()[0];
        const correct = countCorrect(hostFloats(pred!), hostFloats(y), rows.length, pred!.shape[1]!, y.shape[1]);
        tf.dispose([cost, pred!]);
        return { loss, correct, rows: rows.length };
      }
      const correct = correctCount(y, pred!);
      pred!.dispose();
      return { loss: cost, correct, rows: rows.length };
    } finally {
      tf.dispose([x, y]);
    }
  }

  /** The compiled forward and backward, then the optimizer on its gradients. */
  private programStep(program: TrainProgram, rows: Int32Array): StepOutcome {
    const { data, optimizer, vars } = this.s;
    const yRow = data.y.shape[1]!;
    if (this.yRows.length < rows.length * yRow) this.yRows = new Float32Array(rows.length * yRow);
    const y = this.yRows.subarray(0, rows.length * yRow);
    const yAll = hostFloats(data.y);
    for (let i = 0; i < rows.length; i++) y.set(yAll.subarray(rows[i] * yRow, (rows[i] + 1) * yRow), i * yRow);
    const x = takeRows(data.x, rows);
    let grads: (tf.Tensor | null)[] = [];
    try {
      const out = program.step(x, y);
      grads = program.tensors(out.grads);
      const named: tf.NamedTensorMap = {};
      vars.forEach((v, i) => {
        if (grads[i]) named[v.name] = grads[i]!;
      });
      optimizer.applyGradients(named);
      return { loss: out.loss, correct: out.correct, rows: rows.length };
    } finally {
      tf.dispose([x, ...grads.filter((g): g is tf.Tensor => g !== null)]);
    }
  }

  async close(): Promise<void> {}
}

/** One slice's gradients written into a flat buffer, with its mean loss and correct count (the parallel steps). */
export function sliceIntoBuffer(
  s: { model: tf.LayersModel; vars: tf.Variable[]; lossFn: LossFn; program?: TrainProgram | null },
  x: tf.Tensor,
  y: tf.Tensor,
  out: Float32Array,
  offsets: number[],
): { loss: number; correct: number } {
  const rows = x.shape[0];
  const yRow = y.shape[1]!;
  if (s.program) {
    // A copy: the step allocates on the heap, which may detach a view of y taken before.
    const step = s.program.step(x, hostFloats(y).slice(0, rows * yRow));
    try {
      writeGradients(step.grads, out, offsets);
    } finally {
      s.program.release(step.grads);
    }
    return { loss: step.loss, correct: step.correct };
  }
  const step = batchGradients(s.model, s.vars, s.lossFn, x, y);
  try {
    writeGradients(step.grads, out, offsets);
    const loss = step.loss.dataSync()[0];
    const correct = countCorrect(hostFloats(step.pred), hostFloats(y), rows, step.pred.shape[1]!, yRow);
    return { loss, correct };
  } finally {
    tf.dispose([step.loss, step.pred, ...step.grads.filter((g): g is tf.Tensor => g !== null)]);
  }
}

export interface BatchGradients {
  /** One per variable, in the given order; null for a variable the loss does not depend on. */
  grads: (tf.Tensor | null)[];
  loss: tf.Scalar;
  pred: tf.Tensor;
}

/** Forward (training mode) and backward on one batch. The caller disposes grads, loss and pred. */
export function batchGradients(model: tf.LayersModel, vars: tf.Variable[], lossFn: LossFn, x: tf.Tensor, y: tf.Tensor): BatchGradients {
  let pred: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    pred = tf.keep(out);
    return lossFn(y, out, x);
  }, vars);
  return { grads: vars.map((v) => grads[v.name] ?? null), loss: value, pred: pred! };
}

/** The variables behind a model's trainable weights, in model.trainableWeights order. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Element offsets of consecutive tensors of these sizes in one flat buffer (plus the total at the end). */
export function flatOffsets(sizes: number[]): number[] {
  const offsets = [0];
  for (const s of sizes) offsets.push(offsets[offsets.length - 1] + s);
  return offsets;
}

/** Writes grads[i] at offsets[i] of `out` (zeros for a null gradient); tensors or wasm heap TensorInfos. */
export function writeGradients(grads: (tf.Tensor | tf.TensorInfo | null)[], out: Float32Array, offsets: number[]): void {
  grads.forEach((g, i) => {
    const at = offsets[i];
    const size = offsets[i + 1] - at;
    if (g) out.set(hostFloats(g as tf.Tensor).subarray(0, size), at);
    else out.fill(0, at, at + size);
  });
}

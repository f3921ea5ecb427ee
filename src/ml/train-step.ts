// One batch's forward and backward pass, shared by the single-thread step, the data-parallel leader and its
// replicas: gradients of the loss with respect to an explicit variable list, the batch's predictions kept for the
// accuracy count, and the gradients written into a flat buffer for the all-reduce.
import { takeRows } from './dataset.ts';
import { countCorrect, dataOnHost, hostFloats } from './host-data.ts';
import { correctCount, type LossFn } from './loss.ts';
import { tf } from './tf.ts';

/** What one optimizer step reports: the batch's mean loss and correct predictions (numbers, or tensors on a GPU). */
export interface StepOutcome {
  loss: number | tf.Scalar;
  correct: number | tf.Scalar;
  rows: number;
}

/** Runs optimizer steps on batches given as row indices of the training data. */
export interface Stepper {
  /** Threads the steps use (1: this thread only). */
  readonly threads: number;
  step(rows: Int32Array): StepOutcome | Promise<StepOutcome>;
  close(): Promise<void>;
}

export interface StepInputs {
  model: tf.LayersModel;
  data: { x: tf.Tensor; y: tf.Tensor };
  optimizer: tf.Optimizer;
  lossFn: LossFn;
  /** trainableVariables(model) */
  vars: tf.Variable[];
}

/**
 * Steps in this thread. Where tensor data lives on the host (wasm, cpu) the loss and the correct count are read
 * per step (a copy of a few hundred floats, no extra kernels); on a GPU they stay on the device as tensors.
 */
export class LocalStepper implements Stepper {
  readonly threads = 1;
  constructor(private readonly s: StepInputs) {}

  step(rows: Int32Array): StepOutcome {
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

  async close(): Promise<void> {}
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

/** Writes grads[i] at offsets[i] of `out` (zeros for a null gradient). */
export function writeGradients(grads: (tf.Tensor | null)[], out: Float32Array, offsets: number[]): void {
  grads.forEach((g, i) => {
    const at = offsets[i];
    const size = offsets[i + 1] - at;
    if (g) out.set(hostFloats(g).subarray(0, size), at);
    else out.fill(0, at, at + size);
  });
}

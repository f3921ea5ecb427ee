// Knowledge-distillation loss (Hinton et al. 2015) on logits, and a way to get logits from softmax models.
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';

export interface DistillationLossArgs {
  /** [batch, classes] pre-softmax outputs of the student. */
  studentLogits: tf.Tensor2D;
  /** [batch, classes] pre-softmax outputs of the teacher. */
  teacherLogits: tf.Tensor2D;
  /** [batch, classes] one-hot labels; absent → soft targets only (alpha treated as 1). */
  labels?: tf.Tensor2D;
  /** Softmax temperature T > 0. */
  temperature: number;
  /** Weight of the soft-target term, 0..1. */
  alpha: number;
  /**
   * Logit standardization (Sun et al., CVPR 2024): each row of teacher and student logits is z-scored (mean 0,
   * standard deviation 1 over the classes) before the temperature, so the student matches the shape of the
   * teacher's logits rather than their scale. The hard-label term keeps the raw student logits.
   */
  standardize?: boolean;
}

/**
 * Row-wise z-score over the last axis: (x − mean) / sqrt(variance + 1e-12). The epsilon sits inside the root: a row
 * of equal logits (a fresh student with zero biases on a blank input) then has a finite gradient, not 0 · ∞ = NaN.
 */
export function standardizeRows(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const centred = tf.sub(x, tf.mean(x, -1, true));
    return tf.div(centred, tf.sqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-12)));
  });
}

// x - logsumexp(x): stable, and unlike tf.logSoftmax it runs on wasm (no LogSoftmax kernel there).
function logSoftmax(x: tf.Tensor): tf.Tensor {
  return tf.sub(x, tf.logSumExp(x, -1, true));
}

/**
 * Row-wise KL(softmax(t) ‖ softmax(s)). The result is multiplied by T², so float32 rounding matters: work on
 * max-shifted logits and take the normalisers' log-ratio as log1p of small differences (expm1 sums), not as
 * the difference of two log-sum-exps of size ~log(classes).
 */
function softmaxKl(t: tf.Tensor, s: tf.Tensor): tf.Tensor {
  const classes = t.shape[t.rank - 1];
  const tShift = tf.sub(t, tf.max(t, -1, true));
  const sShift = tf.sub(s, tf.max(s, -1, true));
  const tExcess = tf.sum(tf.expm1(tShift), -1, true); // sum(exp(tShift)) - classes
  const sExcess = tf.sum(tf.expm1(sShift), -1, true);
  const logNormRatio = tf.log1p(tf.div(tf.sub(tExcess, sExcess), tf.add(sExcess, classes)));
  const pTeacher = tf.div(tf.exp(tShift), tf.add(tExcess, classes));
  return tf.sum(tf.mul(pTeacher, tf.sub(tf.sub(tShift, sShift), logNormRatio)), -1);
}

/**
 * alpha * T² * KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 - alpha) * CE(labels, softmax(student)),
 * each term averaged over the batch. T² keeps the soft term's gradient scale independent of T.
 */
export function distillationLoss(args: DistillationLossArgs): tf.Scalar {
  const { studentLogits, teacherLogits, labels, temperature: T } = args;
  if (!(T > 0) || !Number.isFinite(T)) throw new AppError('INVALID_JOB_PARAMS', `temperature must be > 0, got ${T}`, { field: 'temperature' });
  if (!(args.alpha >= 0 && args.alpha <= 1))
    throw new AppError('INVALID_JOB_PARAMS', `alpha must be in [0, 1], got ${args.alpha}`, { field: 'alpha' });
  const same = (a: tf.Tensor, b: tf.Tensor) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  if (!same(studentLogits, teacherLogits) || (labels && !same(studentLogits, labels))) {
    throw new AppError('INCOMPATIBLE_INPUTS', 'student logits, teacher logits and labels must have the same [batch, classes] shape', {
      student: studentLogits.shape,
      teacher: teacherLogits.shape,
      labels: labels?.shape,
    });
  }
  const alpha = labels ? args.alpha : 1;
  return tf.tidy(() => {
    const [t, s] = args.standardize ? [standardizeRows(teacherLogits), standardizeRows(studentLogits)] : [teacherLogits, studentLogits];
    const kl = tf.mean(softmaxKl(tf.div(t, T), tf.div(s, T)));
    let loss: tf.Tensor = tf.mul(kl, alpha * T * T);
    if (labels && alpha < 1) {
      const ce = tf.mean(tf.neg(tf.sum(tf.mul(labels, logSoftmax(studentLogits)), -1)));
      loss = tf.add(loss, tf.mul(ce, 1 - alpha));
    }
    return loss as tf.Scalar;
  });
}

/**
 * A model computing the pre-activation (logits) of `model`'s last Dense layer. It shares every layer and
 * variable with `model` (training one trains the other); dispose `model`, not this view.
 */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  const last = model.layers.at(-1);
  if (!last || last.getClassName() !== 'Dense') {
    throw new AppError('INVALID_MODEL', 'distillation needs a model whose last layer is Dense', { lastLayer: last?.getClassName() });
  }
  const { name: _name, ...cfg } = last.getConfig();
  const linear = tf.layers.dense({
    ...(cfg as unknown as Parameters<typeof tf.layers.dense>[0]),
    activation: 'linear',
    name: `${last.name}_logits`,
  });
  // Dense.build() only creates kernel/bias when they are unset, so pre-setting them shares the variables.
  const shared = last as unknown as { kernel: tf.LayerVariable; bias: tf.LayerVariable | null };
  Object.assign(linear, { kernel: shared.kernel, bias: shared.bias });
  const output = linear.apply(last.input) as tf.SymbolicTensor;
  linear.trainableWeights = last.trainableWeights;
  return tf.model({ inputs: model.inputs, outputs: output });
}

// The distillation training loss with its frozen teacher attached: built in the job's thread, or rebuilt in every
// data-parallel replica thread from the teacher's serialized artifacts (a LossFactoryRef), so distill trains on
// all cores like train and prune do.
import type { LossFactoryRef, LossFn } from '../../loss.ts';
import { fitToModel } from '../../model-input.ts';
import { loadModelFromArtifacts, serializeModel } from '../../model-io.ts';
import { tf } from '../../tf.ts';
import { distillationLoss, logitsModel } from './loss.ts';

export interface TeacherLossParams {
  temperature: number;
  alpha: number;
  /** Logit standardization (see DistillationLossArgs.standardize). */
  standardize?: boolean;
}

/** Soft targets from `teacherLogits` (a logits view of `teacher`) mixed with the hard labels by alpha. */
export function distillLoss(teacher: tf.LayersModel, teacherLogits: tf.LayersModel, params: TeacherLossParams): LossFn {
  return (labels, studentLogits, x) =>
    distillationLoss({
      studentLogits: studentLogits as tf.Tensor2D,
      teacherLogits: teacherLogits.apply(fitToModel(teacher, x), { training: false }) as tf.Tensor2D,
      labels: params.alpha < 1 ? (labels as tf.Tensor2D) : undefined,
      temperature: params.temperature,
      alpha: params.alpha,
      standardize: params.standardize,
    });
}

interface ReplicaArgs extends TeacherLossParams {
  teacher: tf.io.ModelArtifacts;
}

/** LossFactory for replica threads: loads the teacher from its artifacts (this thread's copy, frozen). */
export async function distillLossFromArtifacts(args: ReplicaArgs): Promise<LossFn> {
  const teacher = await loadModelFromArtifacts(args.teacher);
  teacher.trainable = false;
  return distillLoss(teacher, logitsModel(teacher), args);
}

/** How a replica rebuilds distillLoss(teacher, …): the teacher travels as topology + weight bytes. */
export async function distillLossRef(teacher: tf.LayersModel, params: TeacherLossParams): Promise<LossFactoryRef> {
  const { artifacts } = await serializeModel(teacher);
  const args: ReplicaArgs = { teacher: artifacts, temperature: params.temperature, alpha: params.alpha, standardize: params.standardize };
  return { module: import.meta.url, name: distillLossFromArtifacts.name, args };
}

// Cached teacher logits. The teacher is frozen and runs in inference mode, so its logits for an example never change
// during training: computing them once per example (not once per step, inside every replica) gives the same loss
// and gradients and leaves only the student's forward and backward pass in each step. The logits travel with the
// labels as extra columns of y ([labels | teacher logits]); the training loop counts accuracy on the first columns.

/** The teacher's pre-softmax outputs ([n, classes]) for every row of `x`, in inference mode, `batchSize` rows at a time. */
export function teacherLogitsOf(teacher: tf.LayersModel, x: tf.Tensor, batchSize = 256): tf.Tensor2D {
  const logits = logitsModel(teacher);
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      parts.push(
        tf.tidy(() => {
          const rows = tf.slice(x, [start, ...x.shape.slice(1).map(() => 0)], [size, ...x.shape.slice(1)]);
          return logits.apply(fitToModel(teacher, rows), { training: false }) as tf.Tensor;
        }),
      );
    }
    return (parts.length === 1 ? parts[0].clone() : tf.concat(parts, 0)) as tf.Tensor2D;
  } finally {
    tf.dispose(parts);
  }
}

/** Training targets for cachedDistillLoss: one-hot `labels` [n, classes] and `teacherLogits` [n, classes] side by side. */
export function distillTargets(labels: tf.Tensor2D, teacherLogits: tf.Tensor2D): tf.Tensor2D {
  return tf.concat([labels, teacherLogits], 1);
}

/** The distillation loss on targets from distillTargets: y's first half the labels, its second the teacher's logits. */
export function cachedDistillLoss(params: TeacherLossParams): LossFn {
  return (y, studentLogits) =>
    tf.tidy(() => {
      const classes = studentLogits.shape[studentLogits.rank - 1];
      const [labels, teacherLogits] = tf.split(y, [classes, classes], 1) as [tf.Tensor2D, tf.Tensor2D];
      return distillationLoss({
        studentLogits: studentLogits as tf.Tensor2D,
        teacherLogits,
        labels: params.alpha < 1 ? labels : undefined,
        temperature: params.temperature,
        alpha: params.alpha,
        standardize: params.standardize,
      });
    });
}

/** How a replica rebuilds cachedDistillLoss: nothing but the two numbers (the teacher stays in the job's thread). */
export function cachedDistillLossRef(params: TeacherLossParams): LossFactoryRef {
  return {
    module: import.meta.url,
    name: cachedDistillLoss.name,
    args: { temperature: params.temperature, alpha: params.alpha, standardize: params.standardize },
  };
}

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
  const args: ReplicaArgs = { teacher: artifacts, temperature: params.temperature, alpha: params.alpha };
  return { module: import.meta.url, name: distillLossFromArtifacts.name, args };
}

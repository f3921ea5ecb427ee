// `distill`: knowledge distillation (Hinton et al. 2015). The student (an uploaded model, a preset/spec, or the
// teacher narrowed by a width multiplier) is trained on alpha·T²·KL(teacher/T ‖ student/T) + (1−alpha)·CE, by default
// on standardized logits (Sun et al. 2024) with soft targets only (see distill.params.ts for why), with the frozen
// teacher's logits computed once per training example before the student trains (inference mode, so they are what a
// per-step teacher pass would give; only the student's variables get gradients). With `baseline`, the same student
// (same initial weights) is also trained on hard labels alone.
// Report: `before` (and `teacher`) measure the teacher, the model being compressed, `after` the student; so a
// pipeline starting with distill reports its input model as `before`.
import { buildModel, presetOf, TEXT_PRESETS, validateArchitecture, type Architecture } from '../../ml/architectures.ts';
import { logitsModel, narrowedModel } from '../../ml/compress/index.ts';
import { cachedDistillLoss, cachedDistillLossRef, distillTargets, teacherLogitsOf } from '../../ml/compress/distill/teacher-loss.ts';
import { loadModelFromArtifacts, serializeModel } from '../../ml/model-io.ts';
import { tf } from '../../ml/tf.ts';
import type { JobContext, JobKind, JobResult } from '../kind.ts';
import { compressionReport, measure, type Measure } from './compression-report.ts';
import { DistillParams } from './distill.params.ts';
import { assertCompatible, disposeData, evalSetOf, loadData, modelInputShape, runTraining, vocabularyOf } from './support.ts';

const DEFAULT_WIDTH_MULTIPLIER = 0.5;

/**
 * The teacher narrowed to about `widthMultiplier` of its channels through its channel graph (coupled channels of
 * residual Adds, depthwise convs, Concatenates narrowed together; input and output widths kept), freshly
 * initialised with the teacher's initializer configs (so a seeded teacher gives a seeded student).
 */
export function narrowedStudent(teacher: tf.LayersModel, widthMultiplier: number): Promise<tf.LayersModel> {
  return narrowedModel(teacher, widthMultiplier);
}

async function studentFor(ctx: JobContext, teacher: tf.LayersModel, params: DistillParams, numClasses: number): Promise<tf.LayersModel> {
  if (ctx.inputs.modelId) return ctx.models.load(ctx.inputs.modelId);
  const spec = params.student;
  if (spec === undefined || (typeof spec === 'object' && 'widthMultiplier' in spec && !('preset' in spec))) {
    return narrowedStudent(teacher, spec?.widthMultiplier ?? DEFAULT_WIDTH_MULTIPLIER);
  }
  const arch = spec as Architecture;
  if (typeof arch === 'object' && 'layers' in arch) validateArchitecture(arch, 'params.student');
  const preset = presetOf(arch);
  let vocabSize: number | undefined;
  if (preset && TEXT_PRESETS.has(preset.preset)) {
    // A given vocabSize checked against the data; else the teacher's vocabulary when it embeds tokens, else the data's.
    const embedding = teacher.layers.find((l) => l.getClassName() === 'Embedding');
    const teacherVocab = embedding?.getConfig().inputDim as number | undefined;
    vocabSize =
      preset.vocabSize === undefined && teacherVocab !== undefined
        ? teacherVocab
        : await vocabularyOf(ctx, ctx.inputs.datasetId!, preset.vocabSize, 'params.student.vocabSize');
  }
  return buildModel(arch, modelInputShape(teacher), numClasses, { seed: params.seed, vocabSize });
}

/** A copy of `model` with the same weights (independent variables). */
async function cloneModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  return loadModelFromArtifacts((await serializeModel(model)).artifacts);
}

const trainOptions = (params: DistillParams) => ({
  epochs: params.epochs,
  batchSize: params.batchSize,
  optimizer: 'adam' as const,
  learningRate: params.learningRate,
  validationSplit: 0,
  seed: params.seed,
});

export interface DistillReport {
  before: Measure;
  after: Measure;
  layers: ReturnType<typeof compressionReport>['layers'];
  teacher: Measure;
  baseline?: Measure;
  /** Teacher, hard-label baseline (when trained) and distilled student side by side, for tables. */
  comparison: { role: 'teacher' | 'baseline' | 'student'; accuracy: number | null; params: number; gzipBytes: number }[];
  /**
   * (student − baseline) / (teacher − baseline) accuracy: the share of the gap distillation closed; null without a
   * baseline, or when the teacher is not ahead of it (there is no gap, and the ratio would read as nonsense).
   */
  gapClosed: number | null;
}

/** The side-by-side rows and the gap closed of a distill report. */
export function distillComparison(teacher: Measure, student: Measure, baseline?: Measure): Pick<DistillReport, 'comparison' | 'gapClosed'> {
  const row = (role: DistillReport['comparison'][number]['role'], m: Measure) => ({
    role,
    accuracy: m.accuracy,
    params: m.params,
    gzipBytes: m.gzipBytes,
  });
  const gap = baseline && teacher.accuracy !== null && baseline.accuracy !== null ? teacher.accuracy - baseline.accuracy : null;
  return {
    comparison: [row('teacher', teacher), ...(baseline ? [row('baseline', baseline)] : []), row('student', student)],
    gapClosed:
      gap !== null && gap > 0 && student.accuracy !== null && baseline?.accuracy != null ? (student.accuracy - baseline.accuracy) / gap : null,
  };
}

export async function runDistill(ctx: JobContext, params: DistillParams): Promise<JobResult> {
  const teacherId = ctx.inputs.teacherModelId!;
  const teacherDto = await ctx.models.get(teacherId);
  const teacher = await ctx.models.load(teacherId);
  const owned: tf.LayersModel[] = [teacher];
  try {
    // Frozen: trainModel's optimizer then leaves the teacher's variables out of the gradient.
    teacher.trainable = false;
    const { numClasses } = await ctx.datasets.get(ctx.inputs.datasetId!);
    const student = await studentFor(ctx, teacher, params, numClasses);
    owned.push(student);
    student.trainable = true;
    const data = await loadData(ctx, ctx.inputs.datasetId!, { limit: params.limit, model: student });
    try {
      assertCompatible(teacher, data.dataset);
      const { data: evalSet, split } = evalSetOf(ctx, data);
      const teacherM = await measure(teacher, evalSet, split);
      const baselineStudent = params.baseline ? await cloneModel(student) : null;
      if (baselineStudent) owned.push(baselineStudent);
      ctx.progress({ fraction: 0.05 });
      const distillEnd = params.baseline ? 0.5 : 0.9;
      ctx.log(
        `training the distilled student: soft targets at T=${params.temperature}${params.standardizeLogits ? ' on standardized logits' : ''}, alpha=${params.alpha}, ${params.epochs} epoch(s)`,
      );
      const kd = { temperature: params.temperature, alpha: params.alpha, standardize: params.standardizeLogits };
      // Teacher logits once per example, carried as extra columns of the targets.
      const targets = tf.tidy(() => distillTargets(data.train.y, teacherLogitsOf(teacher, data.train.x)));
      try {
        // The view shares the student's variables: training it trains the student.
        await runTraining(
          ctx,
          logitsModel(student),
          { x: data.train.x, y: targets },
          { ...trainOptions(params), lossFn: cachedDistillLoss(kd), replicaLoss: cachedDistillLossRef(kd) },
          { progressRange: [0.05, distillEnd] },
        );
      } finally {
        targets.dispose();
      }
      let baseline: Measure | undefined;
      if (baselineStudent) {
        ctx.log(
          `training the hard-label baseline: the same student and initial weights on labels alone, ${params.epochs} epoch(s) (metrics baseline_*)`,
        );
        await runTraining(ctx, baselineStudent, data.train, trainOptions(params), { progressRange: [distillEnd, 0.9], metricPrefix: 'baseline_' });
        baseline = (await measure(baselineStudent, evalSet, split)).m;
      }
      const after = await measure(student, evalSet, split);
      const report: DistillReport = {
        ...compressionReport(teacherM, after),
        teacher: teacherM.m,
        ...(baseline ? { baseline } : {}),
        ...distillComparison(teacherM.m, after.m, baseline),
      };
      ctx.log(
        `distilled ${teacherDto.name} (${split} split): teacher accuracy ${teacherM.m.accuracy}${baseline ? `, hard-label baseline ${baseline.accuracy}` : ''}, distilled student ${after.m.accuracy}${report.gapClosed === null ? '' : ` (${(100 * report.gapClosed).toFixed(0)}% of the teacher–baseline gap closed)`}`,
      );
      const saved = await ctx.models.save(student, { name: `${teacherDto.name}-distilled`, parentModelId: teacherId, report: { ...report } });
      ctx.progress({ fraction: 1 });
      return { resultModelIds: [saved.id], report: { ...report } };
    } finally {
      disposeData(data);
    }
  } finally {
    for (const m of owned) m.dispose();
  }
}

export const distillKind: JobKind<typeof DistillParams> = {
  type: 'distill',
  paramsSchema: DistillParams,
  requires: { teacherModel: true, dataset: true },
  builds(params, inputs) {
    if (inputs.modelId) return null;
    const spec = params.student;
    if (spec === undefined || (typeof spec === 'object' && 'widthMultiplier' in spec && !('preset' in spec))) return 'teacher';
    return { architecture: spec as Architecture, field: 'params.student' };
  },
  trains: true,
  epochParams: ['epochs'],
  pipelineStep: { input: 'teacherModel' },
  validate(params) {
    const spec = params.student;
    if (typeof spec === 'object' && 'layers' in spec) validateArchitecture(spec, 'params.student');
  },
  run: runDistill,
};

// Params of `distill` jobs (API contract of issue 5); the kind is distill.ts.
import { Type, type Static } from 'typebox';
import { ArchitectureParam } from './train.params.ts';

const strict = { additionalProperties: false } as const;

/**
 * The soft-target settings distill jobs default to — and autocompress's distill stage always uses, so the two never
 * disagree (measured on MNIST, issue 16: see below and the README's distillation row).
 */
export const DISTILL_DEFAULTS = { temperature: 2, alpha: 1, standardizeLogits: true } as const;

export const DistillParams = Type.Object(
  {
    student: Type.Optional(
      Type.Union([ArchitectureParam, Type.Object({ widthMultiplier: Type.Number({ exclusiveMinimum: 0, maximum: 1 }) }, strict)], {
        description:
          'Student: a preset or spec, or the teacher narrowed by widthMultiplier (default 0.5); ignored when modelId names an uploaded student',
      }),
    ),
    // Defaults measured on MNIST (issue 16; README bench row): plain Hinton KD at T=4, alpha=0.9 for 3 epochs made
    // the student worse than hard labels (gap closed −30%); standardized logits with soft targets only close about
    // half the gap, 53% at 20 epochs vs 50% at 10 (KD needs a patient schedule; the teacher's logits are cached, so
    // an epoch costs only the student's step).
    temperature: Type.Number({
      exclusiveMinimum: 0,
      maximum: 100,
      default: DISTILL_DEFAULTS.temperature,
      description: 'Softmax temperature T of the soft targets (on standardized logits when standardizeLogits)',
    }),
    alpha: Type.Number({
      minimum: 0,
      maximum: 1,
      default: DISTILL_DEFAULTS.alpha,
      description:
        "Weight of the soft-target term, (1 − alpha) that of the hard-label cross-entropy; 1 (default) = soft targets only. With standardized logits a hard-label term slows the student: its pull grows as the student's logits grow, the scale-free soft term's does not",
    }),
    standardizeLogits: Type.Boolean({
      default: DISTILL_DEFAULTS.standardizeLogits,
      description:
        "Logit standardization (Sun et al., CVPR 2024): z-score each row of teacher and student logits before the temperature, so the student matches the shape of the teacher's logits, not their scale (false: Hinton et al. 2015 on raw logits)",
    }),
    epochs: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-3 }),
    baseline: Type.Boolean({ default: false, description: 'Also train the same student on hard labels only, for comparison' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N training examples' })),
    seed: Type.Optional(Type.Integer()),
  },
  strict,
);
export type DistillParams = Static<typeof DistillParams>;

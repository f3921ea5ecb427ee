// Params of `prune` jobs (API contract of issue 5; the safe defaults of issue 16); the kind is prune.ts. With only
// `sparsity: 0.9` given, LeNet-5 on 20,000 MNIST rows (in-process, dense models of seeds 16/17/18) lost 0.51 / 0.51 /
// 0.44 pp with small layers capped at the target and 5 fine-tuning epochs; capped at half the target (plan.ts
// SMALL_LAYER_CAP) and 8 epochs it gained 0.28 / 0.72 / 0.44 pp (the README bench row through the API confirms).
import { Type, type Static } from 'typebox';

const strict = { additionalProperties: false } as const;
const step = (description: string) => Type.Integer({ minimum: 0, description });

export const ConstantSchedule = Type.Object(
  {
    type: Type.Literal('constant'),
    beginStep: Type.Optional(step('First pruning step (default 0)')),
    endStep: Type.Optional(step('Last pruning step (default: end of fine-tuning)')),
    frequency: Type.Optional(Type.Integer({ minimum: 1, description: 'Recompute masks every N steps (default: total steps / 20, at most 100)' })),
  },
  strict,
);

export const PolynomialDecaySchedule = Type.Object(
  {
    type: Type.Literal('polynomial_decay'),
    initialSparsity: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Default 0' })),
    beginStep: Type.Optional(step('First pruning step (default 0)')),
    endStep: Type.Optional(step('Step at which the final sparsity is reached (default: the pruning step about two thirds into fine-tuning)')),
    power: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Default 3' })),
    frequency: Type.Optional(Type.Integer({ minimum: 1, description: 'Recompute masks every N steps (default: total steps / 20, at most 100)' })),
  },
  strict,
);

export const PruneParams = Type.Object(
  {
    method: Type.Union([Type.Literal('magnitude'), Type.Literal('structured')], { default: 'magnitude' }),
    sparsity: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.8,
      description: 'Final target sparsity (structured: fraction of units/filters removed)',
    }),
    scope: Type.Union([Type.Literal('layer'), Type.Literal('global')], {
      default: 'global',
      description:
        'global: one threshold over every pruned layer (each capped at maxLayerSparsity), so robust layers give more; layer: each layer at `sparsity`',
    }),
    score: Type.Union([Type.Literal('activation'), Type.Literal('magnitude')], {
      default: 'activation',
      description:
        'Weight importance: activation = |w| × RMS of its input over a calibration batch (Wanda; prunes weights of inputs that are never active first), magnitude = |w|',
    }),
    maxLayerSparsity: Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.98,
      description:
        'Global scope: no layer is pruned beyond this, so each keeps at least 1 − maxLayerSparsity of its weights; a layer holding < 10% of the prunable weights is not pruned beyond half of `sparsity`',
    }),
    schedule: Type.Union([ConstantSchedule, PolynomialDecaySchedule], { default: { type: 'polynomial_decay' } }),
    norm: Type.Union([Type.Literal('l1'), Type.Literal('l2')], {
      default: 'l1',
      description: 'Structured pruning: ranks units/filters by this norm',
    }),
    importance: Type.Optional(
      Type.Union([Type.Literal('l1'), Type.Literal('l2'), Type.Literal('bn')], {
        description:
          'Structured pruning: ranks coupled channel groups by the L1/L2 norm of their weights or by batch-norm |gamma| (bn; groups without a batch norm use L2). Default: `norm`',
      }),
    ),
    fineTuneEpochs: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 8,
      description: 'Epochs of fine-tuning: the sparsity ramps up over the first two thirds (polynomial_decay), the rest recovers at the final masks',
    }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 5e-4 }),
    excludeLayers: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'Layer names left dense; replaces the default protection: the last Dense layer (the classifier) and the first prunable layer when it holds < 10% of the prunable weights',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N training examples' })),
    seed: Type.Optional(Type.Integer()),
  },
  strict,
);
export type PruneParams = Static<typeof PruneParams>;

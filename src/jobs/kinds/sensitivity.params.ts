// Params of `sensitivity` jobs (issue 16): Han et al. 2015's per-layer pruning scan; the kind is sensitivity.ts.
import { Type, type Static } from 'typebox';

export const SensitivityParams = Type.Object(
  {
    sparsities: Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), {
      minItems: 1,
      maxItems: 20,
      default: [0.5, 0.7, 0.8, 0.9, 0.95, 0.98],
      description: 'Sparsities each layer is pruned to (alone, by magnitude) and measured at',
    }),
    layers: Type.Optional(Type.Array(Type.String(), { description: 'Layers to scan (default: every Dense/Conv kernel, the classifier included)' })),
    split: Type.Union([Type.Literal('validation'), Type.Literal('test'), Type.Literal('train')], {
      default: 'validation',
      description: 'Data the accuracy is measured on: by default the seeded 10% hold-out of the train split, so decisions never see the test split',
    }),
    targetSparsity: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        description: 'Also allocate per-layer sparsities reaching this overall figure with the smallest common accuracy tolerance',
      }),
    ),
    limit: Type.Integer({ minimum: 1, default: 2000, description: 'Measure on the first N examples of the split' }),
  },
  { additionalProperties: false },
);
export type SensitivityParams = Static<typeof SensitivityParams>;

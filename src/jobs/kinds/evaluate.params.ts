// Params of `evaluate` jobs (API contract of issue 4; `split` from issue 16). The kind is evaluate.ts.
import { Type, type Static } from 'typebox';

export const EvaluateParams = Type.Object(
  {
    split: Type.Optional(
      Type.Union([Type.Literal('test'), Type.Literal('train'), Type.Literal('validation')], {
        description:
          'The split to score (default "test"). A dataset without a test split is refused unless "train" or "validation" (the seeded 10% hold-out of the train split) is given explicitly',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Evaluate on the first N examples of the split only' })),
  },
  { additionalProperties: false },
);
export type EvaluateParams = Static<typeof EvaluateParams>;

// Params of `evaluate` jobs (API contract of issue 4). The kind itself (evaluate.ts) arrives with the ML engine.
import { Type, type Static } from 'typebox';

export const EvaluateParams = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Evaluate on the first N test examples only' })),
  },
  { additionalProperties: false },
);
export type EvaluateParams = Static<typeof EvaluateParams>;

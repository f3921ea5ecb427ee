// Params of `distill` jobs (API contract of issue 5); the kind is distill.ts.
import { Type, type Static } from 'typebox';
import { ArchitectureParam } from './train.params.ts';

const strict = { additionalProperties: false } as const;

export const DistillParams = Type.Object(
  {
    student: Type.Optional(
      Type.Union([ArchitectureParam, Type.Object({ widthMultiplier: Type.Number({ exclusiveMinimum: 0, maximum: 1 }) }, strict)], {
        description:
          'Student: a preset or spec, or the teacher narrowed by widthMultiplier (default 0.5); ignored when modelId names an uploaded student',
      }),
    ),
    temperature: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 4 }),
    alpha: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'Weight of the soft-target term; 1 = soft targets only' }),
    epochs: Type.Integer({ minimum: 1, maximum: 1000, default: 3 }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-3 }),
    baseline: Type.Boolean({ default: false, description: 'Also train the same student on hard labels only, for comparison' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N training examples' })),
    seed: Type.Optional(Type.Integer()),
  },
  strict,
);
export type DistillParams = Static<typeof DistillParams>;

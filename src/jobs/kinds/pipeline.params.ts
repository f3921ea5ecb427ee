// Params of `pipeline` jobs (API contract of issue 5): ordered steps, each step's output model the next one's
// input. Each step's params are validated (defaults applied) against that step kind's schema by the registry.
import { Type, type Static } from 'typebox';

export const PIPELINE_STEP_TYPES = ['train', 'evaluate', 'prune', 'distill', 'quantize'] as const;

export const PipelineParams = Type.Object(
  {
    steps: Type.Array(
      Type.Object(
        {
          type: Type.Enum(PIPELINE_STEP_TYPES),
          params: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 20 },
    ),
  },
  { additionalProperties: false },
);
export type PipelineParams = Static<typeof PipelineParams>;

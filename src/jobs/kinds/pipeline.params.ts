// Params of `pipeline` jobs (API contract of issue 5): ordered steps, each step's output model the next one's
// input. The step types are the registered kinds that declare `pipelineStep` (the registry passes them in), and
// each step's params are validated (defaults applied) against that step kind's schema.
import { Type, type Static } from 'typebox';

export function pipelineParamsSchema(stepTypes: readonly string[]) {
  return Type.Object(
    {
      steps: Type.Array(
        Type.Object(
          {
            type: Type.Enum(stepTypes),
            params: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 20 },
      ),
    },
    { additionalProperties: false },
  );
}
export type PipelineParamsSchema = ReturnType<typeof pipelineParamsSchema>;
export type PipelineParams = Static<PipelineParamsSchema>;

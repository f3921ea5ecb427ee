// A job kind that exists only in the tests, added in this one file through the job-kind registry: `scale`
// multiplies every weight of the input model by `factor` over `rounds` rounds and stores the result, through the
// JobContext alone (model I/O, sinks, cancellation). It reports
// progress, a metric and a log line per round, honours cancellation, may be a pipeline step, and declares `rounds`
// as its epoch count so the resource guards apply to it. Import this module before the app's modules (they derive
// their enums from the registry at import).
import { Type } from 'typebox';
import type { JobKind } from '../../src/jobs/kind.ts';
import { registerJobKind } from '../../src/jobs/registry.ts';
import { tf } from '../../src/ml/tf.ts';

export const ScaleParams = Type.Object(
  {
    factor: Type.Number({ default: 2 }),
    rounds: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Multiply this many times' }),
  },
  { additionalProperties: false },
);

export const scaleKind: JobKind<typeof ScaleParams> = {
  type: 'scale',
  paramsSchema: ScaleParams,
  requires: { model: true },
  trains: false,
  epochParams: ['rounds'],
  pipelineStep: { input: 'model' },
  async run(ctx, params) {
    const modelId = ctx.inputs.modelId!;
    const model = await ctx.models.load(modelId);
    try {
      for (let round = 1; round <= params.rounds; round++) {
        ctx.throwIfCanceled();
        tf.tidy(() => {
          for (const w of model.weights) w.write(w.read().mul(params.factor));
        });
        ctx.metrics([{ name: 'factor', step: round, value: params.factor ** round }]);
        ctx.progress({ fraction: round / params.rounds, step: round });
      }
      ctx.log(`scaled ${model.weights.length} weights by ${params.factor}^${params.rounds}`);
      const saved = await ctx.models.save(model, { name: 'scaled', parentModelId: modelId, report: { factor: params.factor } });
      return { resultModelIds: [saved.id], report: { factor: params.factor, rounds: params.rounds, weights: model.weights.length } };
    } finally {
      model.dispose();
    }
  },
};

registerJobKind(scaleKind);

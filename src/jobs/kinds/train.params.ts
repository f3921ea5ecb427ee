// Params of `train` jobs (API contract of issue 4); the kind is train.ts.
import { Type, type Static } from 'typebox';
import { ArchitectureParam } from '../../schemas/architecture.ts';

const strict = { additionalProperties: false } as const;

export { ArchitectureParam };

export const TrainParams = Type.Object(
  {
    architecture: Type.Optional(ArchitectureParam),
    epochs: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    optimizer: Type.Union([Type.Literal('sgd'), Type.Literal('momentum'), Type.Literal('adam')], { default: 'adam' }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-3 }),
    learningRateDecay: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Per-epoch decay: lr / (1 + decay × epoch)' })),
    momentum: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'For optimizer "momentum" (default 0.9)' })),
    validationSplit: Type.Number({ minimum: 0, maximum: 0.5, default: 0.1 }),
    earlyStopping: Type.Optional(
      Type.Object(
        {
          metric: Type.Union([Type.Literal('val_loss'), Type.Literal('val_accuracy'), Type.Literal('loss'), Type.Literal('accuracy')], {
            default: 'val_loss',
          }),
          patience: Type.Integer({ minimum: 1, maximum: 1000, default: 3 }),
          minDelta: Type.Number({ minimum: 0, default: 0 }),
        },
        strict,
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N training examples' })),
    seed: Type.Optional(Type.Integer()),
    metricsEverySteps: Type.Integer({ minimum: 1, maximum: 100_000, default: 10, description: 'Step-level loss metric every N steps' }),
  },
  strict,
);
export type TrainParams = Static<typeof TrainParams>;

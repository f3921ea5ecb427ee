// Params of `quantize` jobs (API contract of issue 5; `qat` from issue 16); the kind is quantize.ts. The manifest
// is per tensor: a stock manifest entry holds one scale/min. `qat.granularity: "channel"` trains against
// per-output-channel uint8 grids (the ONNX QDQ convention); the TF.js manifest cannot carry those, so such a model
// is stored as float32 values lying exactly on their grids, with the grids in the report.
import { Type, type Static } from 'typebox';

export const QatParams = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Fine-tuning epochs against fake-quantized weights' }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-4 }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    granularity: Type.Union([Type.Literal('tensor'), Type.Literal('channel')], {
      default: 'tensor',
      description: 'tensor: the grid the uint8 manifest stores; channel: per-output-channel grids (ONNX QDQ), stored as float32 on-grid values',
    }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Fine-tune on the first N training examples only' })),
    seed: Type.Optional(Type.Integer()),
  },
  {
    additionalProperties: false,
    description:
      'Quantization-aware fine-tuning before quantizing (uint8 only; needs a dataset): fake-quantized weights with a straight-through estimator',
  },
);
export type QatParams = Static<typeof QatParams>;

export const QuantizeParams = Type.Object(
  {
    dtype: Type.Union([Type.Literal('float16'), Type.Literal('uint8'), Type.Literal('uint16')], { default: 'uint8' }),
    qat: Type.Optional(QatParams),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Measure accuracy on the first N test examples only' })),
  },
  { additionalProperties: false },
);
export type QuantizeParams = Static<typeof QuantizeParams>;

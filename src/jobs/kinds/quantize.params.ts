// Params of `quantize` jobs (API contract of issue 5); the kind is quantize.ts. Per tensor only: a stock manifest
// entry holds one scale/min, so per-output-channel quantization cannot be written in a form stock tfjs loads.
import { Type, type Static } from 'typebox';

export const QuantizeParams = Type.Object(
  {
    dtype: Type.Union([Type.Literal('float16'), Type.Literal('uint8'), Type.Literal('uint16')], { default: 'uint8' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Measure accuracy on the first N test examples only' })),
  },
  { additionalProperties: false },
);
export type QuantizeParams = Static<typeof QuantizeParams>;

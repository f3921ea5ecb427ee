// Params of `quantize` jobs (API contract of issue 5). The kind itself (quantize.ts) arrives with the compression work.
import { Type, type Static } from 'typebox';

export const QuantizeParams = Type.Object(
  {
    dtype: Type.Union([Type.Literal('float16'), Type.Literal('uint8'), Type.Literal('uint16')], { default: 'uint8' }),
    perChannel: Type.Boolean({ default: false, description: 'Affine parameters per output channel where stock tfjs can load it' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Measure accuracy on the first N test examples only' })),
  },
  { additionalProperties: false },
);
export type QuantizeParams = Static<typeof QuantizeParams>;

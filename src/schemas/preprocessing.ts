// What a model expects as input (issue 14): how the dataset's stored values become the model's input values and in
// which layout. Declared at upload (the `preprocessing` form field, JSON) or later (PATCH /v1/models/{id}, GraphQL
// updateModel), detected where the file says it, inherited by job results; applied by src/jobs/io.ts wherever a
// job feeds dataset tensors to a model. One definition here drives validation, OpenAPI and types.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { AppError } from '../errors.ts';
import { validationField } from './validation-field.ts';

const PreprocessingFields = {
  scale: Type.Optional(
    Type.Number({
      description:
        "input = raw · scale + offset, where raw is the dataset's stored value (0-255 for image bytes). Default: the dataset's own normalization (1/255 for bytes, 1 for float features). A model trained on 0-255 pixels declares 1",
    }),
  ),
  offset: Type.Optional(Type.Number({ description: 'Added after scale (default: the dataset normalization’s offset, 0 for built-ins)' })),
  mean: Type.Optional(
    Type.Array(Type.Number(), {
      minItems: 1,
      maxItems: 4096,
      description: 'Per channel (one value for all channels), subtracted after scale/offset: input = (raw · scale + offset − mean[c]) / std[c]',
    }),
  ),
  std: Type.Optional(
    Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 4096, description: 'Per channel divisor (with mean; default 1)' }),
  ),
  layout: Type.Optional(
    Type.Union([Type.Literal('NHWC'), Type.Literal('NCHW'), Type.Literal('flat')], {
      description:
        'Layout of the input the model (its original file) expects: NHWC or NCHW images, or flat vectors. Dataset images (stored NHWC) are ' +
        'transposed for a stored model that takes channels-first input and reshaped when only flat vs image shape differs. Models imported ' +
        'from NCHW ONNX graphs are converted to NHWC, so their NCHW is informative (exports take NCHW again)',
    }),
  ),
};

/** The declared preprocessing (upload field, PATCH body). */
export const PreprocessingInput = Type.Object(PreprocessingFields, { additionalProperties: false });
export type PreprocessingInput = Static<typeof PreprocessingInput>;

/** As stored on a model: the declaration plus where it came from. */
export const Preprocessing = Type.Object(
  {
    ...PreprocessingFields,
    origin: Type.Union([Type.Literal('declared'), Type.Literal('detected')], {
      description: 'declared by a client, or detected from the file (an NCHW ONNX graph; a leading Keras Rescaling layer means raw 0-255 input)',
    }),
  },
  { description: 'What the model expects as input; null = the dataset normalization as is (0-1 pixels for image bytes)' },
);
export type Preprocessing = Static<typeof Preprocessing>;

/** What a job actually fed: the resolved numbers, reported in evaluate and job reports. */
export interface AppliedPreprocessing {
  scale: number;
  offset: number;
  mean: number[] | null;
  std: number[] | null;
  layout: 'NHWC' | 'NCHW' | 'flat' | null;
  /** declared | detected on the model, or "dataset" when the model declares nothing. */
  origin: Preprocessing['origin'] | 'dataset';
}

/** Validates a declaration (object or JSON text); VALIDATION_FAILED naming the field, e.g. "preprocessing.std[0]". */
export function parsePreprocessing(value: unknown, field = 'preprocessing'): PreprocessingInput {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new AppError('VALIDATION_FAILED', `${field}: not valid JSON`, { field });
    }
  }
  const first = Value.Check(PreprocessingInput, v) ? null : [...Value.Errors(PreprocessingInput, v)][0];
  if (first) {
    const at = validationField(field, first);
    const message = first.schemaPath.endsWith('additionalProperties') ? 'unknown property' : first.message;
    throw new AppError('VALIDATION_FAILED', `${at}: ${message}`, { field: at });
  }
  const p = v as PreprocessingInput;
  if (p.std && !p.mean) throw new AppError('VALIDATION_FAILED', `${field}.std: needs mean`, { field: `${field}.std` });
  if (p.mean && p.std && p.mean.length !== p.std.length && p.std.length !== 1 && p.mean.length !== 1) {
    throw new AppError('VALIDATION_FAILED', `${field}.std: ${p.std.length} values for ${p.mean.length} means`, { field: `${field}.std` });
  }
  return p;
}

/** The numbers a job feeds with: the model's declaration over the dataset's normalization. */
export function resolvePreprocessing(model: Preprocessing | null, dataset: { scale: number; offset: number }): AppliedPreprocessing {
  if (!model) return { ...dataset, mean: null, std: null, layout: null, origin: 'dataset' };
  return {
    scale: model.scale ?? dataset.scale,
    offset: model.offset ?? (model.scale === undefined ? dataset.offset : 0),
    mean: model.mean ?? null,
    std: model.mean ? (model.std ?? model.mean.map(() => 1)) : null,
    layout: model.layout ?? null,
    origin: model.origin,
  };
}

// The documented job-create body (OpenAPI): one variant per registered job kind, `type` its constant and `params`
// that kind's own schema (jobKindSchemas()), joined in CreateJobRequest, a oneOf discriminated by `type` with an
// explicit mapping. Documentation only: POST /v1/jobs still validates with CreateJobBody (schemas/job.ts) and
// then the kind's params schema (registry normalizeParams), so what the API accepts and its error codes
// (INVALID_JOB_PARAMS naming the field) do not change. Registered with the app (addSchema) so the variants are
// named components that generators turn into one type per kind.
import { Type, type TSchema } from 'typebox';
import { jobKindSchemas } from '../jobs/registry.ts';
import { Id } from './common.ts';
import { createJobExample } from './examples.ts';

const pascal = (type: string) => type.charAt(0).toUpperCase() + type.slice(1);

/** Component name of a kind's variant, e.g. CreatePruneJob. */
export const createJobVariantName = (type: string) => `Create${pascal(type)}Job`;

const priority = Type.Integer({ minimum: -1000, maximum: 1000, default: 0, description: 'Higher runs first' });

type Json = Record<string, unknown>;

/**
 * The schema as a request body sees it: a property with a default may be omitted, so it leaves `required`
 * (the kinds' TypeBox schemas list defaulted properties as required: that is the params after defaults).
 */
export function requestView(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(requestView);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema as Json)) {
    // `default`, `examples` and `const` hold values, not schemas.
    out[k] = k === 'default' || k === 'examples' || k === 'const' || k === 'enum' ? v : requestView(v);
  }
  const props = out.properties as Record<string, Json> | undefined;
  if (props && Array.isArray(out.required)) {
    const required = (out.required as string[]).filter((name) => props[name]?.default === undefined);
    if (required.length) out.required = required;
    else delete out.required;
  }
  return out;
}

function variant(type: string, paramsSchema: TSchema) {
  return Type.Object(
    {
      type: Type.Literal(type, { description: 'Job kind' }),
      params: Type.Optional({
        ...(requestView(JSON.parse(JSON.stringify(paramsSchema))) as TSchema),
        description: `Parameters of a ${type} job; omitted ones take their defaults`,
      }),
      modelId: Type.Optional(Id),
      teacherModelId: Type.Optional(Id),
      datasetId: Type.Optional(Id),
      priority: Type.Optional(priority),
    },
    { $id: createJobVariantName(type), additionalProperties: false, description: `Create a ${type} job` },
  );
}

/** One variant per kind, in registry order. */
export const CREATE_JOB_VARIANTS = jobKindSchemas().map(({ type, paramsSchema }) => variant(type, paramsSchema));

// A plain oneOf (TypeBox's Union is anyOf): exactly one variant matches, as `type` is a constant in each.
export const CreateJobRequest = {
  $id: 'CreateJobRequest',
  oneOf: jobKindSchemas().map(({ type }) => ({ $ref: `${createJobVariantName(type)}#` })),
  examples: [createJobExample],
  description: 'A job to create: `type` selects the kind and with it the schema of `params`',
  discriminator: {
    propertyName: 'type',
    mapping: Object.fromEntries(jobKindSchemas().map(({ type }) => [type, `#/components/schemas/${createJobVariantName(type)}`])),
  },
} as const;

/** Registered with the app (addSchema): the request body of createJob in the OpenAPI document. */
export const CREATE_JOB_SCHEMAS = [...CREATE_JOB_VARIANTS, CreateJobRequest];

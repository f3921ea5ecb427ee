// The job-kind registry: the one list of kinds. Adding a kind is one file declaring a JobKind plus one line in
// BUILT_IN below (or a registerJobKind call, as a test does). Everything that names kinds reads it: the REST and
// OpenAPI `type` enums (schemas/job.ts), the GraphQL JobType enum (graphql/job-types.ts), params validation, the
// resource guards (estimateDemand) and the pipeline's step list. The list is sealed the first time it is read (the
// TypeBox schemas derive their enums at import): registering later would leave those enums without the new kind,
// so it throws instead.
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { AppError } from '../errors.ts';
import { validationField } from '../schemas/validation-field.ts';
import type { JobInputs, JobKind, ResourceDemand, ResourceFacts, ValidationFacts } from './kind.ts';
import { activationBytes } from './resource-estimate.ts';
import { autocompressKind } from './kinds/autocompress.ts';
import { clusterKind } from './kinds/cluster.ts';
import { distillKind } from './kinds/distill.ts';
import { evaluateKind } from './kinds/evaluate.ts';
import { noopKind } from './kinds/noop.ts';
import { createPipelineKind, type KindLookup } from './kinds/pipeline.ts';
import { pruneKind } from './kinds/prune.ts';
import { quantizeKind } from './kinds/quantize.ts';
import { sensitivityKind } from './kinds/sensitivity.ts';
import { trainKind } from './kinds/train.ts';

export type { JobKind };

const kinds = new Map<string, JobKind>();
let sealed = false;

/** Adds a kind. Call it before anything reads the list (in practice: before the app's modules are imported). */
export function registerJobKind<S extends TSchema>(kind: JobKind<S>): void {
  // lowerCamel: the same name is a REST enum value and a GraphQL enum value.
  if (!/^[a-z][a-zA-Z0-9]*$/.test(kind.type)) throw new Error(`job kind name ${JSON.stringify(kind.type)} is not lowerCamel`);
  if (kinds.has(kind.type)) throw new Error(`job kind ${kind.type} is already registered`);
  if (sealed) throw new Error(`job kind ${kind.type} registered after the kind list was read; register kinds first`);
  kinds.set(kind.type, kind);
}

/** Every registered kind, in registration order (the order of the API enums). */
export function jobKinds(): readonly JobKind[] {
  sealed = true;
  return [...kinds.values()];
}

/** Every kind's name, in registration order. */
export const jobTypes = (): string[] => jobKinds().map((k) => k.type);

/** Each kind's name and params schema, for documents that describe every kind's params (OpenAPI). */
export const jobKindSchemas = () => jobKinds().map((k) => ({ type: k.type, paramsSchema: k.paramsSchema }));

export function getKind(type: string): JobKind {
  sealed = true;
  const kind = kinds.get(type);
  if (!kind) throw new AppError('INVALID_JOB_PARAMS', `type: unknown job type "${type}"`, { field: 'type' });
  return kind;
}

/**
 * Validates `params` against the kind's schema with defaults applied (then the kind's own normalize, e.g. a
 * pipeline's steps against their kinds) and returns the normalized params. Throws INVALID_JOB_PARAMS naming the
 * failing field, e.g. "params.epochs".
 */
export function normalizeParams(type: string, params: unknown, field = 'params'): Record<string, unknown> {
  const kind = getKind(type);
  const value = Value.Default(kind.paramsSchema, structuredClone(params ?? {}));
  const first = Value.Check(kind.paramsSchema, value) ? null : [...Value.Errors(kind.paramsSchema, value)][0];
  if (first) {
    const at = validationField(field, first);
    const message = first.schemaPath.endsWith('additionalProperties') ? 'unknown property' : first.message;
    throw new AppError('INVALID_JOB_PARAMS', `${at}: ${message}`, { field: at });
  }
  const out = value as Record<string, unknown>;
  return kind.normalize ? (kind.normalize(out, field) as Record<string, unknown>) : out;
}

/** Runs the kind's extra checks (beyond the schema). */
export async function validateKind(
  type: string,
  params: Record<string, unknown>,
  inputs: JobInputs,
  facts: ValidationFacts,
  field = 'params',
): Promise<void> {
  await getKind(type).validate?.(params, inputs, facts, field);
}

/** float32 bytes held per model parameter: weights, gradients and two optimizer moments when training, weights only otherwise. */
const BYTES_PER_PARAM = { training: 16, inference: 8 } as const;

/** What a job of `type` with normalized `params` needs: the kind's estimate, or the default from `trains` and `epochParams`. */
export function estimateDemand(type: string, params: Record<string, unknown>, facts: ResourceFacts, field = 'params'): ResourceDemand {
  const kind = getKind(type);
  if (kind.estimate) return kind.estimate(params, facts, field);
  const perParam = kind.trains ? BYTES_PER_PARAM.training : BYTES_PER_PARAM.inference;
  const epochs = (kind.epochParams ?? [])
    .filter((name) => typeof params[name] === 'number')
    .map((name) => ({ field: `${field}.${name}`, value: params[name] as number }));
  return { bytes: facts.modelParams * perParam + facts.teacherParams * 4 + facts.datasetBytes + activationBytes(params, facts, kind.trains), epochs };
}

const lookup: KindLookup = {
  get: getKind,
  stepTypes: () =>
    jobKinds()
      .filter((k) => k.pipelineStep)
      .map((k) => k.type),
  normalize: normalizeParams,
  validate: validateKind,
  demand: estimateDemand,
};

const BUILT_IN: JobKind[] = [
  trainKind,
  evaluateKind,
  pruneKind,
  distillKind,
  quantizeKind,
  createPipelineKind(lookup),
  noopKind,
  clusterKind,
  sensitivityKind,
  autocompressKind,
];
for (const kind of BUILT_IN) registerJobKind(kind);

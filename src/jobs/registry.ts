// Every job kind, in one list: adding a kind is one line. A kind listed without `run` (e.g. while it is being
// written) can be created and validated, and a worker fails its jobs with JOB_FAILED "not implemented".
import { Value } from 'typebox/value';
import { AppError } from '../errors.ts';
import type { JobInputs, JobKind, JobType, ValidationFacts } from './kind.ts';
import { distillKind } from './kinds/distill.ts';
import { evaluateKind } from './kinds/evaluate.ts';
import { noopKind } from './kinds/noop.ts';
import { pipelineKind } from './kinds/pipeline.ts';
import { pruneKind } from './kinds/prune.ts';
import { quantizeKind } from './kinds/quantize.ts';
import { trainKind } from './kinds/train.ts';

export type KindEntry = Omit<JobKind, 'run'> & { run?: JobKind['run'] };

export const KINDS: readonly KindEntry[] = [noopKind, trainKind, evaluateKind, pruneKind, distillKind, quantizeKind, pipelineKind];

const byType = new Map(KINDS.map((k) => [k.type, k]));

export function getKind(type: string): KindEntry {
  const kind = byType.get(type as JobType);
  if (!kind) throw new AppError('INVALID_JOB_PARAMS', `type: unknown job type "${type}"`, { field: 'type' });
  return kind;
}

/** "/steps/0/params" → "params.steps[0].params" */
const toField = (prefix: string, pointer: string) =>
  prefix +
  pointer
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');

/**
 * Validates `params` against the kind's schema with defaults applied (a pipeline's steps against their own kinds)
 * and returns the normalized params. Throws INVALID_JOB_PARAMS naming the failing field, e.g. "params.epochs".
 */
export function normalizeParams(type: string, params: unknown, field = 'params'): Record<string, unknown> {
  const kind = getKind(type);
  const value = Value.Default(kind.paramsSchema, structuredClone(params ?? {}));
  const first = Value.Check(kind.paramsSchema, value) ? null : [...Value.Errors(kind.paramsSchema, value)][0];
  if (first) {
    const missing = first.keyword === 'required' ? (first.params as { requiredProperties?: string[] }).requiredProperties?.[0] : undefined;
    const at = toField(field, first.instancePath) + (missing ? `.${missing}` : '');
    const message = first.schemaPath.endsWith('additionalProperties') ? 'unknown property' : first.message;
    throw new AppError('INVALID_JOB_PARAMS', `${at}: ${message}`, { field: at });
  }
  const out = value as Record<string, unknown>;
  if (type === 'pipeline') {
    const steps = out.steps as { type: string; params: unknown }[];
    steps.forEach((s, i) => {
      s.params = normalizeParams(s.type, s.params, `${field}.steps[${i}].params`);
    });
  }
  return out;
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

// The one spelling of "which field failed validation", shared by REST problems (fastify's Ajv errors), GraphQL
// input errors and job-params errors (TypeBox's Value errors): a prefix ("body", "querystring", "input",
// "params"), the JSON pointer's segments with array indices in brackets, and a missing required property's
// name — e.g. "params.steps[0].params.fineTuneEpochs".

/** The part of an Ajv or TypeBox validation error that locates it. */
export interface LocatedError {
  instancePath: string;
  keyword?: string;
  params?: unknown;
}

/** The missing property of a `required` error: Ajv reports `missingProperty`, TypeBox `requiredProperties`. */
function missingProperty(error: LocatedError): string | undefined {
  if (error.keyword !== 'required' || !error.params || typeof error.params !== 'object') return undefined;
  const params = error.params as { missingProperty?: unknown; requiredProperties?: unknown };
  if (typeof params.missingProperty === 'string') return params.missingProperty;
  const [first] = Array.isArray(params.requiredProperties) ? (params.requiredProperties as unknown[]) : [];
  return typeof first === 'string' ? first : undefined;
}

/** e.g. validationField('params', { instancePath: '/steps/0/params', keyword: 'required', … }) → "params.steps[0].params.epochs". */
export function validationField(prefix: string | undefined, error: LocatedError): string {
  const segments = error.instancePath.split('/').filter(Boolean);
  const missing = missingProperty(error);
  if (missing !== undefined) segments.push(missing);
  let field = prefix ?? '';
  for (const s of segments) field += /^\d+$/.test(s) ? `[${s}]` : field ? `.${s}` : s;
  return field;
}

export interface MessagedError extends LocatedError {
  message?: string;
}

/**
 * The message of the first error, with the allowed values spelled out where the schema has a closed set: `enum`
 * (Ajv and TypeBox report only "must be equal to one of the allowed values") and a union of constants (reported
 * as one "must be equal to constant" per branch, then anyOf), e.g. "must be one of: float16, uint8, uint16".
 */
export function validationMessage(errors: readonly MessagedError[]): string {
  const first = errors[0];
  if (!first) return 'invalid';
  const params = (first.params ?? {}) as { allowedValues?: unknown[] };
  if (first.keyword === 'enum' && Array.isArray(params.allowedValues)) return `must be one of: ${params.allowedValues.map(String).join(', ')}`;
  if (first.keyword === 'const') {
    const branches = errors.filter((e) => e.instancePath === first.instancePath && e.keyword === 'const');
    const allowed = branches.map((e) => (e.params as { allowedValue?: unknown } | undefined)?.allowedValue).filter((v) => v !== undefined);
    if (allowed.length > 1) return `must be one of: ${allowed.map(String).join(', ')}`;
  }
  return first.message ?? 'invalid';
}

/**
 * What a VALIDATION_FAILED error says, the same in REST and GraphQL: the first error's field and
 * `"<field>: <message>"`, e.g. { field: "input.params.epochs", text: "input.params.epochs: must be >= 1" }.
 */
export function describeValidation(prefix: string | undefined, errors: readonly MessagedError[]): { field: string; text: string } {
  const field = errors[0] ? validationField(prefix, errors[0]) : (prefix ?? '');
  return { field, text: `${field || 'request'}: ${validationMessage(errors)}` };
}

// GraphQL errors carry the same stable codes as REST problem documents: errors[].extensions = { code, status,
// details? }. AppErrors keep their code; GraphQL syntax/validation/variable errors are VALIDATION_FAILED; the query
// depth limit is RESOURCE_LIMIT; a client error raised by fastify or mercurius before execution (malformed JSON,
// wrong content type, body too large, request-schema violations, GET mutation) keeps its 4xx status under our
// code; anything else is INTERNAL with its message hidden (and logged).
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import { AppError, ErrorCodes, isAppError, type ErrorCode } from '../errors.ts';
import { describeValidation, type LocatedError } from '../schemas/validation-field.ts';

type Formatted = {
  message: string;
  locations?: unknown;
  path?: unknown;
  extensions: { code: string; status: number; details?: Record<string, unknown> };
};

/** The code of a 4xx status raised outside our code (fastify content-type parsers, mercurius request checks). */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/** An ajv validation entry (mercurius puts them in MER_ERR_GQL_VALIDATION.errors): `{ instancePath, message }`. */
const isAjvEntry = (e: unknown): e is LocatedError & { message?: string } =>
  !!e && typeof e === 'object' && !(e instanceof Error) && 'keyword' in e && typeof (e as LocatedError).instancePath === 'string';

/** An ajv entry as VALIDATION_FAILED, spelled as REST spells it ("body.query: must be string"). */
function validationError(entry: LocatedError & { message?: string }): AppError {
  const { field, text } = describeValidation('body', [entry]);
  return new AppError('VALIDATION_FAILED', text, { field });
}

function clientError(err: unknown): AppError | null {
  if (!err || typeof err !== 'object') return null;
  if (isAjvEntry(err)) return validationError(err);
  const { statusCode, validation } = err as { statusCode?: unknown; validation?: unknown };
  if (Array.isArray(validation) && validation[0]) return clientError(validation[0]);
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return null;
  const code = CODE_BY_STATUS[statusCode] ?? 'VALIDATION_FAILED';
  return new AppError(code, (err as Error).message || ErrorCodes[code].title);
}

function codeOf(err: GraphQLError): AppError | 'internal' {
  if (isAppError(err)) return err;
  if (isAppError(err.originalError)) return err.originalError;
  const mercuriusCode = (err as { code?: string }).code ?? (err.originalError as { code?: string } | undefined)?.code;
  if (mercuriusCode === 'MER_ERR_GQL_QUERY_DEPTH') return new AppError('RESOURCE_LIMIT', err.message.replace(/`/g, ''));
  const client = clientError(err.originalError) ?? clientError(err);
  if (client) return client;
  // GraphQL's own errors (syntax, validation, variable coercion, scalar parsing) have no foreign cause.
  if (err instanceof GraphQLError && (!err.originalError || err.originalError instanceof GraphQLError))
    return new AppError('VALIDATION_FAILED', err.message);
  return 'internal';
}

function toGraphQLError(err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return err;
  if (isAjvEntry(err)) {
    const original = validationError(err);
    return new GraphQLError(original.message, { originalError: original });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return new GraphQLError(e.message, { originalError: e });
}

/** mercurius `errorFormatter`. */
export function formatErrors(execution: ExecutionResult & { errors: readonly GraphQLError[] }, ctx: MercuriusContext) {
  const log = ctx.reply != null ? ctx.reply.log : ctx.app.log;
  // mercurius wraps validation failures as one error holding the list in originalError.errors
  const flat = execution.errors.flatMap((e) => {
    const inner = (e.originalError as { errors?: unknown[] } | undefined)?.errors;
    return Array.isArray(inner) && inner.length ? inner.map(toGraphQLError) : [e];
  });
  const errors: Formatted[] = flat.map((err) => {
    const c = codeOf(err);
    const base = { locations: err.locations, path: err.path };
    if (c === 'internal') {
      log.error({ err: err.originalError ?? err }, 'graphql resolver failed');
      return { ...base, message: 'internal error', extensions: { code: 'INTERNAL', status: ErrorCodes.INTERNAL.status } };
    }
    const details = c.details && Object.keys(c.details).length ? c.details : undefined;
    return { ...base, message: c.message, extensions: { code: c.code, status: c.status, ...(details ? { details } : {}) } };
  });
  // Partial data is 200 (GraphQL over HTTP); a request that produced no data takes the status of its first error.
  const statusCode = execution.data ? 200 : errors[0].extensions.status;
  return { statusCode, response: { data: execution.data ?? null, errors } as unknown as ExecutionResult };
}

// GraphQL errors carry the same stable codes as REST problem documents: errors[].extensions = { code, status,
// details? }. AppErrors keep their code; GraphQL syntax/validation/variable errors are VALIDATION_FAILED; the query
// depth limit is RESOURCE_LIMIT; anything else is INTERNAL with its message hidden (and logged).
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import { AppError, ErrorCodes, isAppError } from '../errors.ts';

type Formatted = {
  message: string;
  locations?: unknown;
  path?: unknown;
  extensions: { code: string; status: number; details?: Record<string, unknown> };
};

function appErrorOf(err: GraphQLError): AppError | null {
  if (isAppError(err)) return err;
  if (isAppError(err.originalError)) return err.originalError;
  return null;
}

function codeOf(err: GraphQLError): AppError | 'internal' {
  const app = appErrorOf(err);
  if (app) return app;
  const mercuriusCode = (err as { code?: string }).code ?? (err.originalError as { code?: string } | undefined)?.code;
  if (mercuriusCode === 'MER_ERR_GQL_QUERY_DEPTH') return new AppError('RESOURCE_LIMIT', err.message.replace(/`/g, ''));
  // GraphQL's own errors (syntax, validation, variable coercion, scalar parsing) have no foreign cause.
  if (err instanceof GraphQLError && (!err.originalError || err.originalError instanceof GraphQLError))
    return new AppError('VALIDATION_FAILED', err.message);
  return 'internal';
}

function toGraphQLError(err: Error): GraphQLError {
  return err instanceof GraphQLError ? err : new GraphQLError(err.message, { originalError: err });
}

/** mercurius `errorFormatter`. */
export function formatErrors(execution: ExecutionResult & { errors: readonly GraphQLError[] }, ctx: MercuriusContext) {
  const log = ctx.reply != null ? ctx.reply.log : ctx.app.log;
  // mercurius wraps validation failures as one error holding the list in originalError.errors
  const flat = execution.errors.flatMap((e) => {
    const inner = (e.originalError as { errors?: Error[] } | undefined)?.errors;
    return Array.isArray(inner) ? inner.map(toGraphQLError) : [e];
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

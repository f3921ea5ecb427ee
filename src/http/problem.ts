// The one place errors become HTTP responses: RFC 9457 problem+json carrying the stable AppError code.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, ErrorCodes, type ErrorCode, isAppError } from '../errors.ts';
import { describeValidation } from '../schemas/validation-field.ts';
import { collectRoutes } from './method-not-allowed.ts';

const PROBLEM_BASE = 'https://modelpress.dev/problems/';

/** Maps fastify's and plugins' own errors (validation, body limits, multipart limits) onto our codes. */
function toAppError(err: FastifyError): AppError {
  if (isAppError(err)) return err;
  if (err.validation) {
    const { field, text } = describeValidation(err.validationContext, err.validation);
    return new AppError('VALIDATION_FAILED', err.validation.length > 0 ? text : `${field || 'request'}: ${err.message}`, {
      field,
      errors: err.validation,
    });
  }
  const code = err.code ?? '';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || code === 'FST_REQ_FILE_TOO_LARGE' || code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new AppError('PAYLOAD_TOO_LARGE', err.message);
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new AppError('UNSUPPORTED_MEDIA_TYPE', err.message);
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new AppError('VALIDATION_FAILED', `body: ${err.message}`);
  }
  if (err.statusCode === 429) return new AppError('RATE_LIMITED', err.message);
  // busboy's parse errors carry no code: a multipart body that does not parse is the client's fault.
  if (/^(Multipart: |Malformed part header|Unexpected end of (form|multipart data)|Part terminated early)/.test(err.message ?? '')) {
    return new AppError('INVALID_UPLOAD', `malformed multipart body: ${err.message}`);
  }
  // The client went away mid-request (its upload is cleaned up); no server fault to log as one.
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || err.name === 'PrematureCloseError') {
    return new AppError('INVALID_UPLOAD', `request aborted by the client: ${err.message}`);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    const match = (Object.keys(ErrorCodes) as ErrorCode[]).find((c) => ErrorCodes[c].status === err.statusCode);
    return new AppError(match ?? 'VALIDATION_FAILED', err.message);
  }
  return new AppError('INTERNAL', 'internal error', undefined, { cause: err });
}

export function problemBody(e: AppError, instance?: string, requestId?: string) {
  return {
    type: PROBLEM_BASE + e.code.toLowerCase().replace(/_/g, '-'),
    title: ErrorCodes[e.code].title,
    status: e.status,
    detail: e.message,
    code: e.code,
    instance,
    requestId,
    details: e.details && Object.keys(e.details).length ? e.details : undefined,
  };
}

/** Registers the error and not-found handlers; call before any route is added (405 needs the route table). */
export function registerProblemHandler(app: FastifyInstance) {
  const allowedMethods = collectRoutes(app);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toAppError(err);
    if (e.status >= 500) req.log.error({ err: (e.cause as Error) ?? e }, 'request failed');
    else req.log.info({ code: e.code, detail: e.message }, 'request rejected');
    reply
      .status(e.status)
      .type('application/problem+json')
      .send(problemBody(e, req.url, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allow = allowedMethods(path);
    const e = allow.length
      ? new AppError('METHOD_NOT_ALLOWED', `${req.method} is not supported on ${path}; use ${allow.join(', ')}`, { allow })
      : new AppError('NOT_FOUND', `no route ${req.method} ${path}`);
    if (allow.length) reply.header('allow', allow.join(', '));
    reply
      .status(e.status)
      .type('application/problem+json')
      .send(problemBody(e, req.url, req.id));
  });
}

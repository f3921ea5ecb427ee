// Every error the service reports has one stable, machine-readable `code`, defined here and nowhere else.
// REST maps AppError to application/problem+json (src/http/problem.ts); GraphQL to errors[].extensions.code.

export const ErrorCodes = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  BAD_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  INVALID_UPLOAD: { status: 400, title: 'Invalid upload' },
  INVALID_JOB_PARAMS: { status: 400, title: 'Invalid job parameters' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  NOT_FOUND: { status: 404, title: 'Resource not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  CONFLICT: { status: 409, title: 'Conflict' },
  INVALID_STATE: { status: 409, title: 'Operation not allowed in the current state' },
  IDEMPOTENCY_CONFLICT: { status: 409, title: 'Idempotency key reused with a different request' },
  IN_USE: { status: 409, title: 'In use by a queued or running job' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  URI_TOO_LONG: { status: 414, title: 'URI too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable' },
  INVALID_MODEL: { status: 422, title: 'Not a valid model' },
  WEIGHTS_MISMATCH: { status: 422, title: 'Weight files do not match the manifest' },
  MISSING_WEIGHTS: { status: 422, title: 'A weight file named by the manifest is missing' },
  UNSUPPORTED_OPERATOR: { status: 422, title: 'The model uses operators or layers that cannot be converted' },
  INVALID_DATASET: { status: 422, title: 'Not a valid dataset' },
  INCOMPATIBLE_INPUTS: { status: 422, title: 'Model and dataset do not fit together' },
  RESOURCE_LIMIT: { status: 422, title: 'Request exceeds a resource limit' },
  NOT_PRUNABLE: { status: 422, title: 'No channel of the model can be removed' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  INTERNAL: { status: 500, title: 'Internal error' },
  UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  JOB_FAILED: { status: 500, title: 'Job failed' },
  JOB_CANCELED: { status: 409, title: 'Job was canceled' },
  JOB_TIMEOUT: { status: 500, title: 'Job exceeded its time limit' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable context, e.g. { field: "params.epochs" } or { limitBytes }. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.details = details;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export const notFound = (what: string, id: string) => new AppError('NOT_FOUND', `${what} ${id} not found`, { resource: what, id });

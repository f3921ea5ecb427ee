// Shared JSON schemas (TypeBox): the single source for request validation, response serialization,
// TypeScript types and the OpenAPI document.
import { Type, type Static, type TSchema } from 'typebox';
import { ErrorCodes, type ErrorCode } from '../errors.ts';

export const Id = Type.String({ format: 'uuid', description: 'Resource id (UUID)' });
export const IdParams = Type.Object({ id: Id });

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ description: 'Opaque cursor from a previous page (nextCursor)' })),
});

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= to get the next page; null on the last page' }),
  });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. INVALID_MODEL' }),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);
export type Problem = Static<typeof Problem>;

export const FileInfo = Type.Object({
  path: Type.String(),
  sizeBytes: Type.Integer(),
  sha256: Type.String(),
});

export const Shape = Type.Array(Type.Union([Type.Integer(), Type.Null()]), { description: 'Tensor shape; null = any size (batch)' });

/** Standard error responses added to every route's schema, so the OpenAPI spec documents them. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: 'Problem details (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
    ]),
  );

/** An example problem document for a status (the first error code with that status), for the OpenAPI document. */
export function problemExample(status: number): Problem {
  const code = (Object.keys(ErrorCodes) as ErrorCode[]).find((c) => ErrorCodes[c].status === status) ?? 'INTERNAL';
  return {
    type: `https://modelpress.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: ErrorCodes[code].title,
    status,
    detail: status === 400 ? 'body.type: must be equal to one of the allowed values: train, evaluate, prune' : ErrorCodes[code].title,
    code,
    instance: '/v1/jobs',
    requestId: 'c0ffee00-0000-4000-8000-000000000000',
  };
}

// The shape of a GraphQL-over-HTTP request, checked before mercurius sees it, so every malformed request is a 4xx
// GraphQL error instead of a crash: POST bodies must be one JSON object (batched arrays are refused: one
// operation per request keeps the limits per request meaningful), `query` a non-empty string within
// MAX_QUERY_CHARS that parses, `variables` an object, `operationName` a string naming an operation of the
// document; GET serves queries only (405 with `Allow: POST` for mutations). The parsed document also passes the
// field/alias caps here, before GraphQL validation runs over it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, GraphQLError, OperationTypeNode, parse, type DocumentNode } from 'graphql';
import { AppError } from '../errors.ts';
import { checkDocumentShape, MAX_QUERY_CHARS, MAX_TOKENS } from './limits.ts';

const invalid = (message: string, field?: string) => new AppError('VALIDATION_FAILED', message, field ? { field } : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function parseJsonParam(raw: unknown, name: string): Record<string, unknown> | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalid(`${name}: must be given once, as a JSON object`, name);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid(`${name}: not valid JSON`, name);
  }
  if (v !== null && !isObject(v)) throw invalid(`${name}: must be a JSON object`, name);
  return v ?? undefined;
}

function parseQuery(query: unknown): DocumentNode {
  if (typeof query !== 'string' || query.trim() === '') throw invalid('query: must be a non-empty string holding a GraphQL document', 'query');
  if (query.length > MAX_QUERY_CHARS) {
    throw new AppError('PAYLOAD_TOO_LARGE', `query: longer than ${MAX_QUERY_CHARS} characters`, { limit: MAX_QUERY_CHARS, field: 'query' });
  }
  try {
    return parse(query, { maxTokens: MAX_TOKENS, noLocation: true });
  } catch (err) {
    throw invalid(err instanceof GraphQLError ? err.message : 'query: not a GraphQL document', 'query');
  }
}

/** The operation that will run; refuses a missing or ambiguous operationName (GraphQL would fail later, less clearly). */
function operationOf(doc: DocumentNode, operationName: unknown) {
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    throw invalid('operationName: must be a string', 'operationName');
  }
  const op = getOperationAST(doc, operationName || undefined);
  if (!op) {
    throw invalid(
      operationName
        ? `operationName: no operation named ${JSON.stringify(operationName)}`
        : 'operationName: required when the document has several operations',
      'operationName',
    );
  }
  return op;
}

/** fastify preValidation hook for the /graphql routes (not for the WebSocket upgrade). */
export async function guardGraphqlRequest(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.routeOptions.url !== '/graphql' || req.headers.upgrade?.toLowerCase() === 'websocket') return;
  if (req.method === 'GET') {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const doc = parseQuery(q.query);
    parseJsonParam(q.variables, 'variables');
    parseJsonParam(q.extensions, 'extensions');
    const op = operationOf(doc, q.operationName);
    if (op.operation !== OperationTypeNode.QUERY) {
      reply.header('allow', 'POST');
      throw new AppError('METHOD_NOT_ALLOWED', `a ${op.operation} must be sent with POST; GET serves queries only`, { method: 'GET' });
    }
    checkDocumentShape(doc);
    return;
  }
  if (req.method !== 'POST') return;
  const body: unknown = req.body;
  if (Array.isArray(body)) throw invalid('batched requests are not supported: send one operation per request', 'body');
  if (!isObject(body)) throw invalid('body: must be a JSON object { query, variables?, operationName? }', 'body');
  if (body.variables !== undefined && body.variables !== null && !isObject(body.variables))
    throw invalid('variables: must be an object', 'variables');
  if (body.extensions !== undefined && body.extensions !== null && !isObject(body.extensions))
    throw invalid('extensions: must be an object', 'extensions');
  const doc = parseQuery(body.query);
  operationOf(doc, body.operationName);
  checkDocumentShape(doc);
}

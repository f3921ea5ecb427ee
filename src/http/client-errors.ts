// Requests Node rejects before fastify sees them (headers over --max-http-header-size, a request line that alone is
// too long, unparsable HTTP, a body timeout) and URLs too long to route: answered as problem+json like every other
// error, instead of fastify's bare JSON. Node counts the request line towards the header limit, so an overflow
// whose first line is already longer than MAX_URL_CHARS is reported as 414, any other as 431.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { problemBody } from './problem.ts';

/** Longest URL (path + query) served; longer ones are 414. */
export const MAX_URL_CHARS = 8 * 1024;

function rawResponse(e: AppError): string {
  const body = JSON.stringify(problemBody(e));
  return (
    `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\nConnection: close\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

function firstLineLength(raw: unknown): number {
  if (!Buffer.isBuffer(raw)) return 0;
  const end = raw.indexOf('\r\n');
  return end < 0 ? raw.length : end;
}

/** fastify `clientErrorHandler`. */
export function clientErrorHandler(err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let e: AppError;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') e = new AppError('VALIDATION_FAILED', 'the request was not received in time');
  else if (err.code === 'HPE_HEADER_OVERFLOW') {
    e =
      firstLineLength(err.rawPacket) > MAX_URL_CHARS
        ? new AppError('URI_TOO_LONG', `the request URL is longer than ${MAX_URL_CHARS} characters`, { limit: MAX_URL_CHARS })
        : new AppError('HEADERS_TOO_LARGE', `the request headers are larger than ${http.maxHeaderSize} bytes`, { limitBytes: http.maxHeaderSize });
  } else e = new AppError('VALIDATION_FAILED', 'malformed HTTP request');
  if (socket.writable) socket.write(rawResponse(e));
  socket.destroy();
}

/** 414 for URLs the router would otherwise have to parse and match. */
export function registerUrlLimit(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    if (req.url.length > MAX_URL_CHARS) {
      throw new AppError('URI_TOO_LONG', `the request URL is longer than ${MAX_URL_CHARS} characters`, { limit: MAX_URL_CHARS });
    }
  });
}

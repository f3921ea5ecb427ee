// RFC 8288 `Link: <…>; rel="next"` beside a page's nextCursor, so generic HTTP clients can follow pages.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Sets the Link header when there is a next page: the same URL with `cursor` replaced (relative to the server). */
export function nextLink(req: FastifyRequest, reply: FastifyReply, nextCursor: string | null): void {
  if (!nextCursor) return;
  const url = new URL(req.url, 'http://x');
  url.searchParams.set('cursor', nextCursor);
  reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
}

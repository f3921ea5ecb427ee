// Security headers: helmet's defaults everywhere, and a Content-Security-Policy per kind of response — none
// allowed for API responses, same-origin for the dashboard and Swagger UI, and GraphiQL's CDN (unpkg) for
// /graphiql, whose page mercurius loads from there.
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');
const GRAPHIQL_CSP = UI_CSP.replace("script-src 'self'", "script-src 'self' https://unpkg.com")
  .replace("style-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline' https://unpkg.com")
  .replace("font-src 'self' data:", "font-src 'self' data: https://unpkg.com")
  .replace("img-src 'self' data: blob:", "img-src 'self' data: blob: https://unpkg.com");

export function contentSecurityPolicy(path: string): string {
  if (path === '/graphiql' || path.startsWith('/graphiql/')) return GRAPHIQL_CSP;
  const api =
    path.startsWith('/v1/') ||
    path === '/v1' ||
    path === '/graphql' ||
    path === '/metrics' ||
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/openapi.json';
  return api ? API_CSP : UI_CSP;
}

export async function registerSecurityHeaders(app: FastifyInstance) {
  await app.register(helmet, { global: true, contentSecurityPolicy: false });
  app.addHook('onSend', async (req, reply) => {
    reply.header('content-security-policy', contentSecurityPolicy(req.url.split('?')[0]));
  });
}

// Security headers: helmet's defaults everywhere, and a Content-Security-Policy per kind of response — none
// allowed for API responses, same-origin for the dashboard and Swagger UI (its assets come from the
// @fastify/swagger-ui package, GraphiQL's from graphiql/react/react-dom; connect-src 'self' plus WebSockets to the
// request's own host only). No page loads anything from another origin.
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** The UI policy; WebSockets only to this very host (the GraphQL subscriptions), never any `ws:` host. */
function uiCsp(host: string | null): string {
  const sameHostWs = host ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sameHostWs}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** A Host header usable in a policy (host[:port], IPv6 in brackets); anything else gets no ws source. */
const safeHost = (host: string | undefined) => (host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : null);

export function contentSecurityPolicy(path: string, host?: string): string {
  const ui = uiCsp(safeHost(host));
  const api =
    path.startsWith('/v1/') ||
    path === '/v1' ||
    path === '/graphql' ||
    path === '/metrics' ||
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/openapi.json';
  return api ? API_CSP : ui;
}

export async function registerSecurityHeaders(app: FastifyInstance) {
  await app.register(helmet, { global: true, contentSecurityPolicy: false });
  app.addHook('onSend', async (req, reply) => {
    reply.header('content-security-policy', contentSecurityPolicy(req.url.split('?')[0], req.headers.host));
  });
}

// Security headers: helmet's defaults everywhere, and a Content-Security-Policy per kind of response — none
// allowed for API responses, same-origin for the dashboard and Swagger UI (its assets come from the
// @fastify/swagger-ui package; connect-src 'self' plus WebSockets to the request's own host only), and for
// /graphiql the three pinned unpkg package folders mercurius's page loads.
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

/**
 * mercurius's GraphiQL page loads React and GraphiQL from unpkg (the packages are not dependencies here): the
 * policy allows exactly those three versioned package folders, not the whole CDN.
 */
const GRAPHIQL_ASSETS = ['https://unpkg.com/graphiql@3.7.1/', 'https://unpkg.com/react@18.3.1/', 'https://unpkg.com/react-dom@18.3.1/'].join(' ');

/** A Host header usable in a policy (host[:port], IPv6 in brackets); anything else gets no ws source. */
const safeHost = (host: string | undefined) => (host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : null);

export function contentSecurityPolicy(path: string, host?: string): string {
  const ui = uiCsp(safeHost(host));
  if (path === '/graphiql' || path.startsWith('/graphiql/')) {
    return ui
      .replace("script-src 'self'", `script-src 'self' ${GRAPHIQL_ASSETS}`)
      .replace("style-src 'self' 'unsafe-inline'", `style-src 'self' 'unsafe-inline' ${GRAPHIQL_ASSETS}`);
  }
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

// 405 Method Not Allowed with `Allow` (RFC 9110 §15.5.6) for a known path asked with a method it lacks, instead
// of 404. The route table is collected as routes are added (onRoute); the not-found handler asks it.
import type { FastifyInstance } from 'fastify';

interface KnownRoute {
  pattern: RegExp;
  method: string;
}

/** "/v1/models/:id/files/:path" → a regexp over one path (a parameter is one non-empty segment). */
const toPattern = (url: string) => new RegExp(`^${url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}/?$`);

export function collectRoutes(app: FastifyInstance): (path: string) => string[] {
  const routes: KnownRoute[] = [];
  app.addHook('onRoute', (route) => {
    // OPTIONS (CORS preflight) and wildcards answer every path: they say nothing about which methods a path has.
    if (route.url.includes('*')) return;
    for (const method of [route.method].flat()) if (method !== 'OPTIONS') routes.push({ pattern: toPattern(route.url), method });
  });
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
}

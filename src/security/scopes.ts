// Scopes of API keys, each including the ones below it: read < write < admin.
import { AppError } from '../errors.ts';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  keyId: string;
  name: string;
  scope: Scope;
}

export const isScope = (s: unknown): s is Scope => typeof s === 'string' && (SCOPES as readonly string[]).includes(s);

export function hasScope(granted: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(granted) >= SCOPES.indexOf(needed);
}

/** Throws FORBIDDEN when the principal's scope does not cover `needed`. */
export function requireScope(principal: Principal, needed: Scope, what: string) {
  if (!hasScope(principal.scope, needed)) {
    throw new AppError('FORBIDDEN', `${what} needs a key with scope "${needed}"; key ${principal.name} has "${principal.scope}"`, {
      needed,
      granted: principal.scope,
    });
  }
}

/**
 * What a REST request needs, or null when it is open. Only the API surface (/v1, /graphql, /metrics when
 * protected) needs a key: health probes, documentation and the dashboard's static files stay open.
 * GraphQL needs read here; a mutation's write scope is checked once the operation is parsed.
 */
export function requiredScope(method: string, path: string, protectMetrics: boolean): Scope | null {
  if (method === 'OPTIONS') return null; // CORS preflight carries no credentials
  if (path === '/v1/keys' || path.startsWith('/v1/keys/')) return 'admin';
  if (path === '/v1' || path.startsWith('/v1/')) return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  if (path === '/graphql') return 'read';
  if (path === '/metrics') return protectMetrics ? 'read' : null;
  return null;
}
